//! `leakguard::Alloc` charges every live byte to the scope that allocated it, exactly: 10^6
//! random allocations, frees and reallocs on 8 threads that free each other's memory,
//! each allocation under a scope instance of its own (so that instances end, hold memory,
//! fold past the table and are reused), and every scope name's live bytes and blocks equal
//! the truth to the byte. In its own binary: it installs the global allocator.

use std::alloc::{Layout, alloc, alloc_zeroed, dealloc, realloc};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

const THREADS: usize = 8;
const OPS: usize = 1_000_000;
const NAMES: [&str; 8] = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"];

/// The truth, per scope name: bytes and blocks live.
static BYTES: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
static BLOCKS: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];

/// A live block, with the scope name it was allocated under.
#[derive(Clone, Copy)]
struct Block {
    at: usize,
    layout: Layout,
    name: usize,
}

/// Blocks any thread may free, in shards to keep the lock from serialising the test.
static POOL: [Mutex<Vec<Block>>; 8] = [const { Mutex::new(Vec::new()) }; 8];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn layout(rng: &mut Rng) -> Layout {
    let size = match rng.below(10) {
        0 => 0,
        1 => rng.below(16 * 1024) as usize,
        _ => rng.below(512) as usize,
    };
    let align = if rng.below(16) == 0 {
        1 << rng.below(13) // up to 4 KiB
    } else {
        8
    };
    Layout::from_size_align(size, align).unwrap()
}

fn worker(seed: u64) {
    let mut rng = Rng(seed);
    for _ in 0..OPS / THREADS {
        let shard = rng.below(8) as usize;
        match rng.below(8) {
            // Allocate under a fresh instance of a random name.
            0..=3 => {
                let name = rng.below(8) as usize;
                let layout = layout(&mut rng);
                let zeroed = rng.below(4) == 0;
                let at = {
                    let _scope = leakguard::scope(NAMES[name]);
                    // SAFETY: a valid layout; freed once below, with it.
                    unsafe {
                        if zeroed {
                            alloc_zeroed(layout)
                        } else {
                            alloc(layout)
                        }
                    }
                };
                assert!(!at.is_null());
                BYTES[name].fetch_add(layout.size(), Relaxed);
                BLOCKS[name].fetch_add(1, Relaxed);
                let block = Block {
                    at: at as usize,
                    layout,
                    name,
                };
                POOL[shard].lock().unwrap().push(block);
            }
            // Reallocate, under another scope: the block keeps the scope it was made in.
            4 => {
                let taken = {
                    let mut pool = POOL[shard].lock().unwrap();
                    let len = pool.len() as u64;
                    (len > 0).then(|| pool.swap_remove(rng.below(len) as usize))
                };
                let Some(mut block) = taken else { continue };
                let new_size = rng.below(4096) as usize;
                let at = {
                    let _other = leakguard::scope("elsewhere");
                    // SAFETY: `block` is live with its layout; the new size is valid.
                    unsafe { realloc(block.at as *mut u8, block.layout, new_size) }
                };
                assert!(!at.is_null());
                BYTES[block.name].fetch_add(new_size, Relaxed);
                BYTES[block.name].fetch_sub(block.layout.size(), Relaxed);
                block.at = at as usize;
                block.layout = Layout::from_size_align(new_size, block.layout.align()).unwrap();
                POOL[shard].lock().unwrap().push(block);
            }
            // Free a block, most likely another thread's.
            _ => {
                let taken = {
                    let mut pool = POOL[shard].lock().unwrap();
                    let len = pool.len() as u64;
                    (len > 0).then(|| pool.swap_remove(rng.below(len) as usize))
                };
                if let Some(block) = taken {
                    let _scope = leakguard::scope("freeing");
                    // SAFETY: live, allocated with this layout, freed once.
                    unsafe { dealloc(block.at as *mut u8, block.layout) };
                    BYTES[block.name].fetch_sub(block.layout.size(), Relaxed);
                    BLOCKS[block.name].fetch_sub(1, Relaxed);
                }
            }
        }
    }
}

fn check(when: &str) {
    let report = leakguard::report();
    for (i, name) in NAMES.iter().enumerate() {
        let truth = (BYTES[i].load(Relaxed), BLOCKS[i].load(Relaxed));
        let seen = report
            .scope(name)
            .map_or((0, 0), |s| (s.live_bytes, s.live_blocks));
        assert_eq!(seen, truth, "{when}: scope {name} (bytes, blocks)");
        if let Some(scope) = report.scope(name) {
            // Every instance has ended: all it holds is retained.
            assert_eq!(
                scope.retained_bytes, scope.live_bytes,
                "{when}: {name} retained"
            );
            assert!(scope.retained_instances <= scope.live_blocks);
        }
    }
    // Nothing was allocated under these scopes, and what was freed there was not theirs.
    for name in ["elsewhere", "freeing"] {
        let seen = report.scope(name).map_or(0, |s| s.live_blocks);
        assert_eq!(seen, 0, "{when}: scope {name} holds nothing");
    }
}

#[test]
fn every_scope_s_live_bytes_and_blocks_equal_the_truth_after_a_million_random_operations() {
    if !leakguard::ENABLED {
        return;
    }
    let threads: Vec<_> = (0..THREADS)
        .map(|t| std::thread::spawn(move || worker(0x9E37_79B9 + t as u64 * 7919)))
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let live: usize = POOL.iter().map(|p| p.lock().unwrap().len()).sum();
    assert!(
        live > 1000,
        "the test keeps blocks live across threads: {live}"
    );
    check("with blocks live");
    let report = leakguard::report();
    let held: usize = NAMES
        .iter()
        .map(|n| report.scope(n).map_or(0, |s| s.retained_instances))
        .sum();
    assert!(held > 100, "ended instances hold memory: {held}");

    for shard in &POOL {
        for block in shard.lock().unwrap().drain(..) {
            // SAFETY: live, allocated with this layout, freed once.
            unsafe { dealloc(block.at as *mut u8, block.layout) };
            BYTES[block.name].fetch_sub(block.layout.size(), Relaxed);
            BLOCKS[block.name].fetch_sub(1, Relaxed);
        }
    }
    check("after freeing everything");
    for name in NAMES {
        let scope = leakguard::report().scope(name).cloned().unwrap_or_default();
        assert_eq!(
            (
                scope.live_bytes,
                scope.live_blocks,
                scope.retained_instances
            ),
            (0, 0, 0)
        );
    }
}

/// Blocks a thread hands to the test, by address: statics, so that handing them over
/// allocates nothing.
static HANDED: [AtomicUsize; 200] = [const { AtomicUsize::new(0) }; 200];
static HANDED_OVER: AtomicUsize = AtomicUsize::new(0);

fn figures(name: &str) -> (usize, usize) {
    leakguard::report()
        .scope(name)
        .map_or((0, 0), |s| (s.live_bytes, s.live_blocks))
}

#[test]
fn a_scope_running_on_another_thread_is_off_by_at_most_64_blocks_and_64_kib_never_below_zero() {
    if !leakguard::ENABLED {
        return;
    }
    let layout = Layout::from_size_align(100, 8).unwrap();
    let step = std::sync::Arc::new(std::sync::Barrier::new(2));
    let thread = std::thread::spawn({
        let step = step.clone();
        move || {
            let running = leakguard::scope("running elsewhere");
            for handed in &HANDED {
                // SAFETY: a valid layout; freed by the test with it.
                handed.store(unsafe { alloc(layout) } as usize, Relaxed);
            }
            step.wait(); // 1: 200 blocks live in a scope still running here
            step.wait(); // 2: read
            drop(running);
            let handing = leakguard::scope("handed over");
            // SAFETY: as above.
            HANDED_OVER.store(unsafe { alloc(layout) } as usize, Relaxed);
            step.wait(); // 3: one block, handed over
            step.wait(); // 4: freed by the test, read
            drop(handing);
        }
    });
    step.wait(); // 1
    let (bytes, blocks) = figures("running elsewhere");
    assert!((200 - 64..=200).contains(&blocks), "{blocks} blocks");
    assert!(bytes <= 20_000 && 20_000 - bytes <= 64 * 1024, "{bytes} B");
    step.wait(); // 2
    step.wait(); // 3
    // Freed here before the thread that allocated it counted it: shown as none, not less.
    // SAFETY: allocated with `layout`, freed once.
    unsafe { dealloc(HANDED_OVER.load(Relaxed) as *mut u8, layout) };
    assert_eq!(figures("handed over"), (0, 0));
    step.wait(); // 4
    thread.join().unwrap();
    assert_eq!(figures("handed over"), (0, 0), "exact once the scope ended");
    assert_eq!(
        figures("running elsewhere"),
        (20_000, 200),
        "exact once ended"
    );
    for handed in &HANDED {
        // SAFETY: allocated with `layout`, freed once.
        unsafe { dealloc(handed.load(Relaxed) as *mut u8, layout) };
    }
    assert_eq!(figures("running elsewhere"), (0, 0));
}
