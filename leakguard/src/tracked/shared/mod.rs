//! [`SharedCache`]: a concurrent bounded cache, `&self` everywhere, for state shared between
//! threads and tasks. Built on quick_cache's sharded `sync::Cache`; bounded in entries, in
//! bytes, in age, and accounted like every tracked collection.

use std::hash::{BuildHasher, Hash};
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};

use quick_cache::Equivalent;
use quick_cache::sync::GuardResult;

use super::accounting::{self, Instrument};

mod builder;
mod counters;
mod field;
mod impls;
mod store;
mod stored;
#[cfg(test)]
mod tests;
mod timeline;

use self::counters::{Counters, Mine};
use self::store::{Bare, Counted, Full, Store};
use self::stored::{Hooks, Request, Stored};
use self::timeline::{Record, Timelines};
use crate::cache::{CacheStats, DefaultHashBuilder, Weigh};
use crate::clock::{Clock, Nanos};
use crate::harness;
use crate::heap_size::{HeapSize, HeapUsage};
use crate::meta::FieldMeta;
pub use builder::SharedCacheBuilder;
pub use field::SharedField;

/// A concurrent bounded cache: `get`, `insert` and `remove` take `&self`, so one is shared
/// through `Arc`, a `static` or an axum `State` without a lock around it.
///
/// Bounded by `max` entries, `max_bytes` bytes (an entry weighs its key and value, inline
/// and on the heap, measured once as it goes in), or both, exactly: quick_cache splits the
/// bound across its shards, and leakguard sizes them so that their sum never exceeds it.
/// With a TTL, expired entries are never returned and are released as operations go on,
/// without a thread. Accounted and reported like every tracked collection, under the name
/// given to the builder or the field.
///
/// ```
/// use std::time::Duration;
///
/// use leakguard::SharedCache;
///
/// let sessions: SharedCache<String, u64> = SharedCache::builder()
///     .name("sessions")
///     .max(10_000)
///     .ttl(Duration::from_secs(300))
///     .build()?;
/// sessions.insert("token".to_string(), 7);
/// assert_eq!(sessions.get("token"), Some(7));
/// # Ok::<(), leakguard::ConfigError>(())
/// ```
pub struct SharedCache<K, V, S = DefaultHashBuilder> {
    store: Store<K, V, S>,
    counters: Arc<Counters>,
    ttl: Nanos,
    clock: Clock,
    /// The expiry records, with a TTL.
    /// Made with the first entry, so that an empty cache stays small.
    timelines: OnceLock<Timelines<K>>,
    max: usize,
    max_bytes: usize,
    /// What the footprint gives as capacity: in entries under `max`, in bytes under
    /// `max_bytes` alone; fixed, and kept so that publishing takes no shard's lock for it.
    capacity: usize,
    accounting: Instrument,
    /// How many times the figures were published, for the tests of when they are.
    #[cfg(test)]
    publications: std::sync::atomic::AtomicUsize,
}

impl SharedCache<(), ()> {
    /// A builder; the key and value types come from what it builds.
    ///
    /// ```
    /// use leakguard::SharedCache;
    ///
    /// let cache: SharedCache<String, u32> = SharedCache::builder().max(100).build().unwrap();
    /// ```
    pub fn builder() -> SharedCacheBuilder {
        SharedCacheBuilder::default()
    }
}

impl<K, V, S> SharedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: Clone + HeapSize,
    S: BuildHasher + Clone + Default,
{
    fn new(
        max: usize,
        max_bytes: usize,
        ttl: Nanos,
        clock: Clock,
        meta: &'static FieldMeta,
    ) -> Self {
        let counters = Arc::new(Counters::default());
        let hasher = S::default();
        let weigh = Weigh {
            max: max as u64,
            max_bytes: max_bytes as u64,
        };
        // quick_cache gives each shard ceil(capacity / shards): a capacity that is a
        // multiple of the shard count keeps the sum within the bound.
        let capacity = weigh.capacity();
        let items = weigh.estimated_items();
        let mut shards = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 4)
            .next_power_of_two() as u64;
        while shards > 1 && (items as u64).div_ceil(shards) < 32 {
            shards /= 2;
        }
        while shards > 1 && capacity / shards == 0 {
            shards /= 2;
        }
        let options = quick_cache::OptionsBuilder::new()
            .shards(shards as usize)
            .estimated_items_capacity(items)
            .weight_capacity(capacity / shards * shards)
            .build()
            .expect("a capacity and an estimate");
        let hooks = Hooks {
            counters: counters.clone(),
        };
        let store = Store::new(options, weigh, ttl, hasher, hooks);
        SharedCache {
            capacity: (store.capacity() / weigh.units()) as usize,
            store,
            counters,
            ttl,
            clock,
            timelines: OnceLock::new(),
            max,
            max_bytes,
            accounting: accounting::empty(meta),
            #[cfg(test)]
            publications: Default::default(),
        }
    }

    /// The bare store `cache`, with this cache's counters.
    #[inline(always)]
    fn counted<'a>(&'a self, cache: &'a Bare<K, V, S>) -> Counted<'a, K, V, S> {
        Counted {
            cache,
            counters: &self.counters,
        }
    }

    /// The time now, if entries expire.
    #[inline]
    fn now(&self) -> Nanos {
        if self.ttl == 0 {
            return 0;
        }
        self.clock.now(self.ttl).0
    }

    /// The value of `key`, cloned, if it is there and has not expired.
    #[inline(always)]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let cache = match &self.store {
            Store::Bare(cache, _) => return self.counted(cache).get(key),
            Store::Full(cache) => cache,
        };
        if self.ttl != 0 {
            return self.get_expiring(cache, key);
        }
        // Without a TTL nothing expires and nothing is due, and a lookup publishes nothing
        // but under a test check: a lookup and its count, small enough to be inlined where
        // it is called.
        let found = cache.get(key).map(|stored| stored.value);
        let hit = found.is_some();
        self.counters
            .count(|s| if hit { &s.hits } else { &s.misses }, 1);
        if crate::mode::ENABLED && harness::active() {
            self.publish(self.counters.mine(), None);
        }
        found
    }

    /// [`get`](Self::get) with a TTL: checks the deadline, and settles.
    #[inline(never)]
    fn get_expiring<Q>(&self, cache: &Full<K, V, S>, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let now = self.now();
        let found = match cache.get(key) {
            Some(stored) if stored.deadline > now => Some(stored.value),
            Some(stored) => {
                self.expire(cache, key, stored.deadline);
                None
            }
            None => None,
        };
        let stripe = self.counters.mine();
        let counter = if found.is_some() {
            &stripe.hits
        } else {
            &stripe.misses
        };
        stripe.add(counter, 1);
        self.settle(stripe, now, None, None);
        found
    }

    /// Inserts `value` under `key`, replacing what was there; evicts to stay within the
    /// bounds.
    #[inline(always)]
    #[track_caller]
    pub fn insert(&self, key: K, value: V) {
        let cache = match &self.store {
            Store::Bare(cache, _) => return self.counted(cache).insert(key, value),
            Store::Full(cache) => cache,
        };
        if self.ttl != 0 || crate::mode::ENABLED {
            return self.insert_settled(cache, key, value);
        }
        // Compiled out and without a TTL, only the evictions are counted, and on this
        // thread's stripe only if there are any: no running bytes, nothing to publish, and
        // nothing due. Small enough to be inlined where it is called.
        let stored = Stored::new(&key, value);
        let mut request = Request::default();
        cache.insert_with_lifecycle(key, stored, &mut request);
        // What left holds no expiry record: dropping the request, after the lock, is all.
        request.count_on(&self.counters);
    }

    /// [`insert`](Self::insert) with a TTL or instrumentation, which settle after it.
    #[inline(never)]
    #[track_caller]
    fn insert_settled(&self, cache: &Full<K, V, S>, key: K, value: V) {
        let stored = Stored::new(&key, value);
        if self.ttl != 0 {
            return self.insert_expiring(cache, key, stored);
        }
        self.insert_stored(cache, key, stored, 0, 0);
    }

    /// [`insert`](Self::insert) with a TTL: gives the entry its deadline and its expiry
    /// record. Apart, so that without a TTL the entry's address is never taken and it goes
    /// to quick_cache without a copy.
    #[inline(never)]
    #[track_caller]
    fn insert_expiring(&self, cache: &Full<K, V, S>, key: K, mut stored: Stored<V>) {
        let now = self.now();
        let shard = self.expiring(cache, &key, &mut stored, now);
        self.insert_stored(cache, key, stored, shard, now);
    }

    /// Inserts the entry `stored` of `key`, on `shard` at `now`, and counts it.
    #[inline]
    #[track_caller]
    fn insert_stored(
        &self,
        cache: &Full<K, V, S>,
        key: K,
        stored: Stored<V>,
        shard: usize,
        now: Nanos,
    ) {
        let bytes = stored.signed_bytes();
        let stripe = self.counters.mine();
        let mut request = Self::request_on(stripe);
        cache.insert_with_lifecycle(key, stored, &mut request);
        self.inserted(stripe, shard, now, bytes, &mut request);
    }

    /// A request whose evictions an eviction hook counts on `stripe`.
    #[inline]
    fn request_on(stripe: Mine<'_>) -> Request<K, Stored<V>> {
        Request {
            stripe: crate::mode::ENABLED.then(|| stripe.place()),
            ..Request::default()
        }
    }

    /// Frees the expiry records of the entries that left the cache during a request on
    /// `shard`, then drops them: after every lock, as a `Drop` may use the cache. Taken by
    /// reference, so that the request is not moved; it is left empty.
    #[inline]
    fn finish(&self, shard: usize, request: &mut Request<K, Stored<V>>) {
        if request.left.is_none() {
            // Nothing kept: nothing more either, as the first goes to `left`.
            return;
        }
        if let Some(timelines) = self.timelines.get() {
            for record in request.records() {
                drop(timelines.free(shard, record));
            }
        }
        request.left = None;
        request.more_left = Vec::new();
    }

    /// Counts an insert of `bytes` once it is done: the evictions it caused, and its bytes,
    /// added after the evicted entries' were taken off, so that the sum errs low for a
    /// moment rather than high. Stats derive insertions from where entries went; compiled
    /// out, [`bytes`](Self::bytes) measures.
    ///
    /// Then frees what the insert pushed out ([`finish`](Self::finish)) and settles, as
    /// the caller's insert.
    #[inline]
    #[track_caller]
    fn inserted(
        &self,
        stripe: Mine<'_>,
        shard: usize,
        now: Nanos,
        bytes: isize,
        request: &mut Request<K, Stored<V>>,
    ) {
        if request.evictions > 0 {
            stripe.add(&stripe.evictions, request.evictions);
        }
        if crate::mode::ENABLED {
            stripe.add_bytes(bytes);
        }
        self.finish(shard, request);
        self.settle(stripe, now, Some(stripe.insert()), Some(Location::caller()));
    }

    /// The value of `key`, or `make()` inserted under it; concurrent callers for one key
    /// wait for the first to make it.
    #[track_caller]
    pub fn get_or_insert_with<Q>(&self, key: &Q, make: impl FnOnce() -> V) -> V
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(value) = self.get(key) {
            return value;
        }
        let cache = match &self.store {
            Store::Bare(cache, _) => return self.counted(cache).get_or_make(key, make),
            Store::Full(cache) => cache,
        };
        let guard = match cache.get_value_or_guard(key, None) {
            GuardResult::Value(stored) => return stored.value,
            GuardResult::Guard(guard) => guard,
            // Only with a timeout, which this does not give.
            GuardResult::Timeout => return make(),
        };
        let value = make();
        let now = self.now();
        let owned = key.to_owned();
        let mut stored = Stored::new(&owned, value.clone());
        let shard = self.expiring(cache, &owned, &mut stored, now);
        let bytes = stored.signed_bytes();
        let stripe = self.counters.mine();
        let mut request = Self::request_on(stripe);
        match guard.insert_with_lifecycle(stored, &mut request) {
            Ok(()) => self.inserted(stripe, shard, now, bytes, &mut request),
            // Removed by another thread meanwhile: the value is returned, not kept.
            Err(stored) => {
                request.keep(owned, stored);
                self.finish(shard, &mut request);
            }
        }
        value
    }

    /// Removes `key`, returning its value if it was there and had not expired.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let cache = match &self.store {
            Store::Bare(cache, _) => return self.counted(cache).remove(key),
            Store::Full(cache) => cache,
        };
        let now = self.now();
        let stripe = self.counters.mine();
        let mut n = None;
        let removed = cache.remove(key).and_then(|(key, stored)| {
            if crate::mode::ENABLED {
                stripe.add_bytes(-stored.signed_bytes());
            }
            self.free(cache, &key, stored.record());
            let live = stored.deadline > now;
            let counter = if live {
                &stripe.removals
            } else {
                &stripe.expirations
            };
            n = Some(stripe.add(counter, 1));
            live.then_some(stored.value)
        });
        self.settle(stripe, now, n, None);
        removed
    }

    /// Frees the expiry record of the entry of `key` that left the cache.
    fn free(&self, cache: &Full<K, V, S>, key: &K, record: Option<Record>) {
        if let (Some(timelines), Some(record)) = (self.timelines.get(), record) {
            drop(timelines.free(cache.shard_index(key), record));
        }
    }

    /// Entries held, expired ones not yet released included.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The bound in entries, if any.
    pub fn max(&self) -> Option<usize> {
        (self.max != 0).then_some(self.max)
    }

    /// The bound in bytes, if any.
    pub fn max_bytes(&self) -> Option<usize> {
        (self.max_bytes != 0).then_some(self.max_bytes)
    }

    /// Calls `f` with each live entry, cloned.
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        let now = self.now();
        self.store.for_each(|key, value, deadline| {
            if deadline > now {
                f(key, value);
            }
        });
    }

    /// What the cache has done since it was built: hits, misses, and evictions by cause
    /// (`evictions` to stay within the bounds, `expirations`, `removals`).
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let evictions = c.sum(|s| &s.evictions);
        let expirations = c.sum(|s| &s.expirations);
        let removals = c.sum(|s| &s.removals);
        CacheStats {
            hits: c.sum(|s| &s.hits),
            misses: c.sum(|s| &s.misses),
            // Every entry of a new key is still held or left one of these ways: counting
            // where entries went costs an insert nothing.
            insertions: evictions + expirations + removals + self.store.len() as u64,
            evictions,
            expirations,
            removals,
        }
    }

    /// Gives `stored`, the entry of `key`, its deadline and its expiry record if the cache
    /// has a TTL; the shard it goes to (0 without a TTL, where no one asks). The entry is
    /// changed in place: returned from here, its 40-odd bytes would be copied once more on
    /// every insert.
    #[inline]
    fn expiring(
        &self,
        cache: &Full<K, V, S>,
        key: &K,
        stored: &mut Stored<V>,
        now: Nanos,
    ) -> usize {
        if self.ttl == 0 {
            return 0;
        }
        self.record(cache, key, stored, now)
    }

    /// [`expiring`](Self::expiring) with a TTL.
    #[inline(never)]
    fn record(&self, cache: &Full<K, V, S>, key: &K, stored: &mut Stored<V>, now: Nanos) -> usize {
        let timelines = self.timelines.get_or_init(|| {
            let shards = cache.num_shards();
            let per_shard = match self.max {
                0 => usize::MAX,
                max => max.div_ceil(shards),
            };
            Timelines::new(shards, per_shard)
        });
        let shard = cache.shard_index(key);
        stored.deadline = now.saturating_add(self.ttl);
        stored.slot = Some(timelines.push(shard, key.clone(), stored.deadline));
        shard
    }

    /// Releases the expired entry of `key` written with `deadline`.
    #[cold]
    fn expire<Q>(&self, cache: &Full<K, V, S>, key: &Q, deadline: Nanos)
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        if let Some((key, stored)) = cache.remove_if(key, |s| s.deadline == deadline) {
            self.free(cache, &key, stored.record());
            let stripe = self.counters.mine();
            if crate::mode::ENABLED {
                stripe.add_bytes(-stored.signed_bytes());
            }
            stripe.add(&stripe.expirations, 1);
        }
    }

    /// After an operation on this thread's `stripe`, the `n`th of its kind there if it
    /// changed anything: releases expired entries of one shard, each shard in turn, if some
    /// are due; and publishes the figures every 64 operations of a kind if the stripe's
    /// bytes moved since it last did (at every operation under a test check).
    ///
    /// A lookup publishes nothing, nor does an insert that replaced an entry of its size,
    /// as a full cache's inserts do: publishing walks every shard's lock twice.
    #[inline]
    fn settle(
        &self,
        stripe: Mine<'_>,
        now: Nanos,
        n: Option<u64>,
        grown_at: Option<&'static Location<'static>>,
    ) {
        // `now` is 0 without a TTL, and nothing is ever due at 0 (a deadline is at least
        // the TTL): an insert, which knows it has no TTL, skips the expiry records unread.
        if now != 0 {
            if let Some(timelines) = self.timelines.get() {
                let shard = timelines.shard(stripe.turn());
                if timelines.due(shard, now) && !timeline::releasing() {
                    self.sweep(timelines, shard, now);
                }
            }
        }
        if !crate::mode::ENABLED {
            return;
        }
        let cadence = n.is_some_and(|n| n % 64 == 0) && stripe.moved();
        if cadence || harness::active() {
            self.publish(stripe, grown_at);
        }
    }

    /// Releases the expired entries of `shard`, a bounded share of the cache (see
    /// [`Timelines::sweep`]); skipped if another thread is releasing them. The entries are
    /// dropped after every lock is released.
    #[cold]
    #[inline(never)]
    fn sweep(&self, timelines: &Timelines<K>, shard: usize, now: Nanos) {
        // Expiry records are made only in a store of values with their deadlines.
        let Some(cache) = self.store.full() else {
            return;
        };
        let Some(released) = timelines.sweep(shard, now, |key, record| {
            cache.remove_if(key, |stored| stored.record() == Some(record))
        }) else {
            return;
        };
        let stripe = self.counters.mine();
        for (_, stored) in &released.entries {
            if crate::mode::ENABLED {
                stripe.add_bytes(-stored.signed_bytes());
            }
            stripe.add(&stripe.expirations, 1);
        }
        released.drop_all();
    }

    /// Publishes the figures to the registry, registering the cache once it holds memory;
    /// `grown_at` is the line of the insert that published, if one did. Marks `stripe`'s
    /// bytes as published.
    #[cold]
    #[inline(never)]
    fn publish(&self, stripe: Mine<'_>, grown_at: Option<&'static Location<'static>>) {
        let Some(accounting) = self.accounting.first() else {
            return;
        };
        stripe.mark.store(stripe.bytes.load(Relaxed), Relaxed);
        #[cfg(test)]
        self.publications.fetch_add(1, Relaxed);
        let footprint = self.footprint();
        let len = footprint.map_or(0, |f| f.len);
        accounting.walked(HeapUsage::used(self.entries_heap(len)));
        accounting.refresh(footprint, grown_at);
    }
}
