//! What a [`SharedCache`](super::SharedCache) keeps its entries in: quick_cache's sharded
//! cache, of values with their bytes and expiry ([`Stored`]), or, for a cache whose entries
//! neither expire nor weigh their bytes with instrumentation compiled out, of the values
//! alone, each weighing 1.
//!
//! The bare kind is issue 23's W5: beside a `[u8; 32]` value, the 16 bytes of `Stored`, the
//! byte weigher and the request that keeps what leaves cost some 24 instructions of the
//! 330 an operation, against quick_cache's own 279.

use std::hash::{BuildHasher, Hash};

use quick_cache::sync::GuardResult;
use quick_cache::{Equivalent, Lifecycle, UnitWeighter};

use super::counters::Counters;
use super::stored::{Hooks, Request, Stored, entry_bytes};
use crate::cache::Weigh;
use crate::clock::Nanos;
use crate::heap_size::HeapSize;
use crate::mode::CompiledOut;

/// A store of values with their bytes and expiry.
pub(super) type Full<K, V, S> = quick_cache::sync::Cache<K, Stored<V>, Weigh, S, Hooks>;

/// A store of the values alone.
pub(super) type Bare<K, V, S> = quick_cache::sync::Cache<K, V, UnitWeighter, S, Evictions>;

/// The entries of a cache.
pub(super) enum Store<K, V, S> {
    /// No TTL, no bound in bytes, instrumentation compiled out: nothing to record of an
    /// entry but the entry. Not in builds with instrumentation, where its [`CompiledOut`]
    /// has no value.
    Bare(Bare<K, V, S>, CompiledOut),
    /// Every other cache.
    Full(Full<K, V, S>),
}

impl<K, V, S> Store<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: Clone + HeapSize,
    S: BuildHasher + Clone,
{
    /// The store of a cache with a TTL of `ttl` nanoseconds (0 for none) under the bounds
    /// `weigh`, on quick_cache's `options`.
    pub(super) fn new(
        options: quick_cache::Options,
        weigh: Weigh,
        ttl: Nanos,
        hasher: S,
        hooks: Hooks,
    ) -> Self {
        match crate::mode::compiled_out() {
            Some(off) if ttl == 0 && !weigh.by_bytes() => Store::Bare(
                Bare::with_options(options, UnitWeighter, hasher, Evictions),
                off,
            ),
            _ => Store::Full(Full::with_options(options, weigh, hasher, hooks)),
        }
    }

    /// The store of values with their bytes: every cache's but a bare one's, which has no
    /// expiry records and publishes nothing.
    #[inline]
    pub(super) fn full(&self) -> Option<&Full<K, V, S>> {
        match self {
            Store::Full(cache) => Some(cache),
            Store::Bare(..) => None,
        }
    }

    /// Entries held, expired ones not yet released included.
    pub(super) fn len(&self) -> usize {
        match self {
            Store::Bare(cache, _) => cache.len(),
            Store::Full(cache) => cache.len(),
        }
    }

    /// Whether it holds no entry.
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Store::Bare(cache, _) => cache.is_empty(),
            Store::Full(cache) => cache.is_empty(),
        }
    }

    /// The weight quick_cache holds at most.
    pub(super) fn capacity(&self) -> u64 {
        match self {
            Store::Bare(cache, _) => cache.capacity(),
            Store::Full(cache) => cache.capacity(),
        }
    }

    /// Bytes of quick_cache's slots and tables.
    pub(super) fn memory_used(&self) -> usize {
        match self {
            Store::Bare(cache, _) => cache.memory_used().total(),
            Store::Full(cache) => cache.memory_used().total(),
        }
    }

    /// The sum of the entries' bytes: as measured going in, or, in a bare store, measured
    /// now (its values are only ever cloned out, so what they own is what went in).
    pub(super) fn entries_bytes(&self) -> usize {
        let total = std::cell::Cell::new(0usize);
        match self {
            Store::Bare(cache, _) => cache.retain(|key, value| {
                total.set(total.get() + entry_bytes(key, value) as usize);
                true
            }),
            Store::Full(cache) => cache.retain(|_, stored| {
                total.set(total.get() + stored.bytes as usize);
                true
            }),
        }
        total.get()
    }

    /// Calls `f` with each entry, cloned, and when it expires (`Nanos::MAX` for never).
    pub(super) fn for_each(&self, mut f: impl FnMut(&K, &V, Nanos)) {
        match self {
            Store::Bare(cache, _) => {
                for (key, value) in cache.iter() {
                    f(&key, &value, Nanos::MAX);
                }
            }
            Store::Full(cache) => {
                for (key, stored) in cache.iter() {
                    f(&key, &stored.value, stored.deadline);
                }
            }
        }
    }
}

/// A bare store with the counters its operations count on: only what they did, with
/// nothing to measure, record or publish. Small enough to be inlined where the cache is
/// used.
pub(super) struct Counted<'a, K, V, S> {
    pub(super) cache: &'a Bare<K, V, S>,
    pub(super) counters: &'a Counters,
}

impl<K, V, S> Counted<'_, K, V, S>
where
    K: Eq + Hash,
    V: Clone,
    S: BuildHasher + Clone,
{
    /// The value of `key`, cloned, counted as a hit or a miss.
    #[inline(always)]
    pub(super) fn get<Q>(self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let found = self.cache.get(key);
        let hit = found.is_some();
        self.counters
            .count(|s| if hit { &s.hits } else { &s.misses }, 1);
        found
    }

    /// Inserts `value` under `key`, counting the evictions it caused; what left is dropped
    /// after the lock.
    #[inline(always)]
    pub(super) fn insert(self, key: K, value: V) {
        let mut evicted = Request::default();
        self.cache.insert_with_lifecycle(key, value, &mut evicted);
        evicted.count_on(self.counters);
    }

    /// The value of `key` if another caller made it meanwhile, else `make()` inserted
    /// under it; concurrent callers for one key wait for the first.
    pub(super) fn get_or_make<Q>(self, key: &Q, make: impl FnOnce() -> V) -> V
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
    {
        let guard = match self.cache.get_value_or_guard(key, None) {
            GuardResult::Value(value) => return value,
            GuardResult::Guard(guard) => guard,
            // Only with a timeout, which this does not give.
            GuardResult::Timeout => return make(),
        };
        let value = make();
        let mut evicted = Request::default();
        // Removed by another thread meanwhile: the value is returned, not kept.
        if guard
            .insert_with_lifecycle(value.clone(), &mut evicted)
            .is_ok()
        {
            evicted.count_on(self.counters);
        }
        value
    }

    /// Removes `key`, returning its value if it was there, counted as a removal.
    pub(super) fn remove<Q>(self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let (_, value) = self.cache.remove(key)?;
        self.counters.count(|s| &s.removals, 1);
        Some(value)
    }
}

/// A bare store's hooks: an eviction is counted, and an entry whose drop does something is
/// kept in the [`Request`] to be dropped after the shard's lock, as [`Hooks`] keeps it (the
/// first in place, the rest in a list, so that a single eviction allocates nothing).
#[derive(Clone, Copy)]
pub(super) struct Evictions;

impl<K, V> Lifecycle<K, V> for Evictions {
    type RequestState = Request<K, V>;

    /// Counts an eviction: called before an entry leaves to make room, not before a
    /// replacement.
    #[inline]
    fn before_evict(&self, request: &mut Request<K, V>, _: &K, _: &mut V) {
        request.evictions += 1;
    }

    #[inline]
    fn on_evict(&self, request: &mut Request<K, V>, key: K, value: V) {
        if std::mem::needs_drop::<(K, V)>() {
            request.keep(key, value);
        }
    }
}
