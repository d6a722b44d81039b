//! What the engine stores for an entry: the value alone, or with its expiry record and its
//! bytes; and the weigher that reads the weight it stores.

use std::mem::ManuallyDrop;

use quick_cache::Weighter;

use super::expiry::Position;
use super::weigh::Weigh;
use crate::heap_size::HeapSize;

/// What the cache stores for an entry: its value, and in a TTL cache or one bounded in
/// bytes its expiry record and its bytes.
pub(super) trait Stored: Sized {
    type Value;
    /// Whether entries may hold a slot in the expiry list.
    const HAS_SLOT: bool;
    /// Whether entries keep their bytes, for a bound in bytes. Known per kind of entry, so
    /// that the other kinds compile no weighing at all.
    const WEIGHED: bool;
    /// An entry of `value`, with its expiry record and its `bytes` (0 when not weighed).
    fn new(value: Self::Value, slot: Option<Position>, bytes: u32) -> Self;
    fn value(&self) -> &Self::Value;
    fn value_mut(&mut self) -> &mut Self::Value;
    fn into_value(self) -> Self::Value;
    /// Drops the value: an entry that leaves the cache and is not handed back must come
    /// here, as the stored value is not dropped with the entry (see [`Bare`]).
    #[inline]
    fn release(self) {
        drop(self.into_value());
    }
    fn slot(&self) -> Option<Position>;
    /// The same entry with another expiry record.
    fn with_slot(self, slot: Option<Position>) -> Self;
    /// Its weight under `weigh`.
    fn weight(&self, weigh: Weigh) -> u64;
}

/// An entry of a cache without TTL and without a bound in bytes: just the value.
///
/// The values of every kind of entry are `ManuallyDrop`: the engine drops each one as it
/// leaves the cache ([`Stored::release`]), and what is left when the store is dropped.
/// quick_cache's store thus has no drop glue of its own for entries of keys that have
/// none, and an emptied store of a million entries is freed without a walk over its
/// slots: with `String` values that walk was two thirds of the last operation of a mass
/// expiry (`benches/w2_ttl.rs -- pauses`).
pub(super) struct Bare<V>(ManuallyDrop<V>);

/// An entry of a TTL cache, `Timed<V>`, or of one bounded in bytes, `Timed<V, u32>`.
pub(super) struct Timed<V, B = ()> {
    value: ManuallyDrop<V>,
    slot: Option<Position>,
    /// In a cache bounded in bytes, the entry's bytes, key and value, inline and on the
    /// heap, as it went in (capped at 4 GiB); nothing otherwise, so that a TTL cache's
    /// entries do not grow for a bound they do not have.
    bytes: B,
}

/// What a [`Timed`] entry keeps of its bytes: nothing, or the bytes.
pub(super) trait Bytes: Copy {
    /// Whether the bytes are kept.
    const KEPT: bool;
    fn new(bytes: u32) -> Self;
    fn get(self) -> Option<u32>;
}

impl Bytes for () {
    const KEPT: bool = false;
    #[inline]
    fn new(_: u32) -> Self {}
    #[inline]
    fn get(self) -> Option<u32> {
        None
    }
}

impl Bytes for u32 {
    const KEPT: bool = true;
    #[inline]
    fn new(bytes: u32) -> Self {
        bytes
    }
    #[inline]
    fn get(self) -> Option<u32> {
        Some(self)
    }
}

impl<V> Stored for Bare<V> {
    type Value = V;
    const HAS_SLOT: bool = false;
    const WEIGHED: bool = false;
    #[inline]
    fn new(value: V, _: Option<Position>, _: u32) -> Self {
        Bare(ManuallyDrop::new(value))
    }
    #[inline]
    fn value(&self) -> &V {
        &self.0
    }
    #[inline]
    fn value_mut(&mut self) -> &mut V {
        &mut self.0
    }
    #[inline]
    fn into_value(self) -> V {
        ManuallyDrop::into_inner(self.0)
    }
    #[inline]
    fn slot(&self) -> Option<Position> {
        None
    }
    #[inline]
    fn with_slot(self, _: Option<Position>) -> Self {
        self
    }
    #[inline]
    fn weight(&self, _: Weigh) -> u64 {
        1
    }
}

impl<V, B: Bytes> Stored for Timed<V, B> {
    type Value = V;
    const HAS_SLOT: bool = true;
    const WEIGHED: bool = B::KEPT;
    #[inline]
    fn new(value: V, slot: Option<Position>, bytes: u32) -> Self {
        Timed {
            value: ManuallyDrop::new(value),
            slot,
            bytes: B::new(bytes),
        }
    }
    #[inline]
    fn value(&self) -> &V {
        &self.value
    }
    #[inline]
    fn value_mut(&mut self) -> &mut V {
        &mut self.value
    }
    #[inline]
    fn into_value(self) -> V {
        ManuallyDrop::into_inner(self.value)
    }
    #[inline]
    fn slot(&self) -> Option<Position> {
        self.slot
    }
    #[inline]
    fn with_slot(self, slot: Option<Position>) -> Self {
        Timed { slot, ..self }
    }
    #[inline]
    fn weight(&self, weigh: Weigh) -> u64 {
        match self.bytes.get() {
            Some(bytes) => weigh.weight(u64::from(bytes)),
            None => 1,
        }
    }
}

impl<V> Timed<V, u32> {
    /// Re-weighs the entry after its value changed in place, from `before` to `after`
    /// bytes on the heap.
    pub(super) fn reweigh(&mut self, before: usize, after: usize) {
        let bytes = (self.bytes as usize)
            .saturating_sub(before)
            .saturating_add(after);
        self.bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
    }
}

/// quick_cache's weigher: what the entry says it weighs under the cache's bounds.
#[derive(Clone, Copy)]
pub(super) struct Weights(pub(super) Weigh);

impl<K, W: Stored> Weighter<K, W> for Weights {
    #[inline]
    fn weight(&self, _: &K, stored: &W) -> u64 {
        stored.weight(self.0)
    }
}

/// The bytes an entry weighs: its key and value, inline and on the heap, capped at 4 GiB.
#[inline]
pub(super) fn entry_bytes<K: HeapSize, V: HeapSize>(key: &K, value: &V) -> u32 {
    let bytes = size_of::<(K, V)>() + key.heap_size() + value.heap_size();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}
