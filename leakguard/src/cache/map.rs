//! The map face of a scoped cache: what `#[scoped_cache]` turns a `HashMap` into.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use super::DefaultHashBuilder;
use super::engine::{Core, Either, Store, Write, with_core};
use super::options::{Config, Lifetime, ScopedCacheBuilder};
use super::stats::{CacheStats, Counters, Delta};
use super::stored::Stored;
use super::value_mut::{EntryMut, ValueMut};
use crate::clock::Nanos;
use crate::heap_size::{HeapChange, HeapSize};

/// A map bounded in entries, in bytes, in age, or several, that evicts on its own.
///
/// `#[scoped_cache(max = .., ttl = ..)]` turns a `HashMap<K, V, S>` field into one; build one
/// directly with [`ScopedCache::builder`]. Eviction is behaviour, not instrumentation: it
/// works the same whether instrumentation is compiled in or not.
///
/// - `max` bounds the number of entries at every moment. Past it, inserting evicts the entry
///   least worth keeping, chosen by [quick_cache](https://docs.rs/quick_cache)'s
///   CLOCK-Pro-style policy, which keeps frequently used entries over merely recent ones.
/// - `max_bytes` bounds the bytes of the entries, keys and values, inline and on the heap
///   as [`HeapSize`] measures them going in; see [`ScopedCacheBuilder::max_bytes`].
/// - `ttl` expires an entry that long after it was written. An expired entry is never
///   returned, and its memory is released as operations go on: each write releases a
///   bounded share of the expired entries (a 512th of the store, eight at the least), and
///   so does a lookup after one that found nothing or saw entries due. (A lookup releases
///   before it looks, as it returns a borrow, and reads the clock only once it finds an
///   entry.) When every entry has expired and the store holds no more than 16,384, it is
///   released whole at once; a larger store whose entries all expired is back to its
///   baseline within about 512 operations, the last of which drops the emptied storage.
///   [`purge_expired`](Self::purge_expired) releases them all at once.
///
/// There is no background thread and no preallocation: an empty cache is a few hundred
/// bytes, so a struct with a cache field can be created per request.
///
/// ```
/// use std::time::Duration;
/// use leakguard::ScopedCache;
///
/// let mut sessions: ScopedCache<String, u64> = ScopedCache::builder()
///     .max(2)
///     .ttl(Duration::from_secs(30 * 60))
///     .build()
///     .unwrap();
/// sessions.insert("ada".to_string(), 1);
/// sessions.insert("bob".to_string(), 2);
/// sessions.insert("eve".to_string(), 3);
/// assert_eq!(sessions.len(), 2);
/// assert_eq!(sessions.stats().evictions, 1);
/// ```
pub struct ScopedCache<K, V, S = DefaultHashBuilder> {
    pub(super) store: Store<K, V, S>,
    lifetime: Lifetime,
    counters: Counters,
    delta: Delta,
    /// Whether the next lookup should release expired entries first: a lookup that returns
    /// a borrow of an entry cannot release any after it, so it leaves the release to the
    /// next operation when it saw an entry due, or read no clock because it found nothing.
    due: bool,
}

impl ScopedCache<(), ()> {
    /// A builder for a cache, set or ring; the element types come from what it builds.
    ///
    /// ```
    /// use leakguard::{ScopedCache, ScopedRing};
    ///
    /// let cache: ScopedCache<String, u32> = ScopedCache::builder().max(100).build().unwrap();
    /// let ring: ScopedRing<u8> = ScopedCache::builder().max(16).build_ring().unwrap();
    /// ```
    pub fn builder() -> ScopedCacheBuilder {
        ScopedCacheBuilder::default()
    }
}

impl<K, V, S> ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    pub(crate) fn with_config(config: Config) -> Self {
        // Entries with a weight or an expiry record are `Timed`; the rest, bare values.
        let weigh = config.weigh();
        let store = if weigh.by_bytes() {
            Store::Weighed(Core::new(weigh))
        } else if config.lifetime.expires() {
            Store::Timed(Core::new(weigh))
        } else {
            Store::Bare(Core::new(weigh))
        };
        Self {
            store,
            lifetime: config.lifetime,
            counters: Counters::default(),
            delta: Delta::default(),
            due: false,
        }
    }

    /// The bound on entries, if any.
    pub fn max(&self) -> Option<usize> {
        let max = with_core!(&self.store, core => core.max());
        (max != usize::MAX).then_some(max)
    }

    /// The bound on the bytes of the entries, if any; see
    /// [`ScopedCacheBuilder::max_bytes`].
    pub fn max_bytes(&self) -> Option<usize> {
        let max_bytes = with_core!(&self.store, core => core.weigh.max_bytes);
        (max_bytes != 0).then_some(max_bytes as usize)
    }

    /// How long entries live, if they expire.
    pub fn ttl(&self) -> Option<Duration> {
        self.lifetime.ttl()
    }

    /// Entries held, including expired ones not yet released.
    pub fn len(&self) -> usize {
        with_core!(&self.store, core => core.qc.len())
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries held whose TTL is up but whose memory is not yet released.
    pub fn expired_len(&self) -> usize {
        let now = self.now();
        with_core!(&self.store, core => core.expiry.as_ref().map_or(0, |e| e.expired(now)))
    }

    /// What the cache has done since it was created.
    pub fn stats(&self) -> CacheStats {
        self.counters.stats(self.len())
    }

    /// The time now, 0 when entries do not expire.
    #[inline]
    fn now(&self) -> Nanos {
        self.lifetime.now().0
    }

    /// Heap that entries brought in or took out since the last call.
    pub(crate) fn take_delta(&mut self) -> HeapChange {
        self.delta.take()
    }
}

impl<K, V, S> ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
{
    /// Releases up to eight expired entries, or every entry at once when all have expired.
    #[inline]
    fn sweep(&mut self, now: Nanos) {
        self.due = false;
        if !matches!(self.store, Store::Bare(_)) {
            self.sweep_timed(now);
        }
    }

    /// [`sweep`](Self::sweep) for a store whose entries may expire.
    #[inline(never)]
    fn sweep_timed(&mut self, now: Nanos) {
        let mut delta = HeapChange::default();
        let counters = &mut self.counters;
        with_core!(&mut self.store, core => {
            if core
                .expiry
                .as_ref()
                .and_then(|e| e.oldest())
                .is_some_and(|(_, _, d)| d <= now)
            {
                core.sweep(now, counters, &mut delta);
            }
        });
        self.delta.add(delta);
    }

    /// Inserts an entry, returning the value it replaced.
    ///
    /// If the cache is full, an entry is evicted to make room. In a TTL cache the entry
    /// expires `ttl` from now, whether it is new or replaces another.
    #[inline(always)]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        // Entries that neither expire nor weigh their bytes: no clock, nothing to sweep,
        // and only the code of that kind of entry inlined where the cache is used (W1's
        // profile: the three kinds' code together were not inlined, and the call and the
        // dispatch cost a tenth of quick_cache's time per operation).
        if let Store::Bare(core) = &mut self.store {
            self.due = false;
            let mut delta = HeapChange::default();
            let at = Write {
                lifetime: &self.lifetime,
                now: 0,
                tick: 0,
                keep: false,
            };
            let replaced = core.insert_entry(key, value, at, &mut self.counters, &mut delta);
            self.delta.add(delta);
            return replaced;
        }
        self.insert_timed(key, value)
    }

    /// [`insert`](Self::insert) into a store whose entries expire or are weighed.
    #[inline(never)]
    fn insert_timed(&mut self, key: K, value: V) -> Option<V> {
        let (now, tick) = self.lifetime.now();
        self.sweep(now);
        self.insert_at(key, value, now, tick, false)
    }

    /// Inserts at `now`, read from a clock of resolution `tick`. Both come from the same
    /// read: reading the clock again for the resolution cost about 6% of W2's throughput.
    /// With `keep`, an entry heavier than the bound in bytes weighs what the cache can
    /// admit, so that it stays, alone, until the next insert.
    fn insert_at(&mut self, key: K, value: V, now: Nanos, tick: Nanos, keep: bool) -> Option<V> {
        let at = Write {
            lifetime: &self.lifetime,
            now,
            tick,
            keep,
        };
        let mut delta = HeapChange::default();
        let stats = &mut self.counters;
        let replaced = with_core!(&mut self.store, core => {
            core.insert_entry(key, value, at, stats, &mut delta)
        });
        self.delta.add(delta);
        replaced
    }

    /// The live value for `key`, counted as a use: hits keep entries in the cache.
    #[inline(always)]
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.prepare();
        self.lookup(key)
    }

    /// The live value for `key`, counted as a use; releases nothing.
    #[inline(always)]
    pub(crate) fn lookup<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let (found, due) = match &self.store {
            // A bare entry is live as found, and leaves nothing due.
            Store::Bare(core) => (core.qc.get(key).map(Stored::value), false),
            store => Self::lookup_timed(store, key, &self.lifetime),
        };
        self.due |= due;
        if found.is_some() {
            self.counters.hits += 1;
        } else {
            self.counters.misses += 1;
        }
        found
    }

    /// [`lookup`](Self::lookup) in a store whose entries expire or are weighed: the entry
    /// found, and whether expired entries are due.
    #[inline(never)]
    fn lookup_timed<'a, Q>(
        store: &'a Store<K, V, S>,
        key: &Q,
        lifetime: &Lifetime,
    ) -> (Option<&'a V>, bool)
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        with_core!(store, core => {
            let (found, due) = core.get(key, lifetime);
            (found.map(Stored::value), due)
        })
    }

    /// The live value for `key`, mutably, counted as a use.
    ///
    /// The guard dereferences to the value: `*cache.get_mut(&key)? += 1`.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<ValueMut<'_, K, V, S>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.prepare();
        self.lookup_mut(key)
    }

    /// The live value for `key`, mutably, counted as a use; releases nothing.
    pub(crate) fn lookup_mut<Q>(&mut self, key: &Q) -> Option<ValueMut<'_, K, V, S>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.lookup(key)?;
        match &mut self.store {
            Store::Bare(core) => core.qc.peek_mut(key).map(|r| ValueMut(EntryMut::Bare(r))),
            Store::Timed(core) => core.qc.peek_mut(key).map(|r| ValueMut(EntryMut::Timed(r))),
            Store::Weighed(core) => core.qc.peek_mut(key).map(|r| {
                let before = r.value().heap_size();
                ValueMut(EntryMut::Weighed(r, before, V::heap_size))
            }),
        }
    }

    /// The live value for `key`, marked as used for eviction but not counted in the stats.
    pub(crate) fn get_shared<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        with_core!(&self.store, core => core.get(key, &self.lifetime).0.map(Stored::value))
    }

    /// The live value for `key`, without counting a use.
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        with_core!(&self.store, core => core.peek(key, &self.lifetime).map(Stored::value))
    }

    /// Whether a live entry exists for `key`; not counted as a use.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.peek(key).is_some()
    }

    /// Removes the entry for `key`, returning its value if it was live.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let now = self.now();
        self.sweep(now);
        let mut delta = HeapChange::default();
        let stats = &mut self.counters;
        let removed = with_core!(&mut self.store, core => {
            let removed = core.qc.remove(key).and_then(|(key, stored)| {
                let expired = Core::<K, _, S>::expired(&core.expiry, &stored, now);
                core.released(&key, &stored, &mut delta);
                if expired {
                    stored.release();
                    stats.expirations += 1;
                    None
                } else {
                    Some(stored.into_value())
                }
            });
            core.shrink_if_sparse();
            removed
        });
        self.delta.add(delta);
        removed
    }

    /// The live value for `key`, inserting `make()` first if there is none.
    pub fn get_or_insert_with<F: FnOnce() -> V>(&mut self, key: K, make: F) -> &V {
        let now = self.ensure(&key, make);
        self.live(&key, now)
    }

    /// Makes sure a live entry for `key` exists, counting a hit or a miss; the time used.
    pub(crate) fn ensure<F: FnOnce() -> V>(&mut self, key: &K, make: F) -> Nanos {
        let (now, tick) = self.lifetime.now();
        self.sweep(now);
        let live = with_core!(&self.store, core => core.qc.get(key).is_some_and(|stored| {
            !Core::<K, _, S>::expired(&core.expiry, stored, now)
        }));
        if live {
            self.counters.hits += 1;
        } else {
            self.counters.misses += 1;
            // A ghost of the key (an entry evicted lately) would be re-admitted by the
            // insert and may be evicted again before the insert returns; an expired entry
            // is due anyway. Removing either first makes the new entry stay.
            let mut delta = HeapChange::default();
            let stats = &mut self.counters;
            with_core!(&mut self.store, core => {
                if let Some((key, stored)) = core.qc.remove(key) {
                    core.released(&key, &stored, &mut delta);
                    stored.release();
                    stats.expirations += 1;
                }
            });
            self.delta.add(delta);
            self.insert_at(key.clone(), make(), now, tick, true);
        }
        now
    }

    /// The entry [`ensure`](Self::ensure) made sure of at `now`.
    pub(crate) fn live(&self, key: &K, now: Nanos) -> &V {
        with_core!(&self.store, core => core.peek_at(key, now).map(Stored::value))
            .expect("the entry was live, or inserted, at this same time")
    }

    /// Whether the next lookup releases expired entries first.
    #[inline]
    pub(crate) fn is_due(&self) -> bool {
        self.due
    }

    /// Releases what an earlier lookup left due, before a lookup, which itself releases
    /// nothing.
    #[inline(always)]
    pub(crate) fn prepare(&mut self) {
        if self.due {
            self.release_due();
        }
    }

    #[cold]
    #[inline(never)]
    fn release_due(&mut self) {
        let now = self.now();
        self.sweep(now);
    }

    /// Removes every entry and releases the storage.
    pub fn clear(&mut self) {
        let heap = with_core!(&mut self.store, core => {
            let heap = core.entries_heap();
            core.reset();
            heap
        });
        self.delta.lose(heap);
    }

    /// Keeps the live entries for which `keep` returns `true`; releases expired ones.
    pub fn retain<F: FnMut(&K, &V) -> bool>(&mut self, mut keep: F) {
        let now = self.now();
        let mut delta = HeapChange::default();
        let stats = &mut self.counters;
        with_core!(&mut self.store, core => {
            let doomed: Vec<(K, bool)> = core
                .qc
                .iter()
                .filter_map(|(key, stored)| {
                    let expired = Core::<K, _, S>::expired(&core.expiry, stored, now);
                    (expired || !keep(key, stored.value())).then(|| (key.clone(), expired))
                })
                .collect();
            for (key, expired) in doomed {
                if let Some((key, stored)) = core.qc.remove(&key) {
                    core.released(&key, &stored, &mut delta);
                    stored.release();
                    if expired {
                        stats.expirations += 1;
                    }
                }
            }
            core.shrink_if_sparse();
        });
        self.delta.add(delta);
    }

    /// Releases every expired entry now, returning how many there were.
    pub fn purge_expired(&mut self) -> usize {
        let now = self.now();
        let mut delta = HeapChange::default();
        let mut purged = 0;
        let stats = &mut self.counters;
        with_core!(&mut self.store, core => {
            while core.expire_oldest(now, stats, &mut delta) {
                purged += 1;
            }
            core.shrink_if_sparse();
        });
        self.delta.add(delta);
        purged
    }

    /// The live entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        let now = self.now();
        match &self.store {
            Store::Bare(core) => {
                Either::Left(core.qc.iter().map(|(k, stored)| (k, stored.value())))
            }
            Store::Timed(core) => Either::Right(Either::Left(core.live_at(now))),
            Store::Weighed(core) => Either::Right(Either::Right(core.live_at(now))),
        }
    }

    /// The live keys, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// The live values, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }
}
