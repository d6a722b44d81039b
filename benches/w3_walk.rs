//! W3 cost: one deep walk of a large String-keyed map, leakguard beside each peer in one run.
//!
//! `cargo bench -p leakguard-bench --bench w3_walk`

use std::hint::black_box;

use criterion::Criterion;
use deepsize::DeepSizeOf;
use get_size2::GetSize;
use leakguard::HeapSize;
use leakguard_bench::w3::{small_maps, string_keyed_map};
use leakguard_bench::{criterion, fmt_ns, median_ns, print_table};
use mem_dbg::{MemSize, SizeFlags};

/// A value every tool of the table can measure through its std impls.
trait Measurable: HeapSize + MemSize + GetSize + DeepSizeOf {}

impl<T: HeapSize + MemSize + GetSize + DeepSizeOf> Measurable for T {}

/// The tools in table order, as criterion names them; leakguard first, the base of ratios.
/// `leakguard heap_usage` is the walk that also sums the unused bytes.
const TOOLS: [&str; 5] = [
    "leakguard",
    "leakguard heap_usage",
    "mem_dbg",
    "get-size2",
    "deepsize",
];

/// Times each tool's deep walk of `value`, each through the call the accuracy table uses.
fn walk_each<T: Measurable>(c: &mut Criterion, group: &str, value: &T) {
    let mut group = c.benchmark_group(group);
    group.bench_function(TOOLS[0], |b| b.iter(|| black_box(value).heap_size()));
    group.bench_function(TOOLS[1], |b| b.iter(|| black_box(value).heap_usage()));
    group.bench_function(TOOLS[2], |b| {
        b.iter(|| black_box(value).mem_size(SizeFlags::CAPACITY))
    });
    group.bench_function(TOOLS[3], |b| b.iter(|| black_box(value).get_heap_size()));
    group.bench_function(TOOLS[4], |b| b.iter(|| black_box(value).deep_size_of()));
    group.finish();
}

/// A tool's median and its ratio to leakguard's, or `n/a` where criterion left none.
fn timing(group: &str, tool: &str) -> [String; 2] {
    match (median_ns(group, tool), median_ns(group, TOOLS[0])) {
        (Some(ns), Some(base)) => [fmt_ns(ns), format!("{:.2}", ns / base)],
        (Some(ns), None) => [fmt_ns(ns), "n/a".to_string()],
        _ => ["n/a".to_string(), "n/a".to_string()],
    }
}

fn main() {
    let mut c = criterion();

    // Built once, outside the timings: only the walk is measured.
    let map = string_keyed_map(1_000_000);
    walk_each(&mut c, "w3_walk_1m_map", &map);
    drop(map);

    let maps = small_maps();
    walk_each(&mut c, "w3_walk_c4_maps", &maps);
    drop(maps);

    c.final_summary();

    let rows: Vec<Vec<String>> = TOOLS
        .iter()
        .map(|tool| {
            let mut row = vec![tool.to_string()];
            row.extend(timing("w3_walk_1m_map", tool));
            row.extend(timing("w3_walk_c4_maps", tool));
            row
        })
        .collect();
    print_table(
        "W3 walk cost (medians; ratio = tool / leakguard)",
        &[
            "tool",
            "`HashMap<String, Vec<u8>>`, 1M entries",
            "ratio",
            "c4 `Vec<HashMap<String, String>>`, 19,800 entries",
            "ratio",
        ],
        &rows,
    );
}
