//! W7: alloc + free pairs of 64 B in a tight loop, on one thread and on 4, under whatever
//! global allocator the calling binary installed (a process has one: one binary per
//! allocator, run alternately by `benches/run`). Each binary appends its medians to one
//! file of rounds, which `w7_table` reads back into the table with spread and ratios.

use std::alloc::{Layout, alloc, dealloc};
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use criterion::Criterion;

const THREADS: usize = 4;

/// Enters the scope a case runs in, if any, on the thread that calls it.
type Enter = fn() -> Option<leakguard::ScopeGuard>;

/// Where every round of every allocator's medians goes.
pub fn rounds_file() -> std::path::PathBuf {
    crate::output_dir().join("w7-rounds.tsv")
}

#[inline(always)]
fn pair(layout: Layout) {
    // SAFETY: a valid non-zero layout; the block is freed at once with it.
    unsafe {
        let block = alloc(layout);
        black_box(block);
        dealloc(block, layout);
    }
}

fn pairs_on_threads(iters: u64, enter: Enter) -> Duration {
    let layout = Layout::from_size_align(64, 8).unwrap();
    let barrier = std::sync::Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let _scope = enter();
                barrier.wait();
                for _ in 0..iters {
                    pair(layout);
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

/// Bytes of resident memory a live block of each of `sizes` costs, from the process's RSS
/// with a million of them live: what the allocator adds (a trailer, a header) and malloc's
/// own. Every batch stays live until all are measured, so that none reuses another's pages.
fn rss_per_block(sizes: &[usize]) -> Vec<f64> {
    fn rss() -> f64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: f64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0.0);
        pages * 4096.0
    }
    const N: usize = 1_000_000;
    let mut batches = Vec::new();
    let mut per_block = Vec::new();
    for &size in sizes {
        let layout = Layout::from_size_align(size, 8).unwrap();
        let mut blocks = Vec::with_capacity(N);
        let before = rss();
        for _ in 0..N {
            // SAFETY: a valid layout; freed below.
            blocks.push(unsafe { alloc(layout) } as usize);
        }
        per_block.push((rss() - before) / N as f64);
        batches.push((layout, blocks));
    }
    for (layout, blocks) in batches {
        for block in blocks {
            // SAFETY: allocated above with `layout`.
            unsafe { dealloc(block as *mut u8, layout) };
        }
    }
    per_block
}

/// Runs W7 for the allocator this binary installed, named `allocator`; `scoped` adds the
/// cases inside a leak scope.
pub fn run(allocator: &str, scoped: bool) {
    let mut c: Criterion = crate::criterion()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let layout = Layout::from_size_align(64, 8).unwrap();
    let outside: Enter = || None;
    let inside: Enter = || Some(leakguard::scope("w7"));
    let mut cases: Vec<(String, Enter)> = vec![(allocator.to_string(), outside)];
    if scoped {
        cases.push((format!("{allocator} in a scope"), inside));
    }
    let mut group = c.benchmark_group("w7");
    for (name, enter) in &cases {
        let enter = *enter;
        group.bench_function(format!("{name}/1 thread"), |b| {
            let _scope = enter();
            b.iter(|| pair(layout));
        });
        group.bench_function(format!("{name}/{THREADS} threads"), |b| {
            b.iter_custom(|iters| pairs_on_threads(iters, enter));
        });
    }
    group.finish();
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(rounds_file())
        .expect("the rounds file");
    for (name, _) in &cases {
        for threads in ["1 thread", "4 threads"] {
            let id = format!("{name}/{threads}").replace('/', "_");
            if let Some(ns) = crate::median_ns("w7", &id) {
                let _ = writeln!(out, "{name}\t{threads}\t{ns}");
            }
        }
    }
    let sizes = [24, 64];
    for (size, bytes) in sizes.iter().zip(rss_per_block(&sizes)) {
        let _ = writeln!(out, "{allocator}\trss per {size} B block\t{bytes}");
    }
}
