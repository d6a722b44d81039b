//! W4: the cost of instrumentation. A tracked field against the same plain field, in one run.
//!
//! `cargo bench -p leakguard-bench --bench w4_overhead` measures the compiled-out build;
//! add `--features instrumented` to keep instrumentation on in the optimized build. Each
//! pair runs in alternating rounds; the table gives the medians over rounds and the ratio
//! of each round.

use std::collections::HashMap;
use std::hint::black_box;

use leakguard::track_growth;
use leakguard_bench::{criterion, fmt_ns, median_ns, mode, print_table};

#[track_growth]
#[derive(Default)]
struct TrackedLog {
    #[budget(len = 100_000_000)]
    values: Vec<u64>,
}

#[derive(Default)]
struct PlainLog {
    values: Vec<u64>,
}

#[track_growth]
#[derive(Default)]
struct TrackedIndex {
    #[budget(len = 100_000_000)]
    map: HashMap<u64, u64>,
}

#[derive(Default)]
struct PlainIndex {
    map: HashMap<u64, u64>,
}

#[track_growth(len = 1_000)]
#[derive(Default)]
struct TrackedRequest {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

// Built and dropped only: the point is what creating the fields costs.
#[allow(dead_code)]
#[derive(Default)]
struct PlainRequest {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

/// A field updated in place: a counter per key, as request counting does.
#[track_growth]
#[derive(Default)]
struct TrackedCounters {
    #[budget(len = 100_000_000)]
    map: HashMap<u64, u64>,
}

#[derive(Default)]
struct PlainCounters {
    map: HashMap<u64, u64>,
}

/// A field whose values own heap, each handed out through `get_mut` and measured again.
#[track_growth]
#[derive(Default)]
struct TrackedNames {
    #[budget(len = 100_000_000)]
    map: HashMap<u64, String>,
}

#[derive(Default)]
struct PlainNames {
    map: HashMap<u64, String>,
}

const PUSHES: u64 = 10_000_000;
const INSERTS: u64 = 1_000_000;
const STRUCTS: usize = 1_000_000;
const ENTRIES: u64 = 100_000;

macro_rules! pushes {
    ($ty:ty) => {{
        let mut log = <$ty>::default();
        for i in 0..PUSHES {
            log.values.push(black_box(i));
        }
        log.values.len()
    }};
}

/// Pushes into storage reserved and touched beforehand: the instrumentation alone, without
/// the page faults that dominate `pushes!` and make it drift.
macro_rules! pushes_into {
    ($log:expr) => {{
        $log.values.clear();
        for i in 0..PUSHES {
            $log.values.push(black_box(i));
        }
        $log.values.len()
    }};
}

macro_rules! inserts {
    ($ty:ty) => {{
        let mut index = <$ty>::default();
        for i in 0..INSERTS {
            index.map.insert(black_box(i), i);
        }
        index.map.len()
    }};
}

/// `get_mut` of every key of a 100k-entry map, through the field as users write it.
macro_rules! gets_mut {
    ($counters:expr) => {{
        for key in 0..ENTRIES {
            *$counters.map.get_mut(&black_box(key)).unwrap() += 1;
        }
        $counters.map.len()
    }};
}

/// `get_mut` of every key of a 100k-entry map of strings, reading each through `&mut`.
macro_rules! gets_mut_owned {
    ($names:expr) => {{
        let mut total = 0;
        for key in 0..ENTRIES {
            total += black_box($names.map.get_mut(&black_box(key)).unwrap()).len();
        }
        total
    }};
}

macro_rules! create_drop {
    ($ty:ty) => {{
        for _ in 0..STRUCTS {
            black_box(<$ty>::default());
        }
    }};
}

/// Threads of the threaded create + drop workloads, and structs made in all.
const THREADS: usize = 8;
const THREADED_STRUCTS: usize = 10_000_000;

/// Fills each field of a request once: a push or an insert per field.
macro_rules! fill {
    ($request:expr, $i:expr) => {{
        let mut request = $request;
        request.headers.push((String::new(), String::new()));
        request.params.insert(String::new(), String::new());
        request.body.push(char::from(b'a' + ($i % 26) as u8));
        black_box(request);
    }};
}

/// `THREADED_STRUCTS` structs made and dropped on `THREADS` threads at once, each made by
/// `make` (which drops it): the wall time of the whole.
fn on_threads(make: fn(usize)) {
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(move || {
                for i in 0..THREADED_STRUCTS / THREADS {
                    make(i);
                }
            });
        }
    });
}

fn plain_empty(_: usize) {
    black_box(PlainRequest::default());
}

fn tracked_empty(_: usize) {
    black_box(TrackedRequest::default());
}

fn plain_filled(i: usize) {
    fill!(PlainRequest::default(), i);
}

fn tracked_filled(i: usize) {
    fill!(TrackedRequest::default(), i);
}

/// Rounds of each plain/tracked pair, alternating. The push and insert workloads spend most
/// of their time in page faults, whose cost drifts by several percent over a run on this
/// machine; alternating the two sides and taking medians keeps the drift out of the ratio.
const ROUNDS: usize = 3;

fn main() {
    let mut c = criterion();
    let mut group = c.benchmark_group("w4_push");
    for round in 1..=ROUNDS {
        group.bench_function(format!("plain_{round}"), |b| b.iter(|| pushes!(PlainLog)));
        group.bench_function(format!("tracked_{round}"), |b| {
            b.iter(|| pushes!(TrackedLog))
        });
    }
    group.finish();

    let mut plain = PlainLog::default();
    let mut tracked = TrackedLog::default();
    plain.values.extend(0..PUSHES);
    tracked.values.extend(0..PUSHES);
    let mut group = c.benchmark_group("w4_push_reserved");
    for round in 1..=ROUNDS {
        group.bench_function(format!("plain_{round}"), |b| b.iter(|| pushes_into!(plain)));
        group.bench_function(format!("tracked_{round}"), |b| {
            b.iter(|| pushes_into!(tracked))
        });
    }
    group.finish();
    drop((plain, tracked));

    let mut group = c.benchmark_group("w4_insert");
    for round in 1..=ROUNDS {
        group.bench_function(format!("plain_{round}"), |b| {
            b.iter(|| inserts!(PlainIndex))
        });
        group.bench_function(format!("tracked_{round}"), |b| {
            b.iter(|| inserts!(TrackedIndex))
        });
    }
    group.finish();

    let mut plain = PlainCounters::default();
    let mut tracked = TrackedCounters::default();
    for key in 0..ENTRIES {
        plain.map.insert(key, 0);
        tracked.map.insert(key, 0);
    }
    let mut group = c.benchmark_group("w4_get_mut");
    for round in 1..=ROUNDS {
        group.bench_function(format!("plain_{round}"), |b| b.iter(|| gets_mut!(plain)));
        group.bench_function(format!("tracked_{round}"), |b| {
            b.iter(|| gets_mut!(tracked))
        });
    }
    group.finish();
    drop((plain, tracked));

    let mut plain = PlainNames::default();
    let mut tracked = TrackedNames::default();
    for key in 0..ENTRIES {
        plain.map.insert(key, format!("name {key}"));
        tracked.map.insert(key, format!("name {key}"));
    }
    let mut group = c.benchmark_group("w4_get_mut_owned");
    for round in 1..=ROUNDS {
        group.bench_function(format!("plain_{round}"), |b| {
            b.iter(|| gets_mut_owned!(plain))
        });
        group.bench_function(format!("tracked_{round}"), |b| {
            b.iter(|| gets_mut_owned!(tracked))
        });
    }
    group.finish();
    drop((plain, tracked));

    let mut group = c.benchmark_group("w4_create_drop");
    for round in 1..=ROUNDS {
        group.bench_function(format!("plain_{round}"), |b| {
            b.iter(|| create_drop!(PlainRequest))
        });
        group.bench_function(format!("tracked_{round}"), |b| {
            b.iter(|| create_drop!(TrackedRequest))
        });
    }
    group.bench_function("box_alloc_free", |b| {
        b.iter(|| {
            for _ in 0..STRUCTS {
                black_box(Box::new([0u64; 4]));
            }
        })
    });
    group.finish();

    for (group, plain, tracked) in [
        (
            "w4_threads_create_drop",
            plain_empty as fn(usize),
            tracked_empty as fn(usize),
        ),
        ("w4_threads_filled", plain_filled, tracked_filled),
    ] {
        let mut group = c.benchmark_group(group);
        // Whole seconds an iteration with instrumentation on: the fewest samples will do.
        group.sample_size(10);
        for round in 1..=ROUNDS {
            group.bench_function(format!("plain_{round}"), |b| b.iter(|| on_threads(plain)));
            group.bench_function(format!("tracked_{round}"), |b| {
                b.iter(|| on_threads(tracked))
            });
        }
        group.finish();
    }
    c.final_summary();

    let mut rows = Vec::new();
    for (label, group) in [
        ("`Vec::push` x 10M u64", "w4_push"),
        (
            "`Vec::push` x 10M u64 into reserved, touched storage",
            "w4_push_reserved",
        ),
        ("`HashMap::insert` x 1M u64", "w4_insert"),
        ("`get_mut` x 100k on a 100k-entry map of u64", "w4_get_mut"),
        (
            "`get_mut` x 100k on a 100k-entry map of `String`",
            "w4_get_mut_owned",
        ),
        ("create + drop x 1M, three tracked fields", "w4_create_drop"),
        (
            "8 threads: create + drop x 10M in all, three tracked fields",
            "w4_threads_create_drop",
        ),
        (
            "8 threads: create, one push or insert per field, drop x 10M in all",
            "w4_threads_filled",
        ),
    ] {
        let (Some(plain), Some(tracked)) = (rounds(group, "plain"), rounds(group, "tracked"))
        else {
            continue;
        };
        let ratios: Vec<f64> = plain.iter().zip(&tracked).map(|(p, t)| t / p).collect();
        rows.push(vec![
            label.to_string(),
            fmt_ns(median(&plain)),
            fmt_ns(median(&tracked)),
            format!("{:.3}", median(&tracked) / median(&plain)),
            format!(
                "{:.3} to {:.3}",
                ratios.iter().copied().fold(f64::MAX, f64::min),
                ratios.iter().copied().fold(f64::MIN, f64::max)
            ),
        ]);
    }
    if let (Some(plain), Some(tracked), Some(boxed)) = (
        rounds("w4_create_drop", "plain"),
        rounds("w4_create_drop", "tracked"),
        median_ns("w4_create_drop", "box_alloc_free"),
    ) {
        let (plain, tracked) = (median(&plain), median(&tracked));
        let per = |ns: f64| ns / STRUCTS as f64;
        rows.push(vec![
            "extra per struct vs one `Box::new([u64; 4])` + free".to_string(),
            format!("{:.2} ns", per(tracked) - per(plain)),
            format!("{:.2} ns", per(boxed)),
            format!("{:.3}", (per(tracked) - per(plain)) / per(boxed)),
            String::new(),
        ]);
    }
    print_table(
        &format!("W4 overhead, {} (medians)", mode()),
        &[
            "workload",
            "plain field",
            "tracked field",
            "ratio of medians",
            "ratio per round",
        ],
        &rows,
    );
}

/// The medians of every round of `side` in `group`, if all ran.
fn rounds(group: &str, side: &str) -> Option<Vec<f64>> {
    (1..=ROUNDS)
        .map(|round| median_ns(group, &format!("{side}_{round}")))
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
