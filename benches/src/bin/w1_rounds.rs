//! W1 outside criterion: leakguard's `ScopedCache` (built, and as a
//! `#[scoped_cache(max = 10_000)]` field of a struct made fresh each round) against
//! quick_cache's `unsync::Cache`, in rounds that alternate the three, each round a whole
//! 2M-operation run on a fresh cache. Prints each one's median, min and max over the rounds,
//! and the median of the per-round ratios to quick_cache.
//!
//! `cargo run --release -p leakguard-bench --bin w1_rounds [-- ROUNDS]`, and with
//! `--features instrumented` for instrumentation on. `-- --only NAME` runs one round of
//! one cache alone (`quick_cache`, `builder`, `field`), for a profiler.

use std::hint::black_box;
use std::time::Instant;

use leakguard::ScopedCache;
use leakguard_bench::alloc::Counting;
use leakguard_bench::caches::{Cache, CacheField, run};
use leakguard_bench::w1::{OPS, Value, keys};
use leakguard_bench::{mode, print_rounds};

#[global_allocator]
static ALLOC: Counting = Counting;

type Quick = quick_cache::unsync::Cache<u64, Value>;
type Built = ScopedCache<u64, Value>;

const NAMES: [&str; 3] = ["quick_cache", "builder", "field"];

/// One run on a fresh cache: its time in nanoseconds and its hits.
fn timed<C: Cache>(keys: &[u64]) -> (f64, usize) {
    let start = Instant::now();
    let mut cache = C::build(None);
    let hits = run(&mut cache, black_box(keys));
    drop(black_box(cache));
    (start.elapsed().as_nanos() as f64, hits)
}

fn one(which: &str, keys: &[u64]) -> (f64, usize) {
    match which {
        "quick_cache" => timed::<Quick>(keys),
        "builder" => timed::<Built>(keys),
        "field" => timed::<CacheField>(keys),
        other => panic!("unknown cache {other:?}; one of {NAMES:?}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (keys, _) = keys();
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let which = args.get(i + 1).map_or("quick_cache", String::as_str);
        let (ns, hits) = one(which, &keys);
        println!(
            "{which}: {:.2} ms, hit ratio {:.3}",
            ns / 1e6,
            hits as f64 / keys.len() as f64
        );
        return;
    }
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(15);
    // One untimed run of each, so that the first timed round starts warm.
    for name in NAMES {
        one(name, &keys);
    }
    let mut times = vec![Vec::with_capacity(rounds); NAMES.len()];
    let mut hits = [0usize; 3];
    for round in 0..rounds {
        // Each round starts with a different cache, so that none always follows another.
        for k in 0..NAMES.len() {
            let i = (round + k) % NAMES.len();
            let (ns, h) = one(NAMES[i], &keys);
            times[i].push(ns);
            hits[i] = h;
        }
    }
    let seconds: Vec<Vec<f64>> = times
        .iter()
        .map(|t| t.iter().map(|ns| ns / 1e9).collect())
        .collect();
    let hit_ratios: Vec<f64> = hits.iter().map(|h| *h as f64 / keys.len() as f64).collect();
    print_rounds(
        &format!("W1 in {rounds} alternating rounds, {}", mode()),
        &NAMES,
        &seconds,
        &hit_ratios,
        OPS as f64,
    );
}
