//! A shared cache's expiry records: for each quick_cache shard, the write-ordered list the
//! single-owner cache keeps ([`Expiry`]), behind a lock of its own.
//!
//! A cache has one TTL, so a shard's entries expire in the order they were written, and
//! releasing the expired ones is a walk from the front of its list that stops at the first
//! record not due: an operation examines what it releases, never the live entries. A record
//! leaves the list with its entry (evicted, replaced, removed or expired), so the lists hold
//! one record per entry, not one per insert.

use std::cell::Cell;
use std::mem::size_of;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::cache::{Expiry, Position, sweep_budget};
use crate::clock::Nanos;
use crate::heap_size::{HeapSize, running_heap};
use crate::sync::lock;

/// The fewest due entries an operation releases when that many are due: a tenth of a
/// millisecond or so, where the single-owner engine's eight would take a cache of 10,000
/// entries some 500 operations to release, as each operation looks at one shard.
pub(super) const SWEEP_AT_LEAST: usize = 256;

/// Which record an entry has: its slot in its shard's list, and its deadline, so that a
/// slot freed and given to another entry is never taken for this one's. A record is freed
/// by a sweep once due, or by whoever took its entry out of the cache; a slot a sweep freed
/// goes to an entry written after that deadline passed, whose deadline is later.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Record {
    pub(super) slot: Position,
    pub(super) deadline: Nanos,
}

/// One shard's records, each a clone of its entry's key.
struct Line<K> {
    expiry: Expiry<K>,
}

struct Timeline<K> {
    /// No record is due before this: the oldest record's deadline or earlier, `Nanos::MAX`
    /// when there is none. Read without the lock, so that an operation with nothing to
    /// release takes none.
    next_due: AtomicU64,
    line: Mutex<Line<K>>,
    /// Bytes of the list's slab, and what the key clones own on the heap (when
    /// instrumented): published without taking the lock.
    storage: AtomicUsize,
    clones_heap: AtomicUsize,
}

/// The records of every shard of one cache.
pub(super) struct Timelines<K> {
    shards: Box<[Timeline<K>]>,
    /// Records a list is expected to hold at most, which caps the growth of its slab.
    per_shard: usize,
}

/// What a sweep took out of the cache and its list, handed back to be dropped after every
/// lock is released: a value's `Drop` may use the cache.
pub(super) struct Released<K, T> {
    pub(super) entries: Vec<T>,
    clones: Vec<K>,
}

thread_local! {
    /// Set while this thread drops what a sweep released: a `Drop` that uses the cache then
    /// starts no sweep of its own, so releases never nest.
    static RELEASING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is dropping what a sweep released.
#[inline]
pub(super) fn releasing() -> bool {
    RELEASING.try_with(Cell::get).unwrap_or(true)
}

impl<K, T> Released<K, T> {
    /// Drops the released entries and key clones, marked as releasing.
    pub(super) fn drop_all(self) {
        struct Releasing;
        impl Drop for Releasing {
            fn drop(&mut self) {
                let _ = RELEASING.try_with(|r| r.set(false));
            }
        }
        let _ = RELEASING.try_with(|r| r.set(true));
        let _releasing = Releasing;
        drop(self);
    }
}

impl<K: Eq + HeapSize> Timelines<K> {
    /// Lists for `shards` shards, each expected to hold up to `per_shard` records.
    pub(super) fn new(shards: usize, per_shard: usize) -> Self {
        let shards = (0..shards)
            .map(|_| Timeline {
                next_due: AtomicU64::new(Nanos::MAX),
                line: Mutex::new(Line {
                    expiry: Expiry::new(per_shard),
                }),
                storage: AtomicUsize::new(0),
                clones_heap: AtomicUsize::new(0),
            })
            .collect();
        Timelines { shards, per_shard }
    }

    /// The shard to look at on the `turn`th operation: each operation looks at one, in
    /// turn. The caller counts turns per cache, so that a thread alternating between two
    /// caches still visits every shard of each.
    #[inline]
    pub(super) fn shard(&self, turn: usize) -> usize {
        turn % self.shards.len()
    }

    /// Whether a record of `shard` may be due at `now`.
    #[inline]
    pub(super) fn due(&self, shard: usize, now: Nanos) -> bool {
        self.shards[shard].next_due.load(Relaxed) <= now
    }

    /// Records the entry of `key`, written to expire at `deadline`; its slot.
    pub(super) fn push(&self, shard: usize, key: K, deadline: Nanos) -> Position {
        let timeline = &self.shards[shard];
        let heap = running_heap(&key).bytes;
        let mut line = lock(&timeline.line);
        if line.expiry.len() == 0 {
            timeline.next_due.store(deadline, Relaxed);
        }
        let slot = line.expiry.push(key, deadline);
        timeline.clones_heap.fetch_add(heap, Relaxed);
        timeline.storage.store(line.expiry.storage_bytes(), Relaxed);
        slot
    }

    /// Frees the record of an entry that left the cache, returning its key clone for the
    /// caller to drop after the lock; nothing if a sweep freed it already.
    pub(super) fn free(&self, shard: usize, record: Record) -> Option<K> {
        let timeline = &self.shards[shard];
        let mut line = lock(&timeline.line);
        if line.expiry.deadline(record.slot) != Some(record.deadline) {
            return None;
        }
        let key = line.expiry.remove(record.slot)?;
        timeline
            .clones_heap
            .fetch_sub(running_heap(&key).bytes, Relaxed);
        Some(key)
    }

    /// Releases the records of `shard` due at `now`, oldest first, up to
    /// [`sweep_budget`] of the slots of all the lists, [`SWEEP_AT_LEAST`] at the least (a
    /// 512th of them: a cache whose every entry expired is released within some 512
    /// operations and a turn of the shards, and no operation releases more than that share).
    /// `release` takes the entry carrying a record out of the cache, if it is still there.
    /// `None` if another thread is releasing this shard.
    pub(super) fn sweep<T>(
        &self,
        shard: usize,
        now: Nanos,
        mut release: impl FnMut(&K, Record) -> Option<T>,
    ) -> Option<Released<K, T>> {
        let timeline = &self.shards[shard];
        let mut line = match timeline.line.try_lock() {
            Ok(line) => line,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        let budget = sweep_budget(line.expiry.slots() * self.shards.len()).max(SWEEP_AT_LEAST);
        let mut released = Released {
            entries: Vec::new(),
            clones: Vec::new(),
        };
        let mut next_due = Nanos::MAX;
        while released.clones.len() < budget {
            let Some((slot, key, deadline)) = line.expiry.oldest() else {
                break;
            };
            if deadline > now {
                next_due = deadline;
                break;
            }
            let record = Record { slot, deadline };
            if let Some(entry) = release(key, record) {
                released.entries.push(entry);
            }
            if let Some(clone) = line.expiry.remove(slot) {
                released.clones.push(clone);
            }
        }
        if released.clones.len() == budget {
            // Stopped by the budget: what is left may be due.
            next_due = line.expiry.oldest().map_or(Nanos::MAX, |(_, _, d)| d);
        }
        if line.expiry.len() == 0 && line.expiry.slots() >= 64 {
            // Emptied: its slab goes back too.
            line.expiry = Expiry::new(self.per_shard);
        }
        timeline.next_due.store(next_due, Relaxed);
        let heap: usize = released
            .clones
            .iter()
            .map(|key| running_heap(key).bytes)
            .sum();
        timeline.clones_heap.fetch_sub(heap, Relaxed);
        timeline.storage.store(line.expiry.storage_bytes(), Relaxed);
        drop(line);
        Some(released)
    }

    /// Records held, over every list.
    #[cfg(test)]
    pub(super) fn records(&self) -> usize {
        self.shards.iter().map(|t| lock(&t.line).expiry.len()).sum()
    }

    /// Bytes of the lists' storage, and what their key clones own on the heap.
    pub(super) fn held(&self) -> (usize, usize) {
        self.shards.iter().fold(
            (
                size_of::<Self>() + self.shards.len() * size_of::<Timeline<K>>(),
                0,
            ),
            |(storage, heap), t| {
                (
                    storage + t.storage.load(Relaxed),
                    heap + t.clones_heap.load(Relaxed),
                )
            },
        )
    }
}
