//! What the layer's detectors cost, against issue 4's targets:
//! - a sampler tick with 10,000 live tracked collections, as a share of a 1 s interval
//!   (target: under 1% of one core);
//! - `report()` over 100,000 live collections (target: under 50 ms);
//! - creating and dropping a scoped struct inside a span, against the same struct unscoped
//!   (target: no more than 2x);
//! - `Report::diff` of two reports of 80,000 groups (issue 20: it took 10.2 s when it
//!   scanned the earlier report for each group).
//!
//! `cargo bench -p leakguard-bench --bench layer_costs --features instrumented`: without the
//! feature, instrumentation is compiled out of the optimized build and there is nothing to
//! measure.

use std::collections::HashMap;
use std::hint::black_box;

use leakguard::track_growth;
use leakguard_bench::{criterion, fmt_ns, median_ns, mode, print_table};
use tracing_subscriber::layer::SubscriberExt;

#[track_growth]
#[derive(Default)]
struct Session {
    events: Vec<u64>,
}

#[track_growth]
#[derive(Default)]
struct Request {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

#[track_growth(scoped)]
#[derive(Default)]
struct ScopedRequest {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

const STRUCTS: usize = 1_000_000;

fn live(count: usize) -> Vec<Session> {
    (0..count)
        .map(|i| {
            let mut s = Session::default();
            s.events.push(i as u64);
            s
        })
        .collect()
}

/// `per_name` named rings for each of `names` names, each holding one entry.
fn named_rings(names: usize, per_name: usize) -> Vec<leakguard::NamedRing<u64>> {
    (0..names)
        .flat_map(|n| {
            let name = format!("ring-{n:04}");
            (0..per_name).map(move |i| {
                let mut ring = leakguard::ScopedRing::builder()
                    .name(&name)
                    .max(4)
                    .build_ring()
                    .expect("a valid bound");
                ring.push(i as u64);
                ring
            })
        })
        .collect()
}

/// `count` caches, each with a name of its own (so a group of its own) and one entry.
fn named_caches(count: usize) -> Vec<leakguard::NamedCache<u64, u64>> {
    (0..count)
        .map(|i| {
            let mut cache = leakguard::ScopedCache::builder()
                .name(&format!("cache-{i:05}"))
                .max(4)
                .build()
                .expect("a valid bound");
            cache.insert(0, i as u64);
            cache
        })
        .collect()
}

const DIFF_GROUPS: usize = 80_000;

fn main() {
    if !leakguard::ENABLED {
        eprintln!("instrumentation is compiled out: run with --features instrumented");
        return;
    }
    let subscriber = tracing_subscriber::registry().with(leakguard::layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut c = criterion();

    let sessions = live(10_000);
    c.bench_function("layer_sample_tick_10k", |b| {
        b.iter(|| black_box(leakguard::__hooks::sample_tick()))
    });
    drop(sessions);

    let sessions = live(100_000);
    c.bench_function("layer_report_100k", |b| {
        b.iter(|| black_box(leakguard::report()))
    });
    drop(sessions);

    // Exports of a report of 100,000 live collections in 1,000 groups: named rings, 100
    // of each name, each holding an entry.
    let rings = named_rings(1_000, 100);
    let report = leakguard::report();
    assert_eq!(report.groups.len(), 1_000);
    let mut group = c.benchmark_group("export_100k_in_1k_groups");
    group.bench_function("to_pprof", |b| b.iter(|| black_box(report.to_pprof())));
    group.bench_function("folded", |b| b.iter(|| black_box(report.folded())));
    group.bench_function("to_html", |b| b.iter(|| black_box(report.to_html())));
    // What `/debug/leakguard/` does for each request: a report, then the page.
    group.bench_function("page", |b| {
        b.iter(|| black_box(leakguard::report().to_html()))
    });
    group.bench_function("report", |b| b.iter(|| black_box(leakguard::report())));
    group.finish();
    drop(rings);

    // Two reports of 80,000 groups, half of which grew an entry in between.
    let mut caches = named_caches(DIFF_GROUPS);
    let earlier = leakguard::report();
    for cache in caches.iter_mut().step_by(2) {
        cache.insert(1, 1);
    }
    let later = leakguard::report();
    assert!(later.groups.len() >= DIFF_GROUPS);
    assert_eq!(
        later
            .diff(&earlier)
            .groups
            .iter()
            .filter(|g| g.len == 1)
            .count(),
        DIFF_GROUPS / 2
    );
    c.bench_function("report_diff_80k_groups", |b| {
        b.iter(|| black_box(later.diff(&earlier)))
    });
    drop(caches);

    let mut group = c.benchmark_group("layer_create_drop");
    group.bench_function("unscoped", |b| {
        b.iter(|| {
            for _ in 0..STRUCTS {
                black_box(Request::default());
            }
        })
    });
    group.bench_function("scoped_in_span", |b| {
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        b.iter(|| {
            for _ in 0..STRUCTS {
                black_box(ScopedRequest::default());
            }
        })
    });
    group.finish();

    // Used: each field grows once, so each registers, scoped or not.
    let mut group = c.benchmark_group("layer_create_use_drop");
    group.bench_function("unscoped", |b| {
        b.iter(|| {
            for _ in 0..STRUCTS {
                let mut r = Request::default();
                r.headers.push((String::new(), String::new()));
                r.params.insert(String::new(), String::new());
                r.body.push('x');
                black_box(&r);
            }
        })
    });
    group.bench_function("scoped_in_span", |b| {
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        b.iter(|| {
            for _ in 0..STRUCTS {
                let mut r = ScopedRequest::default();
                r.headers.push((String::new(), String::new()));
                r.params.insert(String::new(), String::new());
                r.body.push('x');
                black_box(&r);
            }
        })
    });
    group.finish();
    c.final_summary();

    let mut rows = Vec::new();
    if let Some(tick) = median_ns("layer_sample_tick_10k", "") {
        rows.push(vec![
            "sampler tick, 10,000 live collections".into(),
            fmt_ns(tick),
            format!("{:.4}% of one core at a 1 s interval", tick / 1e9 * 100.0),
            "< 1%".into(),
        ]);
    }
    if let Some(report) = median_ns("layer_report_100k", "") {
        rows.push(vec![
            "`report()`, 100,000 live collections".into(),
            fmt_ns(report),
            format!("{:.1} ms", report / 1e6),
            "< 50 ms".into(),
        ]);
    }
    for (export, what, target) in [
        (
            "to_pprof",
            "`to_pprof()`, 100,000 collections in 1,000 groups",
            "< 20 ms",
        ),
        ("folded", "`folded()`, the same", "< 5 ms"),
        ("to_html", "`to_html()`, the page of the same", "< 20 ms"),
        (
            "page",
            "`/debug/leakguard/`: `report()` and `to_html()`",
            "< 20 ms",
        ),
        ("report", "`report()` of the same, for scale", ""),
    ] {
        if let Some(ns) = median_ns("export_100k_in_1k_groups", export) {
            rows.push(vec![
                what.into(),
                fmt_ns(ns),
                format!("{:.2} ms", ns / 1e6),
                target.into(),
            ]);
        }
    }
    if let Some(ns) = median_ns("report_diff_80k_groups", "") {
        rows.push(vec![
            "`Report::diff`, 80,000 groups".into(),
            fmt_ns(ns),
            format!("{:.1} ms", ns / 1e6),
            "O(n log n); 10.2 s when it scanned".into(),
        ]);
    }
    for (group, what) in [
        ("layer_create_drop", "create + drop x 1M, three fields"),
        (
            "layer_create_use_drop",
            "create, grow each field once, drop x 1M",
        ),
    ] {
        if let (Some(unscoped), Some(scoped)) = (
            median_ns(group, "unscoped"),
            median_ns(group, "scoped_in_span"),
        ) {
            rows.push(vec![
                format!("{what}: unscoped / scoped in a span"),
                format!("{} / {}", fmt_ns(unscoped), fmt_ns(scoped)),
                format!("{:.2}x", scoped / unscoped),
                "<= 2x".into(),
            ]);
        }
    }
    print_table(
        &format!("Layer costs, {} (medians)", mode()),
        &["workload", "time", "result", "target"],
        &rows,
    );
}
