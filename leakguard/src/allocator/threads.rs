//! The allocator over `System`, called directly, on 8 threads that allocate under accounts
//! they switch between, reallocate, and free each other's blocks: every account exact to
//! the byte once the threads have ended, with what each thread kept uncounted in its
//! current account counted at its end, and blocks allocated and freed by a thread-local's
//! destructor after that. Small enough for Miri; the test ThreadSanitizer runs.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::Alloc;
use crate::accounts;

static ALLOC: Alloc = Alloc::system();

const THREADS: usize = 8;
const OPS: usize = if cfg!(miri) { 60 } else { 20_000 };
const ACCOUNTS: usize = 4;

/// The truth, per account: bytes and blocks live.
struct Truth {
    bytes: [AtomicUsize; ACCOUNTS],
    blocks: [AtomicUsize; ACCOUNTS],
}

impl Truth {
    fn add(&self, at: usize, bytes: usize) {
        self.bytes[at].fetch_add(bytes, Relaxed);
        self.blocks[at].fetch_add(1, Relaxed);
    }

    fn take(&self, at: usize, bytes: usize) {
        self.bytes[at].fetch_sub(bytes, Relaxed);
        self.blocks[at].fetch_sub(1, Relaxed);
    }

    fn of(&self, at: usize) -> (usize, usize) {
        (self.bytes[at].load(Relaxed), self.blocks[at].load(Relaxed))
    }
}

/// A live block and the index of the account it was charged to.
#[derive(Clone, Copy)]
struct Block {
    at: usize,
    layout: Layout,
    account: usize,
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn allocate(layout: Layout) -> usize {
    // SAFETY: a valid layout; every block is freed once, with it.
    let at = unsafe { ALLOC.alloc(layout) };
    assert!(!at.is_null());
    at as usize
}

fn free(block: Block) {
    // SAFETY: `block` is live, allocated by `ALLOC` with its layout, and freed once.
    unsafe { ALLOC.dealloc(block.at as *mut u8, block.layout) };
}

struct Shared {
    accounts: [u32; ACCOUNTS],
    truth: Truth,
    pool: [Mutex<Vec<Block>>; 4],
}

fn worker(shared: &Shared, seed: u64) {
    let mut rng = Rng(seed);
    // What the thread allocates goes to this account until it switches; the last one stays
    // current to the thread's end, with its change uncounted until then.
    let mut current = rng.below(ACCOUNTS as u64) as usize;
    accounts::set_current(shared.accounts[current]);
    for _ in 0..OPS {
        let shard = &shared.pool[rng.below(4) as usize];
        match rng.below(16) {
            0 => {
                current = rng.below(ACCOUNTS as u64) as usize;
                accounts::set_current(shared.accounts[current]);
            }
            1..=7 => {
                let size = match rng.below(8) {
                    0 => 0,
                    1 => rng.below(100_000) as usize,
                    _ => rng.below(300) as usize,
                };
                let widest = if rng.below(8) == 0 { 13 } else { 4 };
                let align = 1 << rng.below(widest);
                let layout = Layout::from_size_align(size, align).unwrap();
                let at = allocate(layout);
                shared.truth.add(current, size);
                let block = Block {
                    at,
                    layout,
                    account: current,
                };
                crate::sync::lock(shard).push(block);
            }
            8..=9 => {
                let taken = crate::sync::lock(shard).pop();
                let Some(mut block) = taken else { continue };
                let new_size = rng.below(5000) as usize;
                // SAFETY: `block` is live with its layout; the new size is valid for it.
                let at = unsafe { ALLOC.realloc(block.at as *mut u8, block.layout, new_size) };
                assert!(!at.is_null());
                shared.truth.take(block.account, block.layout.size());
                shared.truth.add(block.account, new_size);
                block.at = at as usize;
                block.layout = Layout::from_size_align(new_size, block.layout.align()).unwrap();
                crate::sync::lock(shard).push(block);
            }
            _ => {
                let taken = {
                    let mut pool = crate::sync::lock(shard);
                    let len = pool.len() as u64;
                    (len > 0).then(|| pool.swap_remove(rng.below(len) as usize))
                };
                if let Some(block) = taken {
                    free(block);
                    shared.truth.take(block.account, block.layout.size());
                }
            }
        }
    }
}

/// Allocates in its destructor under the account it names: a block it frees at once, and
/// one it keeps, whose address goes to [`KEPT_AT_EXIT`].
struct AtExit {
    account: Cell<u32>,
}

impl Drop for AtExit {
    fn drop(&mut self) {
        accounts::set_current(self.account.get());
        let freed = Layout::from_size_align(500, 8).unwrap();
        let at = allocate(freed);
        // SAFETY: allocated just above with `freed`.
        unsafe { ALLOC.dealloc(at as *mut u8, freed) };
        crate::sync::lock(&KEPT_AT_EXIT).push(allocate(KEPT));
    }
}

const KEPT: Layout = match Layout::from_size_align(77, 8) {
    Ok(layout) => layout,
    Err(_) => panic!(),
};

/// The blocks the threads' `AtExit`s kept, for the test to free.
static KEPT_AT_EXIT: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    /// Registered before the thread's first allocation, so after the allocator's own
    /// destructor where destructors run last registered first (glibc).
    static BEFORE_FIRST: AtExit = const { AtExit { account: Cell::new(0) } };
    /// Registered after it, so before it there.
    static AFTER_FIRST: AtExit = const { AtExit { account: Cell::new(0) } };
}

#[test]
fn what_a_thread_keeps_and_its_thread_local_destructors_allocate_is_counted_at_its_end() {
    let account = accounts::test_account();
    let before = accounts::figures_of(account);
    let kept = std::thread::spawn(move || {
        BEFORE_FIRST.with(|a| a.account.set(account));
        accounts::set_current(account);
        let kept = Layout::from_size_align(64, 8).unwrap();
        let at = allocate(kept);
        AFTER_FIRST.with(|a| a.account.set(account));
        // Still current when the thread ends: the block is counted then.
        (at, kept)
    })
    .join()
    .unwrap();
    assert_eq!(
        accounts::figures_of(account),
        (before.0 + 64 + 2 * KEPT.size(), before.1 + 3),
        "the block the thread kept and one kept by each destructor"
    );
    free(Block {
        at: kept.0,
        layout: kept.1,
        account: 0,
    });
    for at in crate::sync::lock(&KEPT_AT_EXIT).drain(..) {
        // SAFETY: allocated by an `AtExit` with `KEPT`, freed once.
        unsafe { ALLOC.dealloc(at as *mut u8, KEPT) };
    }
    assert_eq!(accounts::figures_of(account), before);
}

#[test]
fn blocks_freed_on_other_threads_leave_every_account_exact() {
    let shared = std::sync::Arc::new(Shared {
        accounts: std::array::from_fn(|_| accounts::test_account()),
        truth: Truth {
            bytes: std::array::from_fn(|_| AtomicUsize::new(0)),
            blocks: std::array::from_fn(|_| AtomicUsize::new(0)),
        },
        pool: std::array::from_fn(|_| Mutex::new(Vec::new())),
    });
    let before: Vec<(usize, usize)> = shared
        .accounts
        .iter()
        .map(|a| accounts::figures_of(*a))
        .collect();
    // Joined, not scoped: a scoped thread's scope may return before the thread's
    // thread-local destructors have run.
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let shared = shared.clone();
            std::thread::spawn(move || worker(&shared, 0x9E37_79B9 + t as u64 * 7919))
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let live: usize = shared.pool.iter().map(|p| crate::sync::lock(p).len()).sum();
    assert!(live > 0, "blocks stay live across threads");
    for (i, account) in shared.accounts.iter().enumerate() {
        let truth = shared.truth.of(i);
        assert_eq!(
            accounts::figures_of(*account),
            (before[i].0 + truth.0, before[i].1 + truth.1),
            "account {i} (bytes, blocks) once the threads ended"
        );
    }
    for shard in &shared.pool {
        for block in crate::sync::lock(shard).drain(..) {
            free(block);
            shared.truth.take(block.account, block.layout.size());
        }
    }
    for (i, account) in shared.accounts.iter().enumerate() {
        assert_eq!(
            accounts::figures_of(*account),
            before[i],
            "account {i} freed"
        );
    }
}
