//! W2: W1 with a TTL of 50 ms, then idle periods: leakguard's `ScopedCache` against the
//! TTL caches among its peers in one run. Throughput, then what each cache still holds
//! after 200 ms idle + 1 operation and after 400 ms more idle + 1 operation.
//!
//! `cargo bench -p leakguard-bench --bench w2_ttl`

use std::collections::HashMap;
use std::thread::sleep;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use leakguard::{ManualClock, ScopedCache, ScopedRing, track_growth};
use leakguard_bench::alloc::Counting;
use leakguard_bench::caches::{Cache, Held, Pass, TtlCacheField, empty_instance, run};
use leakguard_bench::w1::{CAPACITY, OPS, Value, keys};
use leakguard_bench::{criterion, fmt_bytes, fmt_ns, locked_version, median_ns, print_table};

#[global_allocator]
static ALLOC: Counting = Counting;

const GROUP: &str = "w2_ttl";
const TTL: Duration = Duration::from_millis(50);
const IDLE: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(400)];

/// One cache's figures, all from this run.
struct Figures {
    name: String,
    median_ns: Option<f64>,
    hit_ratio: f64,
    empty: usize,
    at_end: Held,
    after_idle: [Held; 2],
}

/// Runs the idle protocol on one fresh cache, outside any timing, and returns the cache
/// for a closer look; then times the workload on a fresh cache per iteration.
fn measure<C: Cache>(
    c: &mut Criterion,
    name: String,
    id: &str,
    keys: &[u64],
) -> (Figures, Pass<C>) {
    let mut pass = Pass::<C>::run(Some(TTL), keys);
    let after_idle = IDLE.map(|idle| {
        sleep(idle);
        pass.cache.access(keys[0]);
        pass.held()
    });
    let figures = Figures {
        name,
        median_ns: None,
        hit_ratio: pass.hit_ratio(keys),
        empty: empty_instance::<C>(Some(TTL)),
        at_end: pass.at_end,
        after_idle,
    };

    let mut group = c.benchmark_group(GROUP);
    // One iteration is a whole 2M-operation run, up to a second for the slowest peer.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.bench_function(id, |b| b.iter(|| run(&mut C::build(Some(TTL)), keys)));
    group.finish();
    let figures = Figures {
        median_ns: median_ns(GROUP, id),
        ..figures
    };
    (figures, pass)
}

/// `name version` as Cargo.lock resolved it.
fn peer(package: &str, what: &str) -> String {
    let version = locked_version(package).unwrap_or_else(|| "?".into());
    format!("{package} {version} {what}")
}

fn held(h: &Held) -> String {
    format!("{} / {}", h.entries, fmt_bytes(h.live_bytes as f64))
}

fn main() {
    let (keys, _) = keys();
    let mut c = criterion();

    // quick_cache has no TTL: its W1 figure is the reference for the bytes an entry costs.
    let quick = Pass::<quick_cache::unsync::Cache<u64, Value>>::run(None, &keys)
        .at_end
        .bytes_per_entry();

    let (leakguard, pass) = measure::<ScopedCache<u64, Value>>(
        &mut c,
        "leakguard ScopedCache".into(),
        "leakguard",
        &keys,
    );
    let leakguard_stats = pass.cache.stats();
    drop(pass);
    let (leakguard_field, pass) = measure::<TtlCacheField>(
        &mut c,
        "leakguard `#[scoped_cache(max = 10_000, ttl = \"50ms\")]` field".into(),
        "leakguard_field",
        &keys,
    );
    drop(pass);
    let (cached, pass) = measure::<cached::LruTtlCache<u64, Value>>(
        &mut c,
        peer("cached", "`LruTtlCache` (was `TimedSizedCache`)"),
        "cached",
        &keys,
    );
    drop(pass);
    let (moka, pass) = measure::<moka::sync::Cache<u64, Value>>(
        &mut c,
        peer("moka", "`sync::Cache`"),
        "moka",
        &keys,
    );
    // Not part of the protocol: what moka's explicit housekeeping would have released.
    pass.cache.run_pending_tasks();
    let moka_after_pending = pass.held();
    drop(pass);
    let (mini_moka, pass) = measure::<mini_moka::unsync::Cache<u64, Value>>(
        &mut c,
        peer("mini-moka", "`unsync::Cache`"),
        "mini_moka",
        &keys,
    );
    drop(pass);
    c.final_summary();

    let figures = [leakguard, leakguard_field, cached, moka, mini_moka];
    let mops = |ns: Option<f64>| ns.map(|ns| OPS as f64 / ns * 1e3);
    let ratio = |a: Option<f64>, b: Option<f64>| {
        mops(a)
            .zip(mops(b))
            .map_or("n/a".into(), |(a, b)| format!("{:.2}", a / b))
    };
    let rows: Vec<Vec<String>> = figures
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                mops(f.median_ns).map_or("n/a".into(), |m| format!("{m:.2}")),
                ratio(f.median_ns, figures[2].median_ns),
                ratio(f.median_ns, figures[3].median_ns),
                format!("{:.3}", f.hit_ratio),
                format!(
                    "{:.1} ({:.3})",
                    f.at_end.bytes_per_entry(),
                    f.at_end.bytes_per_entry() / quick
                ),
                held(&f.at_end),
                held(&f.after_idle[0]),
                held(&f.after_idle[1]),
                fmt_bytes(f.empty as f64),
            ]
        })
        .collect();
    print_table(
        &format!("W2: W1 with TTL {TTL:?}, then idle (median of one run)"),
        &[
            "cache",
            "Mops/s (median)",
            "ratio vs cached",
            "ratio vs moka",
            "hit ratio",
            "live bytes/entry at end (ratio to quick_cache W1)",
            "entries / live bytes at end",
            "after 200 ms idle + 1 op",
            "after 400 ms idle + 1 op",
            "empty instance",
        ],
        &rows,
    );
    println!();
    for f in &figures {
        if let Some(ns) = f.median_ns {
            println!("- {}: {} per 2M-operation run", f.name, fmt_ns(ns));
        }
    }
    println!(
        "- quick_cache {} `unsync::Cache` (no TTL), W1 in this run: {quick:.1} live bytes/entry",
        locked_version("quick_cache").unwrap_or_default(),
    );
    println!("- leakguard stats of the protocol run: {leakguard_stats:?}; capacity {CAPACITY}");
    println!(
        "- moka: measured from plain operations only; `run_pending_tasks()` called after the \
         protocol leaves {}",
        held(&moka_after_pending)
    );
    println!();
    expiry_pauses();
}

/// How long one operation may take once a million entries have expired together, and how
/// many operations it takes to release them: the pause that releasing them all at once used
/// to be (14 ms for `u64` values, 43 ms for `String`s, 40 ms through a field). The
/// operations are lookups of missing keys (pops for the ring): they free and do nothing
/// else, where an insert may also grow quick_cache's table.
fn expiry_pauses() {
    const ENTRIES: u64 = 1_000_000;

    /// What releasing took: the longest operation but the last, the last (which also drops
    /// the emptied storage), how many operations, and their time in all.
    type Pauses = (Duration, Duration, usize, Duration);

    /// Fills `cache` with a million entries, lets them expire, and times each operation of
    /// `op` until `expired` says all million were released.
    fn pauses<C>(
        mut cache: C,
        clock: &ManualClock,
        fill: impl Fn(&mut C, u64),
        op: impl Fn(&mut C, u64),
        expired: impl Fn(&C) -> u64,
    ) -> Pauses {
        for i in 0..ENTRIES {
            fill(&mut cache, i);
        }
        clock.advance(Duration::from_secs(61));
        let mut times = Vec::new();
        while expired(&cache) < ENTRIES {
            let start = Instant::now();
            op(&mut cache, ENTRIES + times.len() as u64);
            times.push(start.elapsed());
        }
        let total = times.iter().sum();
        let last = times.pop().unwrap_or_default();
        let longest = times.iter().max().copied().unwrap_or_default();
        (longest, last, times.len() + 1, total)
    }

    #[track_growth]
    struct Service {
        #[scoped_cache(ttl = "60s")]
        sessions: HashMap<u64, String>,
    }

    let ttl = Duration::from_secs(60);
    let mut rows = Vec::new();
    let mut row = |case: &str, (longest, last, operations, total): Pauses| {
        rows.push(vec![
            case.to_string(),
            fmt_ns(longest.as_nanos() as f64),
            fmt_ns(last.as_nanos() as f64),
            operations.to_string(),
            fmt_ns(total.as_nanos() as f64),
        ]);
    };
    let clock = ManualClock::new();
    let cache: ScopedCache<u64, u64> = ScopedCache::builder()
        .ttl(ttl)
        .clock(clock.clone())
        .build()
        .unwrap();
    row(
        "`ScopedCache<u64, u64>`",
        pauses(
            cache,
            &clock,
            |c, i| {
                c.insert(i, i);
            },
            |c, i| {
                c.get(&i);
            },
            |c| c.stats().expirations,
        ),
    );
    let clock = ManualClock::new();
    let cache: ScopedCache<u64, String> = ScopedCache::builder()
        .ttl(ttl)
        .clock(clock.clone())
        .build()
        .unwrap();
    row(
        "`ScopedCache<u64, String>`",
        pauses(
            cache,
            &clock,
            |c, i| {
                c.insert(i, format!("value {i}"));
            },
            |c, i| {
                c.get(&i);
            },
            |c| c.stats().expirations,
        ),
    );
    let clock = ManualClock::new();
    let service = {
        let _installed = clock.install();
        Service {
            sessions: Default::default(),
        }
    };
    row(
        "`#[scoped_cache(ttl = \"60s\")]` field, `String` values",
        pauses(
            service,
            &clock,
            |s, i| {
                s.sessions.insert(i, format!("value {i}"));
            },
            |s, i| {
                s.sessions.get(&i);
            },
            |s| s.sessions.stats().expirations,
        ),
    );
    let clock = ManualClock::new();
    let ring: ScopedRing<String> = ScopedCache::builder()
        .ttl(ttl)
        .clock(clock.clone())
        .build_ring()
        .unwrap();
    row(
        "`ScopedRing<String>`",
        pauses(
            ring,
            &clock,
            |r, i| {
                r.push(format!("event {i}"));
            },
            |r, _| {
                r.pop_front();
            },
            |r| r.stats().expirations,
        ),
    );
    print_table(
        "A million entries expired together, then one lookup (pop) per operation until all are released",
        &[
            "cache",
            "longest operation but the last",
            "the last, which drops the emptied storage",
            "operations to release them",
            "time in all",
        ],
        &rows,
    );
}
