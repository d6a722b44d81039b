//! W2: W1 with a TTL of 50 ms, then idle periods: leakguard's `ScopedCache` against the
//! TTL caches among its peers in one run. Throughput, then what each cache still holds
//! after 200 ms idle + 1 operation and after 400 ms more idle + 1 operation.
//!
//! `cargo bench -p leakguard-bench --bench w2_ttl`

use std::collections::HashMap;
use std::thread::sleep;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use leakguard::{HeapSize, ManualClock, ScopedCache, ScopedRing, SharedCache, track_growth};
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
    // `cargo bench --bench w2_ttl -- pauses`: the expiry pauses alone.
    if std::env::args().any(|a| a == "pauses") {
        expiry_pauses();
        return;
    }
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
/// to be (14 ms for `u64` values, 43 ms for `String`s, 40 ms through a field; 230 ms for
/// one `get` of a `SharedCache`, which also swept every live entry, 16-26 ms, once half
/// the TTL had passed). The operations are lookups of missing keys (pops for the ring):
/// they free and do nothing else, where an insert may also grow quick_cache's table. Beside
/// the last operation, which drops the emptied store, the floor: freeing as many bytes.
/// Maxima on a shared machine catch preemption; the medians are the cost.
fn expiry_pauses() {
    const ENTRIES: u64 = 1_000_000;

    /// What releasing took: the median and the longest operation but the last, the last
    /// (which also drops the emptied storage), how many operations, their time in all; and,
    /// before, the longest of 1,000 operations once half the TTL had passed with every entry
    /// live, and the bytes of the store.
    type Pauses = (
        Duration,
        Duration,
        Duration,
        usize,
        Duration,
        Duration,
        usize,
    );

    /// Fills `cache` with a million entries, times 1,000 operations past half the TTL, lets
    /// them expire, and times each operation of `op` until `expired` says all million were
    /// released.
    fn pauses<C>(
        mut cache: C,
        clock: &ManualClock,
        fill: impl Fn(&mut C, u64),
        op: impl Fn(&mut C, u64),
        expired: impl Fn(&C) -> u64,
        storage: impl Fn(&C) -> usize,
        lookups: bool,
    ) -> Pauses {
        for i in 0..ENTRIES {
            fill(&mut cache, i);
        }
        let storage = storage(&cache);
        clock.advance(Duration::from_secs(31));
        let mut live = Duration::ZERO;
        // Lookups of live keys (a ring is not looked up: its pops would take live entries).
        if lookups {
            for i in 0..1_000 {
                let start = Instant::now();
                op(&mut cache, i * 997);
                live = live.max(start.elapsed());
            }
        }
        assert_eq!(expired(&cache), 0, "released live entries");
        clock.advance(Duration::from_secs(30));
        let mut times = Vec::new();
        while expired(&cache) < ENTRIES {
            let start = Instant::now();
            op(&mut cache, ENTRIES + times.len() as u64);
            times.push(start.elapsed());
        }
        let total = times.iter().sum();
        let last = times.pop().unwrap_or_default();
        times.sort();
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        let longest = times.last().copied().unwrap_or_default();
        (median, longest, last, times.len() + 1, total, live, storage)
    }

    /// Of three runs of a case, each on a fresh cache, the one whose last operation is the
    /// median: one run's last operation is a single sample, at the mercy of the machine.
    fn median_run(mut case: impl FnMut() -> Pauses) -> Pauses {
        let mut runs: Vec<Pauses> = (0..3).map(|_| case()).collect();
        runs.sort_by_key(|run| run.2);
        runs.swap_remove(1)
    }

    /// The bytes of the store of a cache.
    fn storage_of<T: HeapSize>(cache: &T) -> usize {
        cache.footprint().map_or(0, |f| f.storage_bytes)
    }

    /// The floor under dropping an emptied store of `bytes`: the median of 5 drops of that
    /// many bytes, every page written. The allocator and the kernel take this much to give
    /// them back, whatever owns them.
    fn drop_floor(bytes: usize) -> Duration {
        let mut drops: Vec<Duration> = (0..5)
            .map(|_| {
                let store = std::hint::black_box(vec![1u8; bytes]);
                let start = Instant::now();
                drop(store);
                start.elapsed()
            })
            .collect();
        drops.sort();
        drops[2]
    }

    /// Dropping an emptied quick_cache `unsync::Cache<u64, String>` that held a million
    /// entries, beside a slab of a million 24-byte expiry records: the store a
    /// `ScopedCache<u64, String>` with a TTL drops, less leakguard. The median of 3.
    fn quick_cache_drop() -> Duration {
        let mut drops: Vec<Duration> = (0..3)
            .map(|_| {
                let mut cache = quick_cache::unsync::Cache::<u64, String>::new(ENTRIES as usize);
                for i in 0..ENTRIES {
                    cache.insert(i, format!("value {i}"));
                }
                for i in 0..ENTRIES {
                    cache.remove(&i);
                }
                let records = std::hint::black_box(vec![[1u64; 3]; ENTRIES as usize]);
                let start = Instant::now();
                drop(cache);
                drop(records);
                start.elapsed()
            })
            .collect();
        drops.sort();
        drops[1]
    }

    /// Dropping a plain `VecDeque<String>` of a million strings pushed as the ring's are,
    /// popped to empty 2,048 at a time as the ring's operations release them: the drop
    /// alone, timed. The floor of the ring's last operation in the allocator's own terms:
    /// glibc keeps the million small chunks freed before in its fast bins, and freeing a
    /// large chunk of its heap first merges them all (`malloc_consolidate`), then gives the
    /// top of the heap back (`brk`); dropping a fresh `vec![1u8; n]` of the same bytes
    /// (the other floor) does neither. The median of 3.
    fn plain_deque_drop() -> Duration {
        let mut drops: Vec<Duration> = (0..3)
            .map(|_| {
                let mut deque = std::collections::VecDeque::new();
                let mut deadlines = std::collections::VecDeque::new();
                for i in 0..ENTRIES {
                    deque.push_back(format!("event {i}"));
                    deadlines.push_back(i);
                }
                while !deque.is_empty() {
                    for _ in 0..2_048 {
                        deque.pop_front();
                        deadlines.pop_front();
                    }
                    std::hint::black_box(&deque);
                }
                let start = Instant::now();
                drop(deque);
                drop(deadlines);
                start.elapsed()
            })
            .collect();
        drops.sort();
        drops[1]
    }

    #[track_growth]
    struct Service {
        #[scoped_cache(ttl = "60s")]
        sessions: HashMap<u64, String>,
    }

    let ttl = Duration::from_secs(60);
    let mut rows = Vec::new();
    let mut row =
        |case: &str, (median, longest, last, operations, total, live, storage): Pauses| {
            let floor = drop_floor(storage);
            rows.push(vec![
                case.to_string(),
                fmt_ns(live.as_nanos() as f64),
                fmt_ns(median.as_nanos() as f64),
                fmt_ns(longest.as_nanos() as f64),
                fmt_ns(last.as_nanos() as f64),
                format!(
                    "{} ({:.2}x)",
                    fmt_ns(floor.as_nanos() as f64),
                    last.as_secs_f64() / floor.as_secs_f64()
                ),
                operations.to_string(),
                fmt_ns(total.as_nanos() as f64),
            ]);
        };
    row(
        "`ScopedCache<u64, u64>`",
        median_run(|| {
            let clock = ManualClock::new();
            let cache: ScopedCache<u64, u64> = ScopedCache::builder()
                .ttl(ttl)
                .clock(clock.clone())
                .build()
                .unwrap();
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
                storage_of,
                true,
            )
        }),
    );
    /// The pauses of a map of `String` values, filled and looked up by `u64` keys.
    macro_rules! string_map {
        ($cache:expr, $clock:expr) => {
            pauses(
                $cache,
                &$clock,
                |c, i| {
                    c.insert(i, format!("value {i}"));
                },
                |c, i| {
                    c.get(&i);
                },
                |c| c.stats().expirations,
                storage_of,
                true,
            )
        };
    }
    row(
        "`ScopedCache<u64, String>`",
        median_run(|| {
            let clock = ManualClock::new();
            let cache: ScopedCache<u64, String> = ScopedCache::builder()
                .ttl(ttl)
                .clock(clock.clone())
                .build()
                .unwrap();
            string_map!(cache, clock)
        }),
    );
    row(
        "`#[scoped_cache(ttl = \"60s\")]` field, `String` values",
        median_run(|| {
            let clock = ManualClock::new();
            let service = {
                let _installed = clock.install();
                Service {
                    sessions: Default::default(),
                }
            };
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
                |s| storage_of(&s.sessions),
                true,
            )
        }),
    );
    let ring_pauses = median_run(|| {
        let clock = ManualClock::new();
        let ring: ScopedRing<String> = ScopedCache::builder()
            .ttl(ttl)
            .clock(clock.clone())
            .build_ring()
            .unwrap();
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
            storage_of,
            false,
        )
    });
    row("`ScopedRing<String>`", ring_pauses);
    let ring_last = ring_pauses.2;
    let plain_deque = plain_deque_drop();
    row(
        "`SharedCache<u64, String>` (the store's slots stay)",
        median_run(|| {
            let clock = ManualClock::new();
            let cache: SharedCache<u64, String> = SharedCache::builder()
                .max(2 * ENTRIES as usize)
                .ttl(ttl)
                .clock(clock.clone())
                .build()
                .unwrap();
            string_map!(cache, clock)
        }),
    );
    print_table(
        "A million entries expired together, then one lookup (pop) per operation until all are released (of 3 runs, the one with the median last operation)",
        &[
            "cache",
            "before: longest of 1,000 operations past half the TTL",
            "median operation but the last",
            "longest operation but the last",
            "the last, which drops the emptied storage",
            "floor: dropping as many bytes, pages written (last / floor)",
            "operations to release them",
            "time in all",
        ],
        &rows,
    );
    println!(
        "\n- floor of the `ScopedCache<u64, String>` store: an emptied quick_cache \
         `unsync::Cache<u64, String>` of a million entries and a slab of a million 24-byte \
         records drop in {}",
        fmt_ns(quick_cache_drop().as_nanos() as f64)
    );
    println!(
        "- floor of the `ScopedRing<String>` store in the allocator's terms: a plain \
         `VecDeque<String>` of a million strings (and its deadlines), popped to empty 2,048 \
         at a time, drops in {}; the ring's last operation took {} ({:.2}x)",
        fmt_ns(plain_deque.as_nanos() as f64),
        fmt_ns(ring_last.as_nanos() as f64),
        ring_last.as_secs_f64() / plain_deque.as_secs_f64()
    );
}
