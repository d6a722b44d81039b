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
    /// Inserts, counted for the cadence of publishing when instrumented; the stats derive
    /// insertions of new keys from where entries went.
    pub(super) insertions: AtomicU64,
    pub(super) evictions: AtomicU64,
    pub(super) expirations: AtomicU64,
    pub(super) removals: AtomicU64,
    /// Operations on a cache with a TTL, which take turns to look at the shards.
    pub(super) turns: AtomicUsize,
    /// Bytes of the entries this thread put in, less those it took out, when instrumented.
    /// An insert adds once it is done, after the evictions it caused were taken off, so the
    /// sum errs low for a moment rather than high; signed for that moment.
    pub(super) bytes: AtomicIsize,
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
