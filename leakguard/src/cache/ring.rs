//! A ring bounded like [`ScopedCache`](super::ScopedCache): what `#[scoped_cache]` turns a
//! `Vec` or `VecDeque` into.

use std::collections::VecDeque;
use std::fmt;
use std::mem::size_of;
use std::ops::Index;
use std::time::Duration;

use super::engine::{MAX_REBUILD, sweep_budget};
use super::options::{Config, Lifetime, ScopedCacheBuilder};
use super::stats::{CacheStats, Counters, Delta};
use crate::clock::Nanos;
use crate::heap_size::{Footprint, HeapSize, Measurement};
use crate::heap_size::{HeapChange, HeapUsage, running_heap};

/// A queue bounded in length, in age, or both: pushing past `max` drops the oldest entry,
/// and with a `ttl` entries expire that long after they were pushed.
///
/// It keeps the API of the `Vec` or `VecDeque` it replaces for pushing, reading, iterating
/// and indexing; index 0 is the oldest live entry. Expired entries are never returned: they
/// are skipped by reads and released by the next pushes and pops.
///
/// ```
/// use leakguard::{ScopedCache, ScopedRing};
///
/// let mut recent: ScopedRing<u32> = ScopedCache::builder().max(3).build_ring().unwrap();
/// for i in 0..5 {
///     recent.push(i);
/// }
/// assert_eq!(recent.len(), 3);
/// assert_eq!(recent[0], 2);
/// assert_eq!(recent.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
/// ```
pub struct ScopedRing<T> {
    items: VecDeque<T>,
    /// Write deadlines, parallel to `items`; empty without a TTL.
    deadlines: VecDeque<Nanos>,
    max: usize,
    lifetime: Lifetime,
    /// `insertions` counts pushes; rings are not looked up, so hits and misses stay 0.
    counters: Counters,
    delta: Delta,
}

impl ScopedRing<()> {
    /// A builder; finish it with [`build_ring`](ScopedCacheBuilder::build_ring).
    pub fn builder() -> ScopedCacheBuilder {
        ScopedCacheBuilder::default()
    }
}

impl<T> ScopedRing<T> {
    pub(crate) fn with_config(config: Config) -> Self {
        Self {
            items: VecDeque::new(),
            deadlines: VecDeque::new(),
            max: config.max,
            lifetime: config.lifetime,
            counters: Counters::default(),
            delta: Delta::default(),
        }
    }

    /// The bound on entries, if any.
    pub fn max(&self) -> Option<usize> {
        (self.max != usize::MAX).then_some(self.max)
    }

    /// How long entries live, if they expire.
    pub fn ttl(&self) -> Option<Duration> {
        self.lifetime.ttl()
    }

    /// Index in `items` of the oldest live entry.
    fn first_live(&self) -> usize {
        if !self.lifetime.expires() {
            return 0;
        }
        let now = self.lifetime.now().0;
        self.deadlines.partition_point(|&deadline| deadline <= now)
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.items.len() - self.first_live()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries whose TTL is up but whose memory is not yet released.
    pub fn expired_len(&self) -> usize {
        self.first_live()
    }

    /// The live entries, oldest first.
    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, T> {
        self.items.range(self.first_live()..)
    }

    /// The live entry at `index`, 0 being the oldest.
    pub fn get(&self, index: usize) -> Option<&T> {
        self.items.get(self.first_live().checked_add(index)?)
    }

    /// The oldest live entry.
    pub fn front(&self) -> Option<&T> {
        self.get(0)
    }

    /// The newest live entry.
    pub fn back(&self) -> Option<&T> {
        (!self.is_empty()).then(|| self.items.back()).flatten()
    }

    /// What the ring has done since it was created. Rings are not looked up by key, so
    /// `hits` and `misses` stay 0; `insertions` counts pushes.
    pub fn stats(&self) -> CacheStats {
        self.counters.stats(self.items.len())
    }

    pub(crate) fn take_delta(&mut self) -> HeapChange {
        self.delta.take()
    }
}

impl<T: HeapSize> ScopedRing<T> {
    /// Removes the oldest entry, whatever its age, keeping the figures.
    fn drop_oldest(&mut self) -> Option<T> {
        let item = self.items.pop_front()?;
        self.deadlines.pop_front();
        self.delta.lose(running_heap(&item));
        Some(item)
    }

    /// Releases the expired entries due at `now`, up to
    /// [`sweep_budget`](super::engine::sweep_budget) of them, or all of them when every
    /// entry has expired and they are few: never all of a large ring at once.
    fn sweep(&mut self, now: Nanos) {
        if self.deadlines.front().is_none_or(|&d| d > now) {
            return;
        }
        if self.items.capacity() <= MAX_REBUILD && self.deadlines.back().is_some_and(|&d| d <= now)
        {
            // Few enough to drop in one go.
            self.counters.expirations += self.items.len() as u64;
            self.release_all();
            return;
        }
        for _ in 0..sweep_budget(self.items.capacity()) {
            if self.deadlines.front().is_none_or(|&d| d > now) {
                // Nothing left due: shrunk now, the storage holds live entries only.
                self.shrink_if_sparse();
                return;
            }
            self.drop_oldest();
            self.counters.expirations += 1;
        }
        if self.items.is_empty() {
            self.shrink_if_sparse();
        }
    }

    fn release_all(&mut self) {
        if crate::mode::ENABLED {
            let heap: HeapUsage = self.items.iter().map(running_heap).sum();
            self.delta.lose(heap);
        }
        self.items = VecDeque::new();
        self.deadlines = VecDeque::new();
    }

    fn shrink_if_sparse(&mut self) {
        if self.items.is_empty() {
            self.items = VecDeque::new();
            self.deadlines = VecDeque::new();
        } else if self.items.capacity() >= 64
            && self.items.len() <= self.items.capacity() / 4
            && self.items.len() <= MAX_REBUILD
        {
            self.items.shrink_to_fit();
            self.deadlines.shrink_to_fit();
        }
    }

    /// Appends an entry; past `max` the oldest entry is dropped and returned.
    pub fn push(&mut self, value: T) -> Option<T> {
        let (now, tick) = self.lifetime.now();
        self.sweep(now);
        let dropped = if self.items.len() >= self.max {
            self.counters.evictions += 1;
            self.drop_oldest()
        } else {
            None
        };
        self.delta.add(running_heap(&value).into());
        self.items.push_back(value);
        if self.lifetime.expires() {
            self.deadlines.push_back(self.lifetime.deadline(now, tick));
        }
        self.counters.insertions += 1;
        dropped
    }

    /// Same as [`push`](Self::push), under `VecDeque`'s name.
    pub fn push_back(&mut self, value: T) -> Option<T> {
        self.push(value)
    }

    /// Removes and returns the oldest live entry.
    pub fn pop_front(&mut self) -> Option<T> {
        let now = self.lifetime.now().0;
        self.sweep(now);
        let first = self.first_live();
        let item = if first == 0 {
            self.drop_oldest()
        } else {
            // More expired entries ahead than one operation releases: take the oldest live
            // one from behind them, and put the first expired one in its place, to be
            // released by the operations to come. Expired entries stay ahead of live ones.
            let item = self.items.swap_remove_front(first)?;
            self.deadlines.swap_remove_front(first);
            self.delta.lose(running_heap(&item));
            Some(item)
        };
        self.release_if_empty();
        item
    }

    /// Removes and returns the newest live entry.
    pub fn pop_back(&mut self) -> Option<T> {
        let now = self.lifetime.now().0;
        self.sweep(now);
        if self.is_empty() {
            return None;
        }
        let item = self.items.pop_back()?;
        self.deadlines.pop_back();
        self.delta.lose(running_heap(&item));
        self.release_if_empty();
        Some(item)
    }

    /// Gives the storage back once the ring holds nothing.
    fn release_if_empty(&mut self) {
        if self.items.is_empty() && self.items.capacity() > 0 {
            self.items = VecDeque::new();
            self.deadlines = VecDeque::new();
        }
    }

    /// Same as [`pop_back`](Self::pop_back), under `Vec`'s name.
    pub fn pop(&mut self) -> Option<T> {
        self.pop_back()
    }

    /// Removes every entry and releases the storage.
    pub fn clear(&mut self) {
        self.release_all();
    }

    /// Keeps the live entries for which `keep` returns `true`, in order.
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut keep: F) {
        let first = self.first_live();
        let mut index = 0;
        let mut removed = HeapUsage::default();
        let (items, deadlines) = (&mut self.items, &mut self.deadlines);
        let mut kept = 0;
        let mut expired = 0u64;
        items.retain(|item| {
            let live = index >= first;
            let stays = live && keep(item);
            if !stays {
                removed += running_heap(item);
                if !live {
                    expired += 1;
                }
            } else if !deadlines.is_empty() {
                deadlines.swap(kept, index);
                kept += 1;
            }
            index += 1;
            stays
        });
        if !deadlines.is_empty() {
            deadlines.truncate(kept);
        }
        self.counters.expirations += expired;
        self.delta.lose(removed);
        self.shrink_if_sparse();
    }

    /// Releases every expired entry now, returning how many there were.
    pub fn purge_expired(&mut self) -> usize {
        let first = self.first_live();
        for _ in 0..first {
            self.drop_oldest();
        }
        self.counters.expirations += first as u64;
        self.shrink_if_sparse();
        first
    }
}

impl<T> Index<usize> for ScopedRing<T> {
    type Output = T;

    /// The live entry at `index`, 0 being the oldest. Panics if there is none.
    #[track_caller]
    fn index(&self, index: usize) -> &T {
        let len = self.len();
        match self.get(index) {
            Some(item) => item,
            None => panic!("index out of bounds: the len is {len} but the index is {index}"),
        }
    }
}

impl<'a, T> IntoIterator for &'a ScopedRing<T> {
    type Item = &'a T;
    type IntoIter = std::collections::vec_deque::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: HeapSize> Extend<T> for ScopedRing<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for item in iter {
            self.push(item);
        }
    }
}

impl<T: HeapSize> HeapSize for ScopedRing<T> {
    fn heap_size(&self) -> usize {
        self.heap_size_in(&mut Measurement::new())
    }

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.heap_usage_in(m).bytes
    }

    /// The storage and every entry's heap, expired entries still held included.
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let entries: HeapUsage = self.items.iter().map(|item| item.heap_usage_in(m)).sum();
        HeapUsage::of_collection(self.footprint().unwrap_or_default(), entries)
    }

    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.items.len(),
            capacity: self.items.capacity(),
            storage_bytes: self.items.capacity() * size_of::<T>()
                + self.deadlines.capacity() * size_of::<Nanos>(),
        })
    }

    // A cache keeps its own figures as it changes, through `&self` too.
    const __LEAKGUARD_SHARED_MUT: bool = false;
}

impl<T: fmt::Debug> fmt::Debug for ScopedRing<T> {
    /// Formats the live entries as a list, like `Vec` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for ScopedRing<T> {
    /// Equal when both hold the same live entries, in the same order.
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for ScopedRing<T> {}
