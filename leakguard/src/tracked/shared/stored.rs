//! What the shared cache keeps in quick_cache for each entry, and the hooks through which
//! quick_cache hands back the entries that leave, to be dropped after its locks.

use std::sync::Arc;

use quick_cache::{Lifecycle, Weighter};

use super::counters::Counters;
use super::timeline::Record;
use crate::cache::{Position, Weigh};
use crate::clock::Nanos;
use crate::heap_size::{HeapSize, HeapUsage, Measurement, running_heap};

/// A stored value, with what it weighs and when it expires: 16 bytes beside the value.
#[derive(Clone)]
pub(super) struct Stored<V> {
    pub(super) value: V,
    /// The entry's bytes, key and value, inline and on the heap: measured once, going in,
    /// and capped at 4 GiB.
    pub(super) bytes: u32,
    /// The slot of its expiry record, with a TTL.
    pub(super) slot: Option<Position>,
    /// When it expires; `Nanos::MAX` for never.
    pub(super) deadline: Nanos,
}

impl<V: HeapSize> Stored<V> {
    /// The entry to store for `key` and `value`, measured once, to expire never.
    #[inline]
    pub(super) fn new<K: HeapSize>(key: &K, value: V) -> Self {
        Stored {
            bytes: entry_bytes(key, &value),
            value,
            slot: None,
            deadline: Nanos::MAX,
        }
    }
}

/// The bytes of the entry of `key` and `value`, inline and on the heap, capped at 4 GiB.
#[inline]
pub(super) fn entry_bytes<K: HeapSize, V: HeapSize>(key: &K, value: &V) -> u32 {
    let bytes = size_of::<K>() + size_of::<V>() + measured(key).bytes + measured(value).bytes;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// What `value` owns on the heap, measured once; nothing when compiled out.
fn measured<T: HeapSize>(value: &T) -> HeapUsage {
    if crate::mode::ENABLED {
        running_heap(value)
    } else {
        value.heap_usage_in(&mut Measurement::new())
    }
}

impl<V> Stored<V> {
    /// Its expiry record, with a TTL.
    #[inline]
    pub(super) fn record(&self) -> Option<Record> {
        let slot = self.slot?;
        Some(Record {
            slot,
            deadline: self.deadline,
        })
    }

    /// Its bytes, signed for the running figures.
    #[inline]
    pub(super) fn signed_bytes(&self) -> isize {
        self.bytes as isize
    }
}

impl<K, V> Weighter<K, Stored<V>> for Weigh {
    #[inline]
    fn weight(&self, _: &K, stored: &Stored<V>) -> u64 {
        Weigh::weight(*self, u64::from(stored.bytes))
    }
}

/// quick_cache's eviction hooks: an entry leaving to make room, or replaced by an insert
/// under its key, told apart by `before_evict`, which quick_cache calls before an eviction
/// and not before a replacement.
#[derive(Clone)]
pub(super) struct Hooks {
    pub(super) counters: Arc<Counters>,
}

/// What one operation hands back of the entries that left the cache, to be dropped with the
/// request once quick_cache has released the shard lock: a value's `Drop` may use the
/// cache, and a slow one would stall its shard. quick_cache's own lifecycle does the same
/// for two entries and drops any more under the lock; this keeps them all. An entry that
/// needs no drop and carries no expiry record is not kept: there is nothing to do with it
/// after the lock, and moving it out of the shard would cost every eviction.
///
/// `E` is the entry quick_cache holds: a [`Stored`] value, or, in a bare store, the value
/// alone.
pub(super) struct Request<K, E> {
    /// Entries evicted to stay within the bounds (not replaced), counted by
    /// `before_evict`, which quick_cache calls before an eviction and not before a
    /// replacement; added to the stripe once the request is done, none under the lock.
    pub(super) evictions: u64,
    /// The place of the stripe of the thread making the request, when instrumented: the
    /// hook takes the bytes of what leaves off there without looking the thread up.
    pub(super) stripe: Option<usize>,
    pub(super) left: Option<(K, E)>,
    pub(super) more_left: Vec<(K, E)>,
}

impl<K, E> Default for Request<K, E> {
    #[inline]
    fn default() -> Self {
        Request {
            evictions: 0,
            stripe: None,
            left: None,
            more_left: Vec::new(),
        }
    }
}

impl<K, V> Request<K, Stored<V>> {
    /// The expiry records of the entries that left.
    pub(super) fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.left
            .iter()
            .chain(&self.more_left)
            .filter_map(|(_, stored)| stored.record())
    }

    /// Whether an entry that left must be kept until the lock is released: its drop does
    /// something, or it has an expiry record to free.
    #[inline]
    fn keeps(stored: &Stored<V>) -> bool {
        std::mem::needs_drop::<(K, V)>() || stored.slot.is_some()
    }
}

impl<K, V> Lifecycle<K, Stored<V>> for Hooks {
    type RequestState = Request<K, Stored<V>>;

    /// Counts an eviction: the entry about to be handed over leaves to make room, and its
    /// weight does not change here, so `on_evict` follows.
    #[inline]
    fn before_evict(&self, request: &mut Request<K, Stored<V>>, _: &K, _: &mut Stored<V>) {
        request.evictions += 1;
    }

    /// Takes the entry's bytes off at once, under the shard lock, so that the running sum
    /// never reads more than the cache holds; keeps the entry if it needs to be. Small
    /// enough to be inlined into quick_cache's eviction loop: what is rare is out of line.
    #[inline]
    fn on_evict(&self, request: &mut Request<K, Stored<V>>, key: K, stored: Stored<V>) {
        if crate::mode::ENABLED {
            let bytes = -stored.signed_bytes();
            match request.stripe {
                Some(place) => self.counters.at(place).add_bytes(bytes),
                None => self.take_off(bytes),
            }
        }
        if Request::<K, Stored<V>>::keeps(&stored) {
            request.keep(key, stored);
        }
    }
}

impl Hooks {
    /// Takes `bytes` off the calling thread's stripe, for a request made without one.
    #[cold]
    #[inline(never)]
    fn take_off(&self, bytes: isize) {
        self.counters.mine().add_bytes(bytes);
    }
}

impl<K, E> Request<K, E> {
    /// Counts the request's evictions, if any, on the calling thread's stripe of
    /// `counters`, then drops what it kept: what a request that records and publishes
    /// nothing does once the lock is released.
    #[inline]
    pub(super) fn count_on(self, counters: &Counters) {
        if self.evictions > 0 {
            counters.count(|s| &s.evictions, self.evictions);
        }
    }

    /// Keeps an entry that left, to be handled once the lock is released.
    #[inline(never)]
    pub(super) fn keep(&mut self, key: K, entry: E) {
        if self.left.is_none() {
            self.left = Some((key, entry));
        } else {
            self.more_left.push((key, entry));
        }
    }
}
