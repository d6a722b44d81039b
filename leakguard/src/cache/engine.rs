//! The engine of the map and the set: quick_cache's unsync cache for the entries and their
//! eviction, and the write-ordered expiry list of a TTL cache beside it. It knows nothing of
//! the faces built on it, nor of the figures tracked fields keep: it reports the heap that
//! entries take in and out as a signed delta.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::mem::size_of;

use quick_cache::unsync;
use quick_cache::{Lifecycle, OptionsBuilder};

use super::expiry::Expiry;
use super::options::Lifetime;
use super::stats::Counters;
use super::stored::{Bare, Stored, Timed, Weights, entry_bytes};
use super::weigh::Weigh;
use crate::clock::Nanos;
use crate::heap_size::layout::{pushed_capacity, slab_slot};
use crate::heap_size::{HeapChange, HeapSize, HeapUsage, running_heap};

/// The hooks through which quick_cache reports entries leaving it during an insert.
#[derive(Clone, Copy, Default)]
pub(super) struct Hooks;

/// Entries that left the cache during one operation; those not taken are released with it.
pub(super) struct Outcome<K, W: Stored> {
    /// Set by `before_evict`, which precedes an eviction but not a replacement.
    evicting: bool,
    /// Entries evicted, whether or not they were kept for release.
    pub(super) evictions: u64,
    /// The entry an insert replaced.
    pub(super) replaced: Option<(K, W)>,
    /// Evicted entries that still have something to release; see [`Hooks::on_evict`].
    evicted: Option<(K, W)>,
    more_evicted: Vec<(K, W)>,
}

impl<K, W: Stored> Default for Outcome<K, W> {
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

impl<K, W: Stored> Outcome<K, W> {
    /// The evicted entries kept for release.
    pub(super) fn take_evicted(&mut self) -> impl Iterator<Item = (K, W)> + '_ {
        self.evicted
            .take()
            .into_iter()
            .chain(self.more_evicted.drain(..))
    }
}

impl<K, W: Stored> Drop for Outcome<K, W> {
    #[inline]
    fn drop(&mut self) {
        if std::mem::needs_drop::<W::Value>() {
            let replaced = self.replaced.take();
            for (_, stored) in replaced.into_iter().chain(self.take_evicted()) {
                stored.release();
            }
        }
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
                value.release();
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
    W::HAS_SLOT || crate::mode::ENABLED
}

pub(super) type Qc<K, W, S> = unsync::Cache<K, W, Weights, S, Hooks>;

/// The entries of one cache: the quick_cache core, and its expiry list if it has a TTL.
pub(super) struct Core<K, W, S> {
    pub(super) qc: Qc<K, W, S>,
    /// Releases the values still held, as the store is dropped; set where the bounds that
    /// takes are known, which a `Drop` impl cannot require.
    release_all: fn(&mut Qc<K, W, S>),
    /// Allocated with the first entry of a TTL cache.
    pub(super) expiry: Option<Box<Expiry<K>>>,
    /// Its bounds.
    pub(super) weigh: Weigh,
}

pub(super) enum Store<K, V, S> {
    Bare(Core<K, Bare<V>, S>),
    Timed(Core<K, Timed<V>, S>),
    /// Bounded in bytes, with or without a TTL.
    Weighed(Core<K, Timed<V, u32>, S>),
}

/// Runs the same code on whichever kind of core the cache has.
macro_rules! with_core {
    ($store:expr, $core:ident => $body:expr) => {
        match $store {
            Store::Bare($core) => $body,
            Store::Timed($core) => $body,
            Store::Weighed($core) => $body,
        }
    };
}
pub(super) use with_core;

/// How many expired entries one operation releases at the least, when that many are due.
pub(super) const SWEEP: usize = 8;

/// How many expired entries one operation may release in a store of `slots` slots: a
/// 512th of them, so that a store whose entries have all expired is empty within 512
/// operations, whatever its size, and no operation frees more than a bounded share (some
/// 2,000 entries of a million, 0.4 to 0.7 ms on a 2-core machine: `benches/w2_ttl.rs`).
pub(crate) fn sweep_budget(slots: usize) -> usize {
    (slots / 512).max(SWEEP)
}

/// Most entries one operation moves or drops in one go: a sparse store is rebuilt around
/// its live entries, and a store whose entries all expired is dropped whole, only up to
/// this many (a few tenths of a millisecond); beyond, the store keeps its size until fewer
/// are left.
pub(crate) const MAX_REBUILD: usize = 16_384;

/// Drops the values of the entries `qc` still holds; nothing to walk when it is empty.
fn release_all<K: Eq + Hash, W: Stored, S: BuildHasher>(qc: &mut Qc<K, W, S>) {
    if std::mem::needs_drop::<W::Value>() && !qc.is_empty() {
        for (_, stored) in qc.drain() {
            stored.release();
        }
    }
}

impl<K, W, S> Drop for Core<K, W, S> {
    fn drop(&mut self) {
        (self.release_all)(&mut self.qc);
    }
}

/// What [`Core::liveness`] found of an entry.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Liveness {
    Live,
    /// Live, but another entry is due for release.
    LiveWithDue,
    Expired,
}

/// Heap owned by one entry as it comes in or goes out; 0 when compiled out.
pub(super) fn entry_heap<K: HeapSize, V: HeapSize>(key: &K, value: &V) -> HeapUsage {
    running_heap(key) + running_heap(value)
}

impl<K, W: Stored, S> Core<K, W, S> {
    #[inline]
    pub(super) fn keeps_evicted(&self) -> bool {
        keeps_evicted::<W>()
    }

    /// Whether entries are weighed by their bytes: a constant `false` for the kinds of
    /// entry that keep no bytes, so that their inserts compile no weighing.
    #[inline]
    pub(super) fn by_bytes(&self) -> bool {
        W::WEIGHED && self.weigh.by_bytes()
    }

    /// Whether entries get an expiry record under `lifetime`: a constant `false` for bare
    /// entries.
    #[inline]
    pub(super) fn expires(&self, lifetime: &Lifetime) -> bool {
        W::HAS_SLOT && lifetime.expires()
    }
}

impl<K: Eq + Hash + Clone, W: Stored, S: BuildHasher + Default> Core<K, W, S> {
    pub(super) fn new(weigh: Weigh) -> Self {
        // quick_cache sizes its record of evicted keys from the estimate.
        let options = OptionsBuilder::new()
            .estimated_items_capacity(weigh.estimated_items())
            .weight_capacity(weigh.capacity())
            .build()
            .expect("both capacities are set");
        Self {
            qc: Qc::with_options(options, Weights(weigh), S::default(), Hooks),
            release_all: release_all::<K, W, S>,
            expiry: None,
            weigh,
        }
    }

    /// Slots in the slab, live or not.
    pub(super) fn slab_len(&self) -> usize {
        self.qc.memory_used().entries / slab_slot::<K, W>().max(1)
    }

    pub(super) fn storage_bytes(&self) -> usize {
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
    pub(super) fn expired(expiry: &Option<Box<Expiry<K>>>, stored: &W, now: Nanos) -> bool {
        Self::status(expiry, stored, now) == Liveness::Expired
    }

    /// The entries live at `now`, in no particular order.
    pub(super) fn live_at(&self, now: Nanos) -> impl Iterator<Item = (&K, &W::Value)> + '_ {
        self.qc
            .iter()
            .filter(move |(_, stored)| !Self::expired(&self.expiry, stored, now))
            .map(|(k, stored)| (k, stored.value()))
    }

    /// What the entry holding `stored` is at `now`.
    #[inline]
    pub(super) fn status(expiry: &Option<Box<Expiry<K>>>, stored: &W, now: Nanos) -> Liveness {
        let (Some(slot), Some(expiry)) = (stored.slot(), expiry) else {
            return Liveness::Live;
        };
        // Deadlines rise in write order, so while the oldest is not due none is, and the
        // entry's own record, a likely cache miss on every hit, need not be read.
        if !expiry.any_due(now) {
            Liveness::Live
        } else if expiry.deadline(slot).is_some_and(|d| d > now) {
            Liveness::LiveWithDue
        } else {
            Liveness::Expired
        }
    }

    /// What `stored`, just found, is now.
    ///
    /// The clock is read here, once an entry is found, and not before the lookup: a miss
    /// needs no time, and reading the clock on every lookup cost W2 a tenth of its speed.
    #[inline]
    pub(super) fn liveness(&self, stored: &W, lifetime: &Lifetime) -> Liveness {
        if stored.slot().is_none() {
            return Liveness::Live;
        }
        Self::status(&self.expiry, stored, lifetime.now().0)
    }

    /// The live entry for `key`, marking it as used; and whether the next operation should
    /// release expired entries first: some are due, or, after a miss, some may be.
    #[inline]
    pub(super) fn get<Q>(&self, key: &Q, lifetime: &Lifetime) -> (Option<&W>, bool)
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        match self.qc.get(key) {
            None => (None, W::HAS_SLOT),
            Some(stored) => match self.liveness(stored, lifetime) {
                Liveness::Live => (Some(stored), false),
                Liveness::LiveWithDue => (Some(stored), true),
                Liveness::Expired => (None, true),
            },
        }
    }

    /// The live entry for `key`, without marking it as used.
    #[inline]
    pub(super) fn peek<Q>(&self, key: &Q, lifetime: &Lifetime) -> Option<&W>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.qc
            .peek(key)
            .filter(|stored| self.liveness(stored, lifetime) != Liveness::Expired)
    }

    /// The live entry for `key` at `now`, without marking it as used.
    #[inline]
    pub(super) fn peek_at<Q>(&self, key: &Q, now: Nanos) -> Option<&W>
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
    pub(super) fn released(&mut self, key: &K, stored: &W, delta: &mut HeapChange)
    where
        K: HeapSize,
        W::Value: HeapSize,
    {
        *delta -= entry_heap(key, stored.value());
        if let (Some(slot), Some(expiry)) = (stored.slot(), self.expiry.as_mut()) {
            if let Some(clone) = expiry.remove(slot) {
                *delta -= running_heap(&clone);
            }
        }
    }

    /// The bound on entries, `usize::MAX` for none.
    pub(super) fn max(&self) -> usize {
        match self.weigh.max {
            0 => usize::MAX,
            max => usize::try_from(max).unwrap_or(usize::MAX),
        }
    }

    /// A fresh, empty core with the same bounds, dropping every entry.
    pub(super) fn reset(&mut self) {
        *self = Core::new(self.weigh);
    }

    /// Heap owned by every entry, key clones included; 0 when compiled out.
    pub(super) fn entries_heap(&self) -> HeapUsage
    where
        K: HeapSize,
        W::Value: HeapSize,
    {
        if !crate::mode::ENABLED {
            return HeapUsage::default();
        }
        let entries: HeapUsage = self
            .qc
            .iter()
            .map(|(key, stored)| entry_heap(key, stored.value()))
            .sum();
        let clones: HeapUsage = self
            .expiry
            .as_ref()
            .map(|e| e.in_order().map(|(key, _)| running_heap(key)).sum())
            .unwrap_or_default();
        entries + clones
    }
}

/// When and how an insert writes: the cache's lifetime, the time `now` read from a clock
/// of resolution `tick`, and whether an entry heavier than the bound in bytes is kept.
pub(super) struct Write<'a> {
    pub(super) lifetime: &'a Lifetime,
    pub(super) now: Nanos,
    pub(super) tick: Nanos,
    pub(super) keep: bool,
}

impl<K, W, S> Core<K, W, S>
where
    K: Eq + Hash + Clone + HeapSize,
    W: Stored<Value: HeapSize>,
    S: BuildHasher + Default,
{
    /// Inserts an entry as `at` says, returning the live value it replaced. With `keep`,
    /// an entry heavier than the bound in bytes weighs what the cache can admit, so that
    /// it stays, alone, until the next insert.
    #[inline(always)]
    pub(super) fn insert_entry(
        &mut self,
        key: K,
        value: W::Value,
        at: Write<'_>,
        stats: &mut Counters,
        delta: &mut HeapChange,
    ) -> Option<W::Value> {
        // The entry the key had, if any: replaced by this one, or, when this one is
        // heavier than the whole bound and not kept, removed all the same.
        let replaced = 'insert: {
            let bytes = if self.by_bytes() {
                let bytes = entry_bytes(&key, &value);
                let most = self.weigh.admissible_bytes();
                if u64::from(bytes) <= most {
                    bytes
                } else if at.keep {
                    u32::try_from(most).unwrap_or(u32::MAX)
                } else {
                    // Heavier than the whole bound: not kept, and counted as evicted at
                    // once, as quick_cache would.
                    stats.evictions += 1;
                    break 'insert self.qc.remove(&key);
                }
            } else {
                0
            };
            let slot = self.expires(at.lifetime).then(|| {
                let max = self.max();
                let expiry = self
                    .expiry
                    .get_or_insert_with(|| Box::new(Expiry::new(max)));
                let clone = key.clone();
                *delta += running_heap(&clone);
                expiry.push(clone, at.lifetime.deadline(at.now, at.tick))
            });
            *delta += entry_heap(&key, &value);
            let mut outcome = Outcome::default();
            self.qc
                .insert_with_lifecycle(key, W::new(value, slot, bytes), &mut outcome);
            let replaced = outcome.replaced.take();
            stats.evictions += outcome.evictions;
            if self.keeps_evicted() {
                for (key, stored) in outcome.take_evicted() {
                    self.released(&key, &stored, delta);
                    stored.release();
                }
            }
            replaced
        };
        match replaced {
            // An expired entry is never returned, not even as the one replaced.
            Some((key, old)) if Self::expired(&self.expiry, &old, at.now) => {
                self.released(&key, &old, delta);
                old.release();
                stats.expirations += 1;
                stats.insertions += 1;
                None
            }
            Some((key, old)) => {
                self.released(&key, &old, delta);
                Some(old.into_value())
            }
            None => {
                stats.insertions += 1;
                None
            }
        }
    }

    /// Releases the expired entries due at `now`, up to [`sweep_budget`] of them, then
    /// shrinks the storage if it has become sparse; or, when every entry has expired and
    /// the store is no larger than [`MAX_REBUILD`], all at once. A million entries that expired
    /// together are freed over some 500 operations, never in one.
    #[cold]
    #[inline(never)]
    pub(super) fn sweep(&mut self, now: Nanos, counters: &mut Counters, delta: &mut HeapChange) {
        let all_expired = self
            .expiry
            .as_ref()
            .and_then(|e| e.newest_deadline())
            .is_some_and(|d| d <= now);
        let slots = self.expiry.as_ref().map_or(0, |e| e.slots());
        if all_expired && slots <= MAX_REBUILD {
            // A small store: dropped in one go, cheaper than entry by entry.
            counters.expirations += self.qc.len() as u64;
            *delta -= self.entries_heap();
            self.reset();
            return;
        }
        for _ in 0..sweep_budget(slots) {
            if !self.expire_oldest(now, counters, delta) {
                // Nothing left due: a store rebuilt now holds live entries only, and its
                // size, which the budget follows, is theirs.
                self.shrink_if_sparse();
                return;
            }
        }
        if self.qc.is_empty() {
            self.reset();
        }
    }

    /// Releases the oldest entry if it has expired at `now`; whether it did.
    pub(super) fn expire_oldest(
        &mut self,
        now: Nanos,
        counters: &mut Counters,
        delta: &mut HeapChange,
    ) -> bool {
        let Some(expiry) = self.expiry.as_mut() else {
            return false;
        };
        let Some((slot, key, deadline)) = expiry.oldest() else {
            return false;
        };
        if deadline > now {
            return false;
        }
        match self.qc.remove_if(key, |stored| stored.slot() == Some(slot)) {
            Some((key, stored)) => {
                counters.expirations += 1;
                self.released(&key, &stored, delta);
                stored.release();
            }
            None => {
                expiry.remove(slot);
            }
        }
        true
    }

    /// Rebuilds the storage once it has four times more slots than entries (and no more
    /// than [`MAX_REBUILD`] entries to move), and releases it once empty, so that a cache
    /// drained by expiry or removals gives its memory back. Write order is kept.
    pub(super) fn shrink_if_sparse(&mut self) {
        if self.qc.is_empty() {
            if self.slab_len() > 0 {
                self.reset();
            }
            return;
        }
        let slots = self.slab_len();
        if slots < 64 || self.qc.len() > slots / 4 || self.qc.len() > MAX_REBUILD {
            return;
        }
        let mut fresh: Core<K, W, S> = Core::new(self.weigh);
        let mut outcome = Outcome::default();
        match self.expiry.take() {
            Some(mut old) => {
                let mut expiry = Box::new(Expiry::new(old.len().max(1)));
                while let Some((slot, _, deadline)) = old.oldest() {
                    let Some(key) = old.remove(slot) else { break };
                    if let Some((k, stored)) = self.qc.remove(&key) {
                        let slot = expiry.push(key, deadline);
                        fresh.qc.insert_with_lifecycle(
                            k,
                            stored.with_slot(Some(slot)),
                            &mut outcome,
                        );
                    }
                }
                fresh.expiry = Some(expiry);
            }
            None => {
                for (k, stored) in self.qc.drain() {
                    fresh.qc.insert_with_lifecycle(k, stored, &mut outcome);
                }
            }
        }
        *self = fresh;
    }
}

/// One of two iterators.
pub(super) enum Either<A, B> {
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
