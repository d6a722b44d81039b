//! W4: the cost of instrumentation. A tracked field against the same plain field, in one run.
//!
//! `cargo bench -p leakguard-bench --bench w4_overhead` measures the compiled-out build;
//! add `--features instrumented` to keep instrumentation on in the optimized build.

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

const PUSHES: u64 = 10_000_000;
const INSERTS: u64 = 1_000_000;
const STRUCTS: usize = 1_000_000;

macro_rules! pushes {
    ($ty:ty) => {{
        let mut log = <$ty>::default();
        for i in 0..PUSHES {
            log.values.push(black_box(i));
        }
        log.values.len()
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

macro_rules! create_drop {
    ($ty:ty) => {{
        for _ in 0..STRUCTS {
            black_box(<$ty>::default());
        }
    }};
}

fn main() {
    let mut c = criterion();
    let mut group = c.benchmark_group("w4_push");
    group.bench_function("plain", |b| b.iter(|| pushes!(PlainLog)));
    group.bench_function("tracked", |b| b.iter(|| pushes!(TrackedLog)));
    group.finish();

    let mut group = c.benchmark_group("w4_insert");
    group.bench_function("plain", |b| b.iter(|| inserts!(PlainIndex)));
    group.bench_function("tracked", |b| b.iter(|| inserts!(TrackedIndex)));
    group.finish();

    let mut group = c.benchmark_group("w4_create_drop");
    group.bench_function("plain", |b| b.iter(|| create_drop!(PlainRequest)));
    group.bench_function("tracked", |b| b.iter(|| create_drop!(TrackedRequest)));
    group.bench_function("box_alloc_free", |b| {
        b.iter(|| {
            for _ in 0..STRUCTS {
                black_box(Box::new([0u64; 4]));
            }
        })
    });
    group.finish();
    c.final_summary();

    let mut rows = Vec::new();
    for (label, group) in [
        ("`Vec::push` x 10M u64", "w4_push"),
        ("`HashMap::insert` x 1M u64", "w4_insert"),
        ("create + drop x 1M, three tracked fields", "w4_create_drop"),
    ] {
        let (Some(plain), Some(tracked)) = (median_ns(group, "plain"), median_ns(group, "tracked"))
        else {
            continue;
        };
        rows.push(vec![
            label.to_string(),
            fmt_ns(plain),
            fmt_ns(tracked),
            format!("{:.3}", tracked / plain),
        ]);
    }
    if let (Some(plain), Some(tracked), Some(boxed)) = (
        median_ns("w4_create_drop", "plain"),
        median_ns("w4_create_drop", "tracked"),
        median_ns("w4_create_drop", "box_alloc_free"),
    ) {
        let per = |ns: f64| ns / STRUCTS as f64;
        rows.push(vec![
            "extra per struct vs one `Box::new([u64; 4])` + free".to_string(),
            format!("{:.2} ns", per(tracked) - per(plain)),
            format!("{:.2} ns", per(boxed)),
            format!("{:.3}", (per(tracked) - per(plain)) / per(boxed)),
        ]);
    }
    print_table(
        &format!("W4 overhead, {} (medians)", mode()),
        &["workload", "plain field", "tracked field", "ratio"],
        &rows,
    );
}
