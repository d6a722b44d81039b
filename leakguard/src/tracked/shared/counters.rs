//! A shared cache's counters, striped by thread: two threads working on one cache never
//! write the same cache line, where one set of atomics would halve its throughput.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// One thread's share of the counters, on cache lines of its own (128 bytes: adjacent-line
/// prefetch pairs 64-byte lines).
#[derive(Default)]
#[repr(align(128))]
pub(super) struct Stripe {
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
    pub(super) evictions: AtomicU64,
    pub(super) expirations: AtomicU64,
    pub(super) removals: AtomicU64,
    /// Operations on a cache with a TTL, which take turns to look at the shards. Only a
    /// turn: read and written without a read-modify-write, as a lost count costs nothing.
    pub(super) turns: AtomicUsize,
    /// Bytes of the entries this thread put in, less those it took out, when instrumented.
    /// An insert adds once it is done, after the evictions it caused were taken off, so the
    /// sum errs low for a moment rather than high; signed for that moment.
    pub(super) bytes: AtomicIsize,
    /// Inserts, counted for the cadence of publishing when instrumented: read and written
    /// without a read-modify-write, as a lost count only moves a publication. The stats
    /// derive insertions of new keys from where entries went.
    pub(super) inserts: AtomicU64,
    /// `bytes` when this stripe last published the figures: a publication that would find
    /// them where they were is skipped.
    pub(super) mark: AtomicIsize,
}

impl Stripe {
    /// Takes a turn at the shards: the number of the last one.
    #[inline]
    pub(super) fn turn(&self) -> usize {
        let turn = self.turns.load(Relaxed);
        self.turns.store(turn.wrapping_add(1), Relaxed);
        turn
    }

    /// Counts an insert: the number of the last one.
    #[inline]
    pub(super) fn insert(&self) -> u64 {
        let n = self.inserts.load(Relaxed);
        self.inserts.store(n.wrapping_add(1), Relaxed);
        n
    }

    /// Whether this stripe's bytes moved since it last published.
    #[inline]
    pub(super) fn moved(&self) -> bool {
        self.bytes.load(Relaxed) != self.mark.load(Relaxed)
    }
}

/// The stripes of one cache: one per core, rounded up to a power of two, at most 16.
pub(super) struct Counters {
    stripes: Box<[Stripe]>,
}

impl Default for Counters {
    fn default() -> Self {
        let n = std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .next_power_of_two()
            .min(16);
        Counters {
            stripes: (0..n).map(|_| Stripe::default()).collect(),
        }
    }
}

impl Counters {
    /// The calling thread's stripe.
    #[inline]
    pub(super) fn mine(&self) -> &Stripe {
        &self.stripes[thread_index() & (self.stripes.len() - 1)]
    }

    /// The sum of one counter over the stripes.
    pub(super) fn sum(&self, counter: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .map(|s| counter(s).load(Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// Bytes of the entries held.
    pub(super) fn bytes(&self) -> usize {
        let sum = self
            .stripes
            .iter()
            .map(|s| s.bytes.load(Relaxed))
            .fold(0, isize::wrapping_add);
        sum.max(0) as usize
    }
}

/// A small number that tells this thread from others, given out in turn.
#[inline]
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX
        .try_with(|index| {
            if index.get() == usize::MAX {
                index.set(NEXT.fetch_add(1, Relaxed));
            }
            index.get()
        })
        .unwrap_or(0)
}
