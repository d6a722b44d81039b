//! A shared cache's counters, striped by thread: two threads working on one cache never
//! write the same cache line, where one set of atomics would halve its throughput.
//!
//! A stripe is claimed by the first thread that counts on it, which then counts there with
//! plain loads and stores: it is the only one to write it, so nothing is lost, and a
//! lookup takes no read-modify-write (a `lock`ed instruction) beyond the shard lock's. A
//! thread whose stripe another thread claimed counts on a stripe of atomics beside it.

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
    /// The thread that claimed the stripe, as [`thread_id`] gives it; 0 for none, and
    /// always 0 on the stripes of atomics. Never [`GONE`], the number of no thread, nor 0,
    /// which no thread has: a look-up compares the owner with the thread's number alone.
    owner: AtomicUsize,
}

impl Stripe {
    /// Takes a turn at the shards: the number of the last one.
    #[inline]
    pub(super) fn turn(&self) -> usize {
        let turn = self.turns.load(Relaxed);
        self.turns.store(turn.wrapping_add(1), Relaxed);
        turn
    }

    /// Counts an insert: the number of the last one; 0, uncounted, when compiled out,
    /// where nothing is published.
    #[inline]
    pub(super) fn insert(&self) -> u64 {
        if !crate::mode::ENABLED {
            return 0;
        }
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

/// The stripe the calling thread counts on, and whether it claimed it.
#[derive(Clone, Copy)]
pub(super) struct Mine<'a> {
    stripe: &'a Stripe,
    /// Where the stripe is, to find it again without looking the thread up (see
    /// [`Counters::at`]), shifted left by one; the low bit is whether this thread is the
    /// only one to write it. Two words in all, so that a `Mine` travels in registers.
    place: usize,
}

impl std::ops::Deref for Mine<'_> {
    type Target = Stripe;

    #[inline]
    fn deref(&self) -> &Stripe {
        self.stripe
    }
}

impl Mine<'_> {
    /// Where the stripe is, for [`Counters::at`].
    #[inline]
    pub(super) fn place(&self) -> usize {
        self.place
    }

    /// Whether this thread is the only one to write the stripe.
    #[inline]
    fn owned(&self) -> bool {
        self.place & 1 != 0
    }

    /// `stripe` at `index`, written by this thread alone if `owned`.
    #[inline]
    fn new(stripe: &Stripe, index: usize, owned: bool) -> Mine<'_> {
        Mine {
            stripe,
            place: index << 1 | usize::from(owned),
        }
    }

    /// Adds `n` to `counter`, one of this stripe's; its value before.
    #[inline]
    pub(super) fn add(&self, counter: &AtomicU64, n: u64) -> u64 {
        if self.owned() {
            let before = counter.load(Relaxed);
            counter.store(before.wrapping_add(n), Relaxed);
            before
        } else {
            counter.fetch_add(n, Relaxed)
        }
    }

    /// Adds `n` to the stripe's bytes.
    #[inline]
    pub(super) fn add_bytes(&self, n: isize) {
        let bytes = &self.stripe.bytes;
        if self.owned() {
            bytes.store(bytes.load(Relaxed).wrapping_add(n), Relaxed);
        } else {
            bytes.fetch_add(n, Relaxed);
        }
    }
}

/// The stripes of one cache: one per core, rounded up to a power of two, at most 16, each
/// claimed by a thread; and as many of atomics, for the threads that find theirs claimed.
pub(super) struct Counters {
    /// The claimed stripes, then the stripes of atomics.
    stripes: Box<[Stripe]>,
    /// The number of claimable stripes less one: what a thread's number is masked with.
    mask: usize,
}

impl Default for Counters {
    fn default() -> Self {
        let n = std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .next_power_of_two()
            .min(16);
        Counters {
            stripes: (0..2 * n).map(|_| Stripe::default()).collect(),
            mask: n - 1,
        }
    }
}

impl Counters {
    /// The calling thread's stripe: the one its number falls on if it claimed it (or
    /// claims it now), else the stripe of atomics beside it.
    ///
    /// Every operation of a cache looks its stripe up, so the common case, a thread on the
    /// stripe it claimed, is one thread-local read, a mask and one comparison: a thread not
    /// yet numbered reads [`GONE`], which no stripe's owner is.
    #[inline]
    pub(super) fn mine(&self) -> Mine<'_> {
        let id = thread_id();
        let index = id & self.mask;
        let stripe = &self.stripes[index];
        // Never equal for `GONE`, which no stripe's owner is.
        if stripe.owner.load(Relaxed) == id {
            return Mine::new(stripe, index, true);
        }
        self.claim(id, index)
    }

    /// Adds 1 to the counter `which` picks of the calling thread's stripe: what a lookup
    /// and an insert that evicted count, compiled out. [`mine`](Self::mine) and
    /// [`Mine::add`] in one, with the test of who writes the stripe made once: a thread
    /// on the stripe it claimed counts with a load and a store, and anything else (a
    /// stripe to claim, or claimed by another thread) is out of line.
    #[inline]
    pub(super) fn count(&self, which: impl Fn(&Stripe) -> &AtomicU64, n: u64) {
        let id = thread_id();
        let stripe = &self.stripes[id & self.mask];
        // Never equal for `GONE`, which no stripe's owner is.
        if stripe.owner.load(Relaxed) == id {
            let counter = which(stripe);
            counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
        } else {
            self.count_unclaimed(which, n);
        }
    }

    /// [`count`](Self::count) for a thread not on a stripe it claimed.
    #[cold]
    #[inline(never)]
    fn count_unclaimed(&self, which: impl Fn(&Stripe) -> &AtomicU64, n: u64) {
        let mine = self.mine();
        mine.add(which(&mine), n);
    }

    /// [`mine`](Self::mine) for a thread that has not claimed its stripe: claims it if it
    /// is free, else gives the stripe of atomics beside it.
    #[cold]
    #[inline(never)]
    fn claim(&self, id: usize, index: usize) -> Mine<'_> {
        // A thread without a number yet gets one here, off the common path.
        let (id, index) = match id {
            GONE => {
                let id = numbered_thread_id();
                (id, id & self.mask)
            }
            id => (id, index),
        };
        let stripe = &self.stripes[index];
        if id != GONE
            && stripe
                .owner
                .compare_exchange(0, id, Relaxed, Relaxed)
                .is_ok()
        {
            return Mine::new(stripe, index, true);
        }
        let index = self.mask + 1 + index;
        Mine::new(&self.stripes[index], index, false)
    }

    /// The stripe [`mine`](Self::mine) gave this thread, from its [`place`](Mine::place):
    /// what an eviction hook running on the same thread, under a shard lock, counts on.
    #[inline]
    pub(super) fn at(&self, place: usize) -> Mine<'_> {
        Mine {
            stripe: &self.stripes[place >> 1],
            place,
        }
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

/// The number [`thread_id`] gives a thread that has none yet, or whose thread-locals are
/// gone: it owns no stripe, so a look-up with it falls to [`Counters::claim`], which gives
/// the thread its number.
const GONE: usize = usize::MAX;

thread_local! {
    /// This thread's number; [`GONE`] until [`numbered_thread_id`] gives it one, so that
    /// reading it takes no test of whether it was given: a thread without one owns no
    /// stripe, and is numbered on the way to claiming one.
    static ID: Cell<usize> = const { Cell::new(GONE) };
}

/// A number that tells this thread from every other thread of the process, past or
/// present, given out in turn from 1; [`GONE`] before its first claim, and once its
/// thread-locals are gone.
#[inline]
fn thread_id() -> usize {
    ID.try_with(Cell::get).unwrap_or(GONE)
}

/// This thread's number, given now if it has none; [`GONE`] once its thread-locals are gone.
#[cold]
#[inline(never)]
fn numbered_thread_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    ID.try_with(|id| {
        if id.get() == GONE {
            // Below `GONE` for as long as a process can make threads.
            id.set(NEXT.fetch_add(1, Relaxed));
        }
        id.get()
    })
    .unwrap_or(GONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_beyond_the_stripes_lose_no_count() {
        let counters = Counters::default();
        let threads = 2 * counters.stripes.len() + 3;
        // Fewer under Miri, which runs every thread's steps one at a time.
        const COUNTS: u64 = if cfg!(miri) { 500 } else { 10_000 };
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..COUNTS {
                        let mine = counters.mine();
                        mine.add(&mine.hits, 1);
                        mine.add_bytes(3);
                    }
                });
            }
        });
        assert_eq!(counters.sum(|s| &s.hits), threads as u64 * COUNTS);
        assert_eq!(counters.bytes(), threads * 3 * COUNTS as usize);
    }

    #[test]
    fn counts_of_new_threads_and_of_threads_beyond_the_stripes_are_all_kept() {
        // Each thread starts unnumbered: its first count is numbered on the way to claiming
        // a stripe, and threads whose stripe another claimed count on the atomics.
        let counters = Counters::default();
        let threads = 2 * counters.stripes.len() + 3;
        std::thread::scope(|scope| {
            for t in 0..threads {
                let counters = &counters;
                scope.spawn(move || {
                    for i in 0..10_000u64 {
                        counters.count(|s| if i % 3 == 0 { &s.hits } else { &s.misses }, 1);
                        counters.count(|s| &s.evictions, t as u64);
                    }
                });
            }
        });
        let per_thread = 10_000u64;
        assert_eq!(
            counters.sum(|s| &s.hits),
            threads as u64 * per_thread.div_ceil(3)
        );
        assert_eq!(
            counters.sum(|s| &s.misses),
            threads as u64 * (per_thread - per_thread.div_ceil(3))
        );
        let evictions: u64 = (0..threads as u64).map(|t| t * per_thread).sum();
        assert_eq!(counters.sum(|s| &s.evictions), evictions);
        let claimed = counters.stripes[..=counters.mask]
            .iter()
            .filter(|s| s.owner.load(Relaxed) != 0)
            .count();
        assert!(claimed >= 1, "the first thread on a free stripe claims it");
        assert!(
            counters
                .stripes
                .iter()
                .all(|s| s.owner.load(Relaxed) != GONE),
            "no stripe is claimed without a number"
        );
    }

    #[test]
    fn a_stripe_is_claimed_by_one_thread_and_the_others_count_beside_it() {
        let counters = Counters::default();
        assert!(
            counters.mine().owned(),
            "the first thread claims its stripe"
        );
        assert!(counters.mine().owned(), "and keeps it");
        // Threads numbered `n` apart fall on the same stripe: at most one of them claims it.
        let claimable = counters.stripes.len() / 2;
        let claimed = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4 * claimable)
                .map(|_| scope.spawn(|| counters.mine().owned()))
                .collect();
            threads
                .into_iter()
                .fold(0, |claimed, t| claimed + usize::from(t.join().unwrap()))
        });
        assert!(claimed < claimable, "{claimed} of {claimable}");
        assert!(
            counters.stripes[claimable..]
                .iter()
                .all(|s| s.owner.load(Relaxed) == 0)
        );
    }
}
