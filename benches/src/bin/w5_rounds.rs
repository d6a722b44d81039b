//! W5 outside criterion: leakguard's `SharedCache` (built) against quick_cache's
//! `sync::Cache`, both on 2 threads sharing one cache, in alternating rounds; each round a
//! whole run (1M get-then-insert-on-miss per thread) on a fresh cache. Prints medians, the
//! spread, and the median of the per-round ratios to quick_cache.
//!
//! `cargo run --release -p leakguard-bench --bin w5_rounds [-- ROUNDS]`, and with
//! `--features instrumented`; `-- --only NAME` runs one round of one cache, for a profiler.
//! `-- --count NAME N` runs the first `N` operations of each thread's trace on one cache, for
//! an instruction count where wall time is too noisy: under callgrind, the difference between
//! `N` and `0` over `2 N` is the instructions an operation (build with the bench's `valgrind`
//! feature for the instrumented build, whose clock read faults under valgrind without it).
//! NAME is one of `quick_cache`, `leakguard` (the builder) and `field` (a
//! `#[scoped_cache(max = 10_000, shared)]` field of a struct made for the round).

use std::time::{Duration, Instant};

use std::collections::HashMap;

use leakguard::{SharedCache, track_growth};
use leakguard_bench::alloc::Counting;
use leakguard_bench::w1::{CAPACITY, KEYS, S, SEED, Value, value};
use leakguard_bench::zipf::{Zipf, trace};
use leakguard_bench::{mode, print_rounds};

#[global_allocator]
static ALLOC: Counting = Counting;

const OPS: usize = 1_000_000;
const NAMES: [&str; 3] = ["quick_cache", "leakguard", "field"];

/// The path users write: a state with a shared cache field.
#[track_growth]
#[derive(Default)]
struct AppState {
    #[scoped_cache(max = 10_000, shared)]
    cache: HashMap<u64, Value>,
}

fn traces() -> Vec<Vec<u64>> {
    let zipf = Zipf::new(KEYS, S);
    (0..2u64)
        .map(|t| {
            trace(
                &zipf,
                OPS,
                SEED ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
        })
        .collect()
}

/// One run on 2 threads: its time and hits.
fn timed<C: Sync>(cache: C, traces: &[Vec<u64>], access: fn(&C, u64) -> bool) -> (Duration, usize) {
    let start = Instant::now();
    let hits = std::thread::scope(|scope| {
        let cache = &cache;
        let threads: Vec<_> = traces
            .iter()
            .map(|keys| scope.spawn(move || keys.iter().filter(|&&k| access(cache, k)).count()))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    drop(cache);
    (start.elapsed(), hits)
}

fn one(which: &str, traces: &[Vec<u64>]) -> (Duration, usize) {
    match which {
        "quick_cache" => timed(
            quick_cache::sync::Cache::<u64, Value>::new(CAPACITY),
            traces,
            |c, k| {
                if c.get(&k).is_some() {
                    return true;
                }
                c.insert(k, value(k));
                false
            },
        ),
        "leakguard" => timed(
            SharedCache::builder()
                .max(CAPACITY)
                .build::<u64, Value>()
                .expect("valid bounds"),
            traces,
            |c, k| {
                if c.get(&k).is_some() {
                    return true;
                }
                c.insert(k, value(k));
                false
            },
        ),
        "field" => timed(AppState::default(), traces, |s, k| {
            if s.cache.get(&k).is_some() {
                return true;
            }
            s.cache.insert(k, value(k));
            false
        }),
        other => panic!("unknown cache {other:?}; one of {NAMES:?}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut traces = traces();
    if let Some(i) = args.iter().position(|a| a == "--count") {
        let which = args.get(i + 1).map_or("quick_cache", String::as_str);
        let n: usize = match args.get(i + 2).map(|n| n.parse()) {
            Some(Ok(n)) if n <= OPS => n,
            _ => {
                eprintln!("usage: w5_rounds --count NAME N, N at most {OPS}");
                std::process::exit(2);
            }
        };
        for trace in &mut traces {
            trace.truncate(n);
        }
        let (_, hits) = one(which, &traces);
        println!("{which}: {hits} hits in {} operations", 2 * n);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let which = args.get(i + 1).map_or("quick_cache", String::as_str);
        let (time, hits) = one(which, &traces);
        println!("{which}: {time:?}, {hits} hits");
        return;
    }
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(15);
    for name in NAMES {
        one(name, &traces);
    }
    let mut times = vec![Vec::new(); NAMES.len()];
    let mut hits = [0; NAMES.len()];
    for round in 0..rounds {
        for k in 0..NAMES.len() {
            let i = (round + k) % NAMES.len();
            let (t, h) = one(NAMES[i], &traces);
            times[i].push(t.as_secs_f64());
            hits[i] = h;
        }
    }
    let total = (2 * OPS) as f64;
    let hit_ratios: Vec<f64> = hits.iter().map(|h| *h as f64 / total).collect();
    print_rounds(
        &format!("W5 on 2 threads in {rounds} alternating rounds, {}", mode()),
        &NAMES,
        &times,
        &hit_ratios,
        total,
    );
}
