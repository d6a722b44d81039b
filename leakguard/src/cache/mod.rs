//! Bounded collections: what `#[scoped_cache(max = .., ttl = ..)]` turns a field into.

mod expiry;
mod ring;
mod set;

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::mem::size_of;
use std::num::NonZeroU32;
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use quick_cache::unsync;
use quick_cache::{Lifecycle, OptionsBuilder, UnitWeighter};

pub use quick_cache::DefaultHashBuilder;
pub use ring::ScopedRing;
pub use set::ScopedSet;

use self::expiry::{Expiry, Slot};
use crate::clock::{Clock, Nanos};
use crate::error::ConfigError;
use crate::heap_size::{Footprint, HeapSize, Measurement};
use crate::tracked::running_heap;

/// A map bounded in entries, in age, or both, that evicts on its own.
///
/// `#[scoped_cache(max = .., ttl = ..)]` turns a `HashMap<K, V, S>` field into one; build one
/// directly with [`ScopedCache::builder`]. Eviction is behaviour, not instrumentation: it
/// works the same whether instrumentation is compiled in or not.
///
/// - `max` bounds the number of entries at every moment. Past it, inserting evicts the entry
///   least worth keeping, chosen by [quick_cache](https://docs.rs/quick_cache)'s
///   CLOCK-Pro-style policy, which keeps frequently used entries over merely recent ones.
/// - `ttl` expires an entry that long after it was written. An expired entry is never
///   returned, and its memory is released as operations go on: each write releases up to
///   eight expired entries, and so does a lookup after one that found nothing or saw entries
///   due. (A lookup releases before it looks, as it returns a borrow, and reads the clock
///   only once it finds an entry.) Once every entry has expired, the storage is released
///   whole within two operations. [`purge_expired`](Self::purge_expired) releases them all
///   at once.
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
    store: Store<K, V, S>,
    lifetime: Lifetime,
    stats: Tally,
    delta: Delta,
    /// Whether the next lookup should release expired entries first: a lookup that returns
    /// a borrow of an entry cannot release any after it, so it leaves the release to the
    /// next operation when it saw an entry due, or read no clock because it found nothing.
    due: bool,
}

/// How long entries live and the clock that times them; shared by the map, set and ring.
#[derive(Clone, Debug)]
pub(crate) struct Lifetime {
    /// 0 when entries do not expire.
    ttl: Nanos,
    clock: Clock,
}

impl Lifetime {
    /// Whether entries expire.
    #[inline]
    pub(crate) fn expires(&self) -> bool {
        self.ttl != 0
    }

    /// How long entries live, if they expire.
    pub(crate) fn ttl(&self) -> Option<Duration> {
        self.expires().then(|| Duration::from_nanos(self.ttl))
    }

    /// The time now and the clock's resolution, from one read of the clock; zeros when
    /// entries do not expire.
    #[inline]
    pub(crate) fn now(&self) -> (Nanos, Nanos) {
        if !self.expires() {
            return (0, 0);
        }
        self.clock.now(self.ttl)
    }

    /// When an entry written at `now`, on a clock of resolution `tick`, expires. Never
    /// late: the clock may lag real time by up to one tick.
    #[inline]
    pub(crate) fn deadline(&self, now: Nanos, tick: Nanos) -> Nanos {
        now.saturating_add(self.ttl).saturating_sub(tick)
    }
}

/// Heap that entries brought in (positive) or took out since the figures last looked;
/// nothing is kept when instrumentation is compiled out.
#[derive(Default)]
pub(crate) struct Delta([isize; crate::ENABLED as usize]);

impl Delta {
    #[inline]
    pub(crate) fn add(&mut self, delta: isize) {
        if let Some(d) = self.0.first_mut() {
            *d += delta;
        }
    }

    /// What was added since the last call.
    pub(crate) fn take(&mut self) -> isize {
        self.0.first_mut().map_or(0, std::mem::take)
    }
}

/// The counters behind [`CacheStats`]; removals follow from the others and the length.
#[derive(Clone, Copy, Default)]
struct Tally {
    hits: u64,
    misses: u64,
    insertions: u64,
    evictions: u64,
    expirations: u64,
}

/// What a scoped cache has done since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found none, or only an expired one.
    pub misses: u64,
    /// Entries added under a new key.
    pub insertions: u64,
    /// Entries evicted to stay within `max`.
    pub evictions: u64,
    /// Entries released because their TTL was up.
    pub expirations: u64,
    /// Entries removed by the caller (`remove`, `retain`, `clear`).
    pub removals: u64,
}

/// Builds a [`ScopedCache`], [`ScopedSet`] or [`ScopedRing`]; see [`ScopedCache::builder`].
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct ScopedCacheBuilder {
    max: Option<usize>,
    ttl: Option<Duration>,
    clock: Option<Clock>,
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// `usize::MAX` when unbounded in entries.
    pub(crate) max: usize,
    pub(crate) lifetime: Lifetime,
}

impl ScopedCacheBuilder {
    /// Bounds the number of entries; evicts past it. At least 1.
    pub fn max(mut self, max: usize) -> Self {
        self.max = Some(max);
        self
    }

    /// Expires entries this long after they were written. Longer than zero.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Takes time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    pub(crate) fn config(self) -> Result<Config, ConfigError> {
        if self.max == Some(0) {
            return Err(ConfigError::ZeroMax);
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTtl);
        }
        if self.max.is_none() && self.ttl.is_none() {
            return Err(ConfigError::Unbounded);
        }
        Ok(Config {
            max: self.max.unwrap_or(usize::MAX),
            lifetime: Lifetime {
                ttl: self.ttl.map_or(0, crate::clock::nanos),
                clock: self.clock.unwrap_or_else(Clock::current),
            },
        })
    }

    /// Builds a map hashing with [`DefaultHashBuilder`].
    pub fn build<K: Eq + Hash + Clone, V>(self) -> Result<ScopedCache<K, V>, ConfigError> {
        self.build_with_hasher()
    }

    /// Builds a map hashing with `S`.
    pub fn build_with_hasher<K, V, S>(self) -> Result<ScopedCache<K, V, S>, ConfigError>
    where
        K: Eq + Hash + Clone,
        S: BuildHasher + Default,
    {
        self.config().map(ScopedCache::with_config)
    }

    /// Builds a set hashing with [`DefaultHashBuilder`].
    pub fn build_set<T: Eq + Hash + Clone>(self) -> Result<ScopedSet<T>, ConfigError> {
        self.build_set_with_hasher()
    }

    /// Builds a set hashing with `S`.
    pub fn build_set_with_hasher<T, S>(self) -> Result<ScopedSet<T, S>, ConfigError>
    where
        T: Eq + Hash + Clone,
        S: BuildHasher + Default,
    {
        self.build_with_hasher().map(ScopedSet::from_cache)
    }

    /// Builds a ring.
    pub fn build_ring<T>(self) -> Result<ScopedRing<T>, ConfigError> {
        self.config().map(ScopedRing::with_config)
    }
}

/// The hooks through which quick_cache reports entries leaving it during an insert.
#[derive(Clone, Copy, Default)]
struct Hooks;

/// Entries that left the cache during one operation.
struct Outcome<K, W> {
    /// Set by `before_evict`, which precedes an eviction but not a replacement.
    evicting: bool,
    /// Entries evicted, whether or not they were kept for release.
    evictions: u64,
    /// The entry an insert replaced.
    replaced: Option<(K, W)>,
    /// Evicted entries that still have something to release; see [`Hooks::on_evict`].
    evicted: Option<(K, W)>,
    more_evicted: Vec<(K, W)>,
}

impl<K, W> Default for Outcome<K, W> {
    fn default() -> Self {
        Self {
            evicting: false,
            evictions: 0,
            replaced: None,
            evicted: None,
            more_evicted: Vec::new(),
        }
    }
}

impl<K, W> Outcome<K, W> {
    fn evicted(self) -> impl Iterator<Item = (K, W)> {
        self.evicted.into_iter().chain(self.more_evicted)
    }
}

impl<K, W: Stored> Lifecycle<K, W> for Hooks {
    type RequestState = Outcome<K, W>;

    #[inline]
    fn before_evict(&self, state: &mut Outcome<K, W>, _key: &K, _value: &mut W) {
        state.evicting = true;
    }

    /// Keeps an evicted entry only if it has an expiry record to remove or heap figures to
    /// take back; otherwise drops it here, as quick_cache's own lifecycle does: a full cache
    /// evicts on nearly every insert, and W1's profile showed each evicted entry carried out
    /// through the outcome and walked for nothing.
    #[inline]
    fn on_evict(&self, state: &mut Outcome<K, W>, key: K, value: W) {
        if std::mem::take(&mut state.evicting) {
            state.evictions += 1;
            if !keeps_evicted::<W>() {
                return;
            }
            if state.evicted.is_none() {
                state.evicted = Some((key, value));
            } else {
                state.more_evicted.push((key, value));
            }
        } else {
            state.replaced = Some((key, value));
        }
    }
}

/// Whether an evicted entry has anything left to release: an expiry record, or its share of
/// the heap figures.
const fn keeps_evicted<W: Stored>() -> bool {
    W::HAS_SLOT || crate::ENABLED
}

/// What the cache stores for an entry: its value, and in a TTL cache its expiry record.
trait Stored: Sized {
    type Value;
    /// Whether entries may hold a slot in the expiry list.
    const HAS_SLOT: bool;
    fn new(value: Self::Value, slot: Option<Slot>) -> Self;
    fn value(&self) -> &Self::Value;
    fn value_mut(&mut self) -> &mut Self::Value;
    fn into_value(self) -> Self::Value;
    fn slot(&self) -> Option<Slot>;
}

/// An entry of a cache without TTL: just the value.
struct Bare<V>(V);

/// An entry of a TTL cache.
struct Timed<V> {
    value: V,
    slot: Option<Slot>,
}

impl<V> Stored for Bare<V> {
    type Value = V;
    const HAS_SLOT: bool = false;
    #[inline]
    fn new(value: V, _: Option<Slot>) -> Self {
        Bare(value)
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
        self.0
    }
    #[inline]
    fn slot(&self) -> Option<Slot> {
        None
    }
}

impl<V> Stored for Timed<V> {
    type Value = V;
    const HAS_SLOT: bool = true;
    #[inline]
    fn new(value: V, slot: Option<Slot>) -> Self {
        Timed { value, slot }
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
        self.value
    }
    #[inline]
    fn slot(&self) -> Option<Slot> {
        self.slot
    }
}

type Qc<K, W, S> = unsync::Cache<K, W, UnitWeighter, S, Hooks>;

/// The entries of one cache: the quick_cache core, and its expiry list if it has a TTL.
struct Core<K, W, S> {
    qc: Qc<K, W, S>,
    /// Allocated with the first entry of a TTL cache.
    expiry: Option<Box<Expiry<K>>>,
}

enum Store<K, V, S> {
    Bare(Core<K, Bare<V>, S>),
    Timed(Core<K, Timed<V>, S>),
}

/// Runs the same code on whichever kind of core the cache has.
macro_rules! with_core {
    ($store:expr, $core:ident => $body:expr) => {
        match $store {
            Store::Bare($core) => $body,
            Store::Timed($core) => $body,
        }
    };
}

/// How many expired entries one operation releases, at most.
const SWEEP: usize = 8;

/// What [`Core::check`] found of an entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Live,
    /// Live, but another entry is due for release.
    LiveWithDue,
    Expired,
}

/// Mirror of quick_cache 0.7's slab entry, for its size: `memory_used` reports the slab by
/// length, and the allocator sees its capacity.
#[allow(dead_code)]
mod mirror {
    use super::*;

    pub(super) struct SlabEntry<T> {
        item: Option<T>,
        next: NonZeroU32,
        prev: NonZeroU32,
    }

    pub(super) enum Entry<K, V> {
        Resident(Resident<K, V>),
        Placeholder(Placeholder<K>),
        Ghost(u64),
    }

    pub(super) struct Resident<K, V> {
        key: K,
        value: V,
        state: State,
        referenced: AtomicU16,
    }

    pub(super) enum State {
        Hot,
        Cold,
    }

    pub(super) struct Placeholder<K> {
        key: K,
        hot: State,
        shared: Shared,
    }

    pub(super) struct Shared {
        hash: u64,
        idx: NonZeroU32,
    }
}

/// Bytes of one quick_cache slab slot holding `(K, W)`.
const fn slab_slot<K, W>() -> usize {
    size_of::<mirror::SlabEntry<mirror::Entry<K, W>>>()
}

/// Heap owned by one entry as it comes in or goes out; 0 when compiled out.
fn entry_heap<K: HeapSize, V: HeapSize>(key: &K, value: &V) -> isize {
    (running_heap(key) + running_heap(value)) as isize
}

/// The capacity a `Vec` reaches when pushed to `len` elements of `size` bytes one by one.
fn pushed_capacity(len: usize, size: usize) -> usize {
    if len == 0 || size == 0 {
        return 0;
    }
    let min = if size == 1 {
        8
    } else if size <= 1024 {
        4
    } else {
        1
    };
    len.next_power_of_two().max(min)
}

impl<K, W: Stored, S> Core<K, W, S> {
    #[inline]
    fn keeps_evicted(&self) -> bool {
        keeps_evicted::<W>()
    }
}

impl<K: Eq + Hash + Clone, W: Stored, S: BuildHasher + Default> Core<K, W, S> {
    fn new(max: usize) -> Self {
        let options = OptionsBuilder::new()
            .estimated_items_capacity(if max == usize::MAX { 0 } else { max })
            .weight_capacity(if max == usize::MAX {
                u64::MAX
            } else {
                max as u64
            })
            .build()
            .expect("both capacities are set");
        Self {
            qc: Qc::with_options(options, UnitWeighter, S::default(), Hooks),
            expiry: None,
        }
    }

    /// Slots in the slab, live or not.
    fn slab_len(&self) -> usize {
        self.qc.memory_used().entries / slab_slot::<K, W>().max(1)
    }

    fn storage_bytes(&self) -> usize {
        let memory = self.qc.memory_used();
        let slab = pushed_capacity(self.slab_len(), slab_slot::<K, W>()) * slab_slot::<K, W>();
        let expiry = self
            .expiry
            .as_ref()
            .map_or(0, |e| size_of::<Expiry<K>>() + e.storage_bytes());
        slab + memory.map + expiry
    }

    /// Whether the entry holding `stored` has expired at `now`.
    #[inline]
    fn expired(expiry: &Option<Box<Expiry<K>>>, stored: &W, now: Nanos) -> bool {
        Self::status(expiry, stored, now) == Check::Expired
    }

    /// What the entry holding `stored` is at `now`.
    #[inline]
    fn status(expiry: &Option<Box<Expiry<K>>>, stored: &W, now: Nanos) -> Check {
        let (Some(slot), Some(expiry)) = (stored.slot(), expiry) else {
            return Check::Live;
        };
        // Deadlines rise in write order, so while the oldest is not due none is, and the
        // entry's own record, a likely cache miss on every hit, need not be read.
        if !expiry.any_due(now) {
            Check::Live
        } else if expiry.deadline(slot).is_some_and(|d| d > now) {
            Check::LiveWithDue
        } else {
            Check::Expired
        }
    }

    /// What `stored`, just found, is now.
    ///
    /// The clock is read here, once an entry is found, and not before the lookup: a miss
    /// needs no time, and reading the clock on every lookup cost W2 a tenth of its speed.
    #[inline]
    fn check(&self, stored: &W, lifetime: &Lifetime) -> Check {
        if stored.slot().is_none() {
            return Check::Live;
        }
        Self::status(&self.expiry, stored, lifetime.now().0)
    }

    /// The live entry for `key`, marking it as used; and whether the next operation should
    /// release expired entries first: some are due, or, after a miss, some may be.
    #[inline]
    fn get<Q>(&self, key: &Q, lifetime: &Lifetime) -> (Option<&W>, bool)
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        match self.qc.get(key) {
            None => (None, W::HAS_SLOT),
            Some(stored) => match self.check(stored, lifetime) {
                Check::Live => (Some(stored), false),
                Check::LiveWithDue => (Some(stored), true),
                Check::Expired => (None, true),
            },
        }
    }

    /// The live entry for `key`, without marking it as used.
    #[inline]
    fn peek<Q>(&self, key: &Q, lifetime: &Lifetime) -> Option<&W>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.qc
            .peek(key)
            .filter(|stored| self.check(stored, lifetime) != Check::Expired)
    }

    /// The live entry for `key` at `now`, without marking it as used.
    #[inline]
    fn peek_at<Q>(&self, key: &Q, now: Nanos) -> Option<&W>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.qc
            .peek(key)
            .filter(|stored| !Self::expired(&self.expiry, stored, now))
    }

    /// Releases what an entry that left the quick_cache core still holds: its expiry
    /// record with the key clone in it, and its share of the figures.
    fn released(&mut self, key: &K, stored: &W, delta: &mut isize)
    where
        K: HeapSize,
        W::Value: HeapSize,
    {
        *delta -= entry_heap(key, stored.value());
        if let (Some(slot), Some(expiry)) = (stored.slot(), self.expiry.as_mut()) {
            if let Some(clone) = expiry.remove(slot) {
                *delta -= running_heap(&clone) as isize;
            }
        }
    }

    /// The bound on entries, `usize::MAX` for none, as [`Core::new`] takes it.
    fn max(&self) -> usize {
        usize::try_from(self.qc.capacity()).unwrap_or(usize::MAX)
    }

    /// A fresh, empty core with the same bound, dropping every entry.
    fn reset(&mut self) {
        *self = Core::new(self.max());
    }

    /// Heap owned by every entry, key clones included; 0 when compiled out.
    fn entries_heap(&self) -> isize
    where
        K: HeapSize,
        W::Value: HeapSize,
    {
        if !crate::ENABLED {
            return 0;
        }
        let entries: isize = self
            .qc
            .iter()
            .map(|(key, stored)| entry_heap(key, stored.value()))
            .sum();
        let clones: usize = self
            .expiry
            .as_ref()
            .map_or(0, |e| e.in_order().map(|(key, _)| running_heap(key)).sum());
        entries + clones as isize
    }
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
        let store = if config.lifetime.expires() {
            Store::Timed(Core::new(config.max))
        } else {
            Store::Bare(Core::new(config.max))
        };
        Self {
            store,
            lifetime: config.lifetime,
            stats: Tally::default(),
            delta: Delta::default(),
            due: false,
        }
    }

    /// The bound on entries, if any.
    pub fn max(&self) -> Option<usize> {
        let max = with_core!(&self.store, core => core.max());
        (max != usize::MAX).then_some(max)
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
        let t = self.stats;
        let out = t.evictions + t.expirations + self.len() as u64;
        CacheStats {
            hits: t.hits,
            misses: t.misses,
            insertions: t.insertions,
            evictions: t.evictions,
            expirations: t.expirations,
            removals: t.insertions.saturating_sub(out),
        }
    }

    /// The time now, 0 when entries do not expire.
    #[inline]
    fn now(&self) -> Nanos {
        self.lifetime.now().0
    }

    /// Heap that entries brought in or took out since the last call.
    pub(crate) fn take_delta(&mut self) -> isize {
        self.delta.take()
    }
}

impl<K, V, S> ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
{
    /// Releases up to [`SWEEP`] expired entries, or every entry at once when all have
    /// expired; shrinks the storage after a mass release.
    #[inline]
    fn sweep(&mut self, now: Nanos) {
        self.due = false;
        let Store::Timed(core) = &self.store else {
            return;
        };
        match core.expiry.as_ref().and_then(|e| e.oldest()) {
            Some((_, _, deadline)) if deadline <= now => self.sweep_slow(now),
            _ => {}
        }
    }

    #[cold]
    #[inline(never)]
    fn sweep_slow(&mut self, now: Nanos) {
        let mut delta = 0;
        let stats = &mut self.stats;
        with_core!(&mut self.store, core => {
            let all_expired = core
                .expiry
                .as_ref()
                .and_then(|e| e.newest_deadline())
                .is_some_and(|d| d <= now);
            if all_expired {
                stats.expirations += core.qc.len() as u64;
                delta -= core.entries_heap();
                core.reset();
            } else {
                for _ in 0..SWEEP {
                    if !Self::expire_oldest(core, now, stats, &mut delta) {
                        break;
                    }
                }
                Self::shrink_if_sparse(core);
            }
        });
        self.delta.add(delta);
    }

    /// Releases the oldest entry if it has expired at `now`; whether it did.
    fn expire_oldest<W: Stored<Value = V>>(
        core: &mut Core<K, W, S>,
        now: Nanos,
        stats: &mut Tally,
        delta: &mut isize,
    ) -> bool {
        let Some(expiry) = core.expiry.as_mut() else {
            return false;
        };
        let Some((slot, key, deadline)) = expiry.oldest() else {
            return false;
        };
        if deadline > now {
            return false;
        }
        match core.qc.remove_if(key, |stored| stored.slot() == Some(slot)) {
            Some((key, stored)) => {
                stats.expirations += 1;
                core.released(&key, &stored, delta);
            }
            None => {
                expiry.remove(slot);
            }
        }
        true
    }

    /// Rebuilds the storage once it has four times more slots than entries, and releases
    /// it once empty, so that a cache drained by expiry or removals gives its memory back.
    /// Write order is kept.
    fn shrink_if_sparse<W: Stored<Value = V>>(core: &mut Core<K, W, S>) {
        if core.qc.is_empty() {
            if core.slab_len() > 0 {
                core.reset();
            }
            return;
        }
        let slots = core.slab_len();
        if slots < 64 || core.qc.len() > slots / 4 {
            return;
        }
        let mut fresh: Core<K, W, S> = Core::new(core.max());
        let mut outcome = Outcome::default();
        match core.expiry.take() {
            Some(mut old) => {
                let mut expiry = Box::new(Expiry::new(old.len().max(1)));
                while let Some((slot, _, deadline)) = old.oldest() {
                    let Some(key) = old.remove(slot) else { break };
                    if let Some((k, stored)) = core.qc.remove(&key) {
                        let slot = expiry.push(key, deadline);
                        fresh.qc.insert_with_lifecycle(
                            k,
                            W::new(stored.into_value(), Some(slot)),
                            &mut outcome,
                        );
                    }
                }
                fresh.expiry = Some(expiry);
            }
            None => {
                for (k, stored) in core.qc.drain() {
                    fresh.qc.insert_with_lifecycle(k, stored, &mut outcome);
                }
            }
        }
        *core = fresh;
    }

    /// Inserts an entry, returning the value it replaced.
    ///
    /// If the cache is full, an entry is evicted to make room. In a TTL cache the entry
    /// expires `ttl` from now, whether it is new or replaces another.
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let (now, tick) = self.lifetime.now();
        self.sweep(now);
        self.insert_at(key, value, now, tick)
    }

    /// Inserts at `now`, read from a clock of resolution `tick`. Both come from the same
    /// read: reading the clock again for the resolution cost about 6% of W2's throughput.
    #[inline]
    fn insert_at(&mut self, key: K, value: V, now: Nanos, tick: Nanos) -> Option<V> {
        let lifetime = &self.lifetime;
        let mut delta = 0;
        let stats = &mut self.stats;
        let replaced = with_core!(&mut self.store, core => {
            let slot = lifetime.expires().then(|| {
                let max = core.max();
                let expiry = core
                    .expiry
                    .get_or_insert_with(|| Box::new(Expiry::new(max)));
                let clone = key.clone();
                delta += running_heap(&clone) as isize;
                expiry.push(clone, lifetime.deadline(now, tick))
            });
            delta += entry_heap(&key, &value);
            let mut outcome = Outcome::default();
            core.qc.insert_with_lifecycle(key, Stored::new(value, slot), &mut outcome);
            let replaced = outcome.replaced.take();
            stats.evictions += outcome.evictions;
            if core.keeps_evicted() {
                for (key, stored) in outcome.evicted() {
                    core.released(&key, &stored, &mut delta);
                }
            }
            match replaced {
                // An expired entry is never returned, not even as the one replaced.
                Some((key, old)) if Core::<K, _, S>::expired(&core.expiry, &old, now) => {
                    core.released(&key, &old, &mut delta);
                    stats.expirations += 1;
                    stats.insertions += 1;
                    None
                }
                Some((key, old)) => {
                    core.released(&key, &old, &mut delta);
                    Some(old.into_value())
                }
                None => {
                    stats.insertions += 1;
                    None
                }
            }
        });
        self.delta.add(delta);
        replaced
    }

    /// The live value for `key`, counted as a use: hits keep entries in the cache.
    #[inline]
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.prepare();
        self.lookup(key)
    }

    /// The live value for `key`, counted as a use; releases nothing.
    #[inline]
    pub(crate) fn lookup<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let lifetime = &self.lifetime;
        let (found, due) = with_core!(&self.store, core => {
            let (found, due) = core.get(key, lifetime);
            (found.map(Stored::value), due)
        });
        self.due |= due;
        if found.is_some() {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
        found
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
        let mut delta = 0;
        let stats = &mut self.stats;
        let removed = with_core!(&mut self.store, core => {
            let removed = core.qc.remove(key).and_then(|(key, stored)| {
                let expired = Core::<K, _, S>::expired(&core.expiry, &stored, now);
                core.released(&key, &stored, &mut delta);
                if expired {
                    stats.expirations += 1;
                    None
                } else {
                    Some(stored.into_value())
                }
            });
            Self::shrink_if_sparse(core);
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
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
            // A ghost of the key (an entry evicted lately) would be re-admitted by the
            // insert and may be evicted again before the insert returns; an expired entry
            // is due anyway. Removing either first makes the new entry stay.
            let mut delta = 0;
            let stats = &mut self.stats;
            with_core!(&mut self.store, core => {
                if let Some((key, stored)) = core.qc.remove(key) {
                    core.released(&key, &stored, &mut delta);
                    stats.expirations += 1;
                }
            });
            self.delta.add(delta);
            self.insert_at(key.clone(), make(), now, tick);
        }
        now
    }

    /// The entry [`ensure`](Self::ensure) made sure of at `now`.
    pub(crate) fn live(&self, key: &K, now: Nanos) -> &V {
        with_core!(&self.store, core => core.peek_at(key, now).map(Stored::value))
            .expect("the entry was live, or inserted, at this same time")
    }

    /// Releases what an earlier lookup left due, before a lookup, which itself releases
    /// nothing.
    #[inline]
    pub(crate) fn prepare(&mut self) {
        if self.due {
            let now = self.now();
            self.sweep(now);
        }
    }

    /// Removes every entry and releases the storage.
    pub fn clear(&mut self) {
        let delta = with_core!(&mut self.store, core => {
            let heap = core.entries_heap();
            core.reset();
            -heap
        });
        self.delta.add(delta);
    }

    /// Keeps the live entries for which `keep` returns `true`; releases expired ones.
    pub fn retain<F: FnMut(&K, &V) -> bool>(&mut self, mut keep: F) {
        let now = self.now();
        let mut delta = 0;
        let stats = &mut self.stats;
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
                    if expired {
                        stats.expirations += 1;
                    }
                }
            }
            Self::shrink_if_sparse(core);
        });
        self.delta.add(delta);
    }

    /// Releases every expired entry now, returning how many there were.
    pub fn purge_expired(&mut self) -> usize {
        let now = self.now();
        let mut delta = 0;
        let mut purged = 0;
        let stats = &mut self.stats;
        with_core!(&mut self.store, core => {
            while Self::expire_oldest(core, now, stats, &mut delta) {
                purged += 1;
            }
            Self::shrink_if_sparse(core);
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
            Store::Timed(core) => Either::Right(
                core.qc
                    .iter()
                    .filter(move |(_, stored)| {
                        !Core::<K, _, S>::expired(&core.expiry, *stored, now)
                    })
                    .map(|(k, stored)| (k, stored.value())),
            ),
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

/// A live value of a [`ScopedCache`], borrowed mutably; see [`ScopedCache::get_mut`].
pub struct ValueMut<'a, K, V, S>(EntryMut<'a, K, V, S>);

/// quick_cache's guard over one stored entry, of either kind of core.
enum EntryMut<'a, K, V, S> {
    Bare(unsync::RefMut<'a, K, Bare<V>, UnitWeighter, S, Hooks>),
    Timed(unsync::RefMut<'a, K, Timed<V>, UnitWeighter, S, Hooks>),
}

impl<K, V, S> std::ops::Deref for ValueMut<'_, K, V, S> {
    type Target = V;

    fn deref(&self) -> &V {
        match &self.0 {
            EntryMut::Bare(r) => r.value(),
            EntryMut::Timed(r) => r.value(),
        }
    }
}

impl<K, V, S> std::ops::DerefMut for ValueMut<'_, K, V, S> {
    fn deref_mut(&mut self) -> &mut V {
        match &mut self.0 {
            EntryMut::Bare(r) => r.value_mut(),
            EntryMut::Timed(r) => r.value_mut(),
        }
    }
}

impl<K, V: fmt::Debug, S> fmt::Debug for ValueMut<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// One of two iterators.
enum Either<A, B> {
    Left(A),
    Right(B),
}

impl<A: Iterator, B: Iterator<Item = A::Item>> Iterator for Either<A, B> {
    type Item = A::Item;

    #[inline]
    fn next(&mut self) -> Option<A::Item> {
        match self {
            Either::Left(a) => a.next(),
            Either::Right(b) => b.next(),
        }
    }
}

impl<K, V, S> HeapSize for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
{
    fn heap_size(&self) -> usize {
        self.heap_size_in(&mut Measurement::new())
    }

    /// The storage, every entry's heap, and in a TTL cache the key clones of its expiry
    /// list; expired entries still held are included.
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        with_core!(&self.store, core => {
            let entries: usize = core
                .qc
                .iter()
                .map(|(k, stored)| k.heap_size_in(m) + stored.value().heap_size_in(m))
                .sum();
            let keys = core.expiry.as_ref().map_or(0, |e| e.keys_heap(m));
            core.storage_bytes() + entries + keys
        })
    }

    fn footprint(&self) -> Option<Footprint> {
        with_core!(&self.store, core => Some(Footprint {
            len: core.qc.len(),
            capacity: pushed_capacity(core.slab_len(), slab_slot::<K, Timed<V>>()).max(core.qc.len()),
            storage_bytes: core.storage_bytes(),
        }))
    }
}

impl<K, V, S> fmt::Debug for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize + fmt::Debug,
    V: HeapSize + fmt::Debug,
    S: BuildHasher + Default,
{
    /// Formats the live entries as a map, like `HashMap` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S> PartialEq for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize + PartialEq,
    S: BuildHasher + Default,
{
    /// Equal when both hold the same live entries, whatever their recency or expiry.
    fn eq(&self, other: &Self) -> bool {
        let mut len = 0;
        let all_found = self.iter().all(|(k, v)| {
            len += 1;
            other.peek(k) == Some(v)
        });
        all_found && other.iter().count() == len
    }
}

impl<K, V, S> Eq for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize + Eq,
    S: BuildHasher + Default,
{
}
