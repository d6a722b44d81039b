//! [`SharedCache`]: a concurrent bounded cache, `&self` everywhere, for state shared between
//! threads and tasks. Built on quick_cache's sharded `sync::Cache`; bounded in entries, in
//! bytes, in age, and accounted like every tracked collection.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use quick_cache::{Equivalent, Lifecycle, Weighter};

use super::accounting::{self, Instrument};

mod builder;
mod counters;
mod field;

use self::counters::Counters;
use crate::cache::{CacheStats, DefaultHashBuilder, Weigh};
use crate::clock::{Clock, Nanos};
use crate::harness;
use crate::heap_size::{Footprint, HeapSize, HeapUsage, Measurement, running_heap};
use crate::meta::FieldMeta;
pub use builder::SharedCacheBuilder;
pub use field::SharedField;

/// A stored value, with what it weighs and when it expires.
#[derive(Clone)]
struct Stored<V> {
    value: V,
    /// The entry's bytes, key and value, inline and on the heap: measured once, going in.
    bytes: usize,
    /// When it expires; `Nanos::MAX` for never.
    deadline: Nanos,
}

impl<K, V> Weighter<K, Stored<V>> for Weigh {
    #[inline]
    fn weight(&self, _: &K, stored: &Stored<V>) -> u64 {
        Weigh::weight(*self, stored.bytes as u64)
    }
}

/// quick_cache's eviction hooks: an entry leaving to make room, or replaced by an insert
/// under its key, told apart by `before_evict`, which quick_cache calls before an eviction
/// and not before a replacement.
#[derive(Clone)]
struct Hooks {
    counters: Arc<Counters>,
}

/// Whether the entry quick_cache is about to hand over is evicted.
#[derive(Default)]
struct Request {
    evicting: bool,
}

impl<K, V> Lifecycle<K, Stored<V>> for Hooks {
    type RequestState = Request;

    #[inline]
    fn before_evict(&self, request: &mut Request, _: &K, _: &mut Stored<V>) {
        request.evicting = true;
    }

    #[inline]
    fn on_evict(&self, request: &mut Request, _: K, stored: Stored<V>) {
        let stripe = self.counters.mine();
        if crate::mode::ENABLED {
            stripe.bytes.fetch_sub(stored.bytes as isize, Relaxed);
        }
        if std::mem::take(&mut request.evicting) {
            stripe.evictions.fetch_add(1, Relaxed);
        }
    }
}

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
    cache: quick_cache::sync::Cache<K, Stored<V>, Weigh, S, Hooks>,
    counters: Arc<Counters>,
    ttl: Nanos,
    clock: Clock,
    /// When expired entries were last released; `Nanos::MAX` while one thread releases them.
    swept: AtomicU64,
    max: usize,
    max_bytes: usize,
    accounting: Instrument,
}

/// Expired entries are released every half TTL, and no more often than this.
const SWEEP_EVERY_AT_LEAST: Nanos = 10_000_000;

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
        SharedCache {
            cache: quick_cache::sync::Cache::with_options(options, weigh, hasher, hooks),
            counters,
            ttl,
            clock,
            swept: AtomicU64::new(0),
            max,
            max_bytes,
            accounting: accounting::empty(meta),
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
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let now = self.now();
        let found = match self.cache.get(key) {
            Some(stored) if stored.deadline > now => Some(stored.value),
            Some(stored) => {
                self.expire(key, stored.deadline);
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
        let n = counter.fetch_add(1, Relaxed);
        self.settle(now, Some(n), None);
        found
    }

    /// Inserts `value` under `key`, replacing what was there; evicts to stay within the
    /// bounds.
    #[track_caller]
    pub fn insert(&self, key: K, value: V) {
        let now = self.now();
        let stored = self.stored(&key, value, now);
        let bytes = stored.bytes as isize;
        self.cache
            .insert_with_lifecycle(key, stored, &mut Request::default());
        let n = self.inserted(bytes);
        self.settle(now, n, Some(Location::caller()));
    }

    /// Counts an insert of `bytes` once it is done, after the evictions it caused were
    /// taken off, so that the sum errs low for a moment rather than high; the `n`th insert
    /// on this thread's stripe. Compiled out, nothing is counted: stats derive insertions
    /// from where entries went, and [`bytes`](Self::bytes) measures.
    #[inline]
    fn inserted(&self, bytes: isize) -> Option<u64> {
        if !crate::mode::ENABLED {
            return None;
        }
        let stripe = self.counters.mine();
        stripe.bytes.fetch_add(bytes, Relaxed);
        Some(stripe.insertions.fetch_add(1, Relaxed))
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
        let now = self.now();
        let inserted = std::cell::Cell::new(None);
        let made = self
            .cache
            .get_or_insert_with(key, || {
                let owned = key.to_owned();
                let stored = self.stored(&owned, make(), now);
                inserted.set(Some(stored.bytes as isize));
                Ok::<_, std::convert::Infallible>(stored)
            })
            .map(|stored| stored.value);
        if let Some(bytes) = inserted.get() {
            let n = self.inserted(bytes);
            self.settle(now, n, Some(Location::caller()));
        }
        match made {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// Removes `key`, returning its value if it was there and had not expired.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let now = self.now();
        let stripe = self.counters.mine();
        let mut n = None;
        let removed = self.cache.remove(key).and_then(|(_, stored)| {
            if crate::mode::ENABLED {
                stripe.bytes.fetch_sub(stored.bytes as isize, Relaxed);
            }
            let live = stored.deadline > now;
            let counter = if live {
                &stripe.removals
            } else {
                &stripe.expirations
            };
            n = Some(counter.fetch_add(1, Relaxed));
            live.then_some(stored.value)
        });
        self.settle(now, n, None);
        removed
    }

    /// Entries held, expired ones not yet released included.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Bytes of the entries held: keys and values, inline and on the heap, as measured
    /// going in. From running figures; with instrumentation compiled out, by a pass over
    /// the entries.
    pub fn bytes(&self) -> usize {
        if crate::mode::ENABLED {
            return self.counters.bytes();
        }
        let total = std::cell::Cell::new(0usize);
        self.cache.retain(|_, stored| {
            total.set(total.get() + stored.bytes);
            true
        });
        total.get()
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
        for (key, stored) in self.cache.iter() {
            if stored.deadline > now {
                f(&key, &stored.value);
            }
        }
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
            insertions: evictions + expirations + removals + self.cache.len() as u64,
            evictions,
            expirations,
            removals,
        }
    }

    /// What the entries own on the heap: their bytes less what they hold inline, which the
    /// storage counts.
    fn entries_heap(&self) -> usize {
        let inline = self.cache.len() * (size_of::<K>() + size_of::<V>());
        self.bytes().saturating_sub(inline)
    }

    /// The entry to store for `key` and `value`, measured once.
    fn stored(&self, key: &K, value: V, now: Nanos) -> Stored<V> {
        let bytes = size_of::<K>() + size_of::<V>() + measured(key).bytes + measured(&value).bytes;
        let deadline = if self.ttl == 0 {
            Nanos::MAX
        } else {
            now.saturating_add(self.ttl)
        };
        Stored {
            value,
            bytes,
            deadline,
        }
    }

    /// Releases the expired entry of `key` written with `deadline`.
    #[cold]
    fn expire<Q>(&self, key: &Q, deadline: Nanos)
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        if let Some((_, stored)) = self.cache.remove_if(key, |s| s.deadline == deadline) {
            if crate::mode::ENABLED {
                self.counters
                    .mine()
                    .bytes
                    .fetch_sub(stored.bytes as isize, Relaxed);
            }
            self.counters.mine().expirations.fetch_add(1, Relaxed);
        }
    }

    /// After an operation, the `n`th of its kind on this thread's stripe if it changed
    /// anything: releases expired entries every half TTL, and publishes the figures every
    /// 64 operations of a kind (at every one under a test check).
    #[inline]
    fn settle(&self, now: Nanos, n: Option<u64>, grown_at: Option<&'static Location<'static>>) {
        if self.ttl != 0 {
            let swept = self.swept.load(Relaxed);
            if now.saturating_sub(swept) >= (self.ttl / 2).max(SWEEP_EVERY_AT_LEAST) {
                self.sweep(swept, now);
            }
        }
        let Some(n) = n else { return };
        if crate::mode::ENABLED && (n % 64 == 0 || harness::active()) {
            self.publish(grown_at);
        }
    }

    /// Releases every expired entry, one shard at a time; skipped if another thread does.
    /// The memory the cache keeps for expiry is one timestamp: nothing grows with inserts.
    #[cold]
    fn sweep(&self, swept: Nanos, now: Nanos) {
        if self
            .swept
            .compare_exchange(swept, Nanos::MAX, Relaxed, Relaxed)
            .is_err()
        {
            return;
        }
        // Stored back however the sweep ends, so that a panicking `Drop` of a released
        // value does not stop expiry for good.
        struct Swept<'a>(&'a AtomicU64, Nanos);
        impl Drop for Swept<'_> {
            fn drop(&mut self) {
                self.0.store(self.1, Relaxed);
            }
        }
        let _swept = Swept(&self.swept, now);
        let counters = &self.counters;
        self.cache.retain(|_, stored| {
            let live = stored.deadline > now;
            if !live {
                if crate::mode::ENABLED {
                    counters
                        .mine()
                        .bytes
                        .fetch_sub(stored.bytes as isize, Relaxed);
                }
                counters.mine().expirations.fetch_add(1, Relaxed);
            }
            live
        });
    }

    /// Publishes the figures to the registry, registering the cache once it holds memory;
    /// `grown_at` is the line of the insert that published, if one did.
    #[cold]
    fn publish(&self, grown_at: Option<&'static Location<'static>>) {
        let Some(accounting) = self.accounting.first() else {
            return;
        };
        let memory = self.cache.memory_used();
        let footprint = Footprint {
            len: self.cache.len(),
            capacity: self.cache.capacity() as usize,
            storage_bytes: memory.total(),
        };
        accounting.walked(HeapUsage::used(self.entries_heap()));
        accounting.refresh(Some(footprint), grown_at);
    }
}

/// What `value` owns on the heap, measured once; nothing when compiled out.
fn measured<T: HeapSize>(value: &T) -> HeapUsage {
    if crate::mode::ENABLED {
        running_heap(value)
    } else {
        value.heap_usage_in(&mut Measurement::new())
    }
}

impl<K, V, S> HeapSize for SharedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: Clone + HeapSize,
    S: BuildHasher + Clone + Default,
{
    /// The cache's storage and what its entries own on the heap, as measured going in.
    fn heap_size(&self) -> usize {
        self.cache.memory_used().total() + self.entries_heap()
    }

    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.cache.len(),
            capacity: self.cache.capacity() as usize,
            storage_bytes: self.cache.memory_used().total(),
        })
    }
}

impl<K, V, S> fmt::Debug for SharedCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCache")
            .field("max", &self.max)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}
