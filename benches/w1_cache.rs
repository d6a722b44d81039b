//! W1: a bounded cache under a Zipf(1.0) load, leakguard's `ScopedCache` against its peers
//! in one run: throughput, hit ratio, live bytes per entry and the cost of an empty one.
//!
//! `cargo bench -p leakguard-bench --bench w1_cache`

use std::collections::HashMap;
use std::mem::size_of;

use criterion::{Criterion, SamplingMode};
use leakguard::{HeapSize, ScopedCache};
use leakguard_bench::alloc::Counting;
use leakguard_bench::caches::{Cache, CacheField, Pass, empty_instance, run};
use leakguard_bench::w1::{CAPACITY, KEYS, OPS, Value, keys};
use leakguard_bench::{criterion, fmt_bytes, fmt_ns, locked_version, median_ns, print_table};

#[global_allocator]
static ALLOC: Counting = Counting;

const GROUP: &str = "w1_cache";

/// One cache's figures, all from this run.
struct Figures {
    name: String,
    median_ns: Option<f64>,
    hit_ratio: f64,
    bytes_per_entry: f64,
    empty: usize,
}

/// Measures what `C` holds in one pass, then times the whole workload on a fresh `C` per
/// iteration.
fn measure<C: Cache>(c: &mut Criterion, name: String, id: &str, keys: &[u64]) -> Figures {
    let pass = Pass::<C>::run(None, keys);
    let figures = Figures {
        name,
        median_ns: None,
        hit_ratio: pass.hit_ratio(keys),
        bytes_per_entry: pass.at_end.bytes_per_entry(),
        empty: empty_instance::<C>(None),
    };
    drop(pass);

    let mut group = c.benchmark_group(GROUP);
    // One iteration is a whole 2M-operation run, up to a second for the slowest peer.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.bench_function(id, |b| b.iter(|| run(&mut C::build(None), keys)));
    group.finish();
    Figures {
        median_ns: median_ns(GROUP, id),
        ..figures
    }
}

/// `name version` as Cargo.lock resolved it.
fn peer(package: &str, what: &str) -> String {
    let version = locked_version(package).unwrap_or_else(|| "?".into());
    format!("{package} {version} {what}")
}

fn main() {
    let (keys, best) = keys();
    let hottest = keys.iter().filter(|&&k| k <= CAPACITY as u64).count();
    println!(
        "W1 trace: {OPS} operations over {KEYS} keys; the {CAPACITY} hottest keys get {:.4} \
         of the distribution and {:.4} of this trace's accesses",
        best,
        hottest as f64 / keys.len() as f64
    );

    let mut c = criterion();
    let figures = [
        measure::<ScopedCache<u64, Value>>(
            &mut c,
            "leakguard ScopedCache".into(),
            "leakguard",
            &keys,
        ),
        measure::<CacheField>(
            &mut c,
            "leakguard `#[scoped_cache(max = 10_000)]` field".into(),
            "leakguard_field",
            &keys,
        ),
        measure::<quick_cache::unsync::Cache<u64, Value>>(
            &mut c,
            peer("quick_cache", "`unsync::Cache`"),
            "quick_cache",
            &keys,
        ),
        measure::<HashMap<u64, Value>>(
            &mut c,
            "std HashMap, SipHash (unbounded)".into(),
            "std_hashmap",
            &keys,
        ),
        measure::<schnellru::LruMap<u64, Value>>(
            &mut c,
            peer("schnellru", "`LruMap`, `ByLength`"),
            "schnellru",
            &keys,
        ),
        measure::<lru::LruCache<u64, Value>>(&mut c, peer("lru", "`LruCache`"), "lru", &keys),
        measure::<cached::LruCache<u64, Value>>(
            &mut c,
            peer("cached", "`LruCache` (was `SizedCache`)"),
            "cached",
            &keys,
        ),
        measure::<moka::sync::Cache<u64, Value>>(
            &mut c,
            peer("moka", "`sync::Cache`"),
            "moka",
            &keys,
        ),
        measure::<mini_moka::unsync::Cache<u64, Value>>(
            &mut c,
            peer("mini-moka", "`unsync::Cache`"),
            "mini_moka",
            &keys,
        ),
    ];
    c.final_summary();

    let quick = &figures[2];
    let mops = |ns: Option<f64>| ns.map(|ns| OPS as f64 / ns * 1e3);
    let rows: Vec<Vec<String>> = figures
        .iter()
        .map(|f| {
            let throughput = mops(f.median_ns);
            let ratio = throughput.zip(mops(quick.median_ns)).map(|(a, b)| a / b);
            vec![
                f.name.clone(),
                throughput.map_or("n/a".into(), |m| format!("{m:.2}")),
                ratio.map_or("n/a".into(), |r| format!("{r:.3}")),
                format!("{:.3}", f.hit_ratio),
                format!("{:.1}", f.bytes_per_entry),
                format!("{:.3}", f.bytes_per_entry / quick.bytes_per_entry),
                fmt_bytes(f.empty as f64),
            ]
        })
        .collect();
    print_table(
        &format!(
            "W1: Zipf(1.0), {OPS} get-then-insert-on-miss, capacity {CAPACITY} (median of one run)"
        ),
        &[
            "cache",
            "Mops/s (median)",
            "ratio to quick_cache",
            "hit ratio",
            "live bytes/entry",
            "ratio to quick_cache",
            "empty instance",
        ],
        &rows,
    );
    for f in &figures {
        if let Some(ns) = f.median_ns {
            println!("- {}: {} per 2M-operation run", f.name, fmt_ns(ns));
        }
    }

    // leakguard's own figure against the allocator's: both should read the same bytes.
    let pass = Pass::<ScopedCache<u64, Value>>::run(None, &keys);
    let heap = pass.cache.heap_size();
    println!(
        "\nleakguard sanity: `heap_size()` {} B vs counting allocator {} B live ({} entries, \
         difference {} B); empty instance = size_of {} B + heap",
        heap,
        pass.at_end.live_bytes,
        pass.at_end.entries,
        heap as isize - pass.at_end.live_bytes,
        size_of::<ScopedCache<u64, Value>>(),
    );
}
