//! What the layer's detectors cost, against issue 4's targets:
//! - a sampler tick with 10,000 live tracked collections, as a share of a 1 s interval
//!   (target: under 1% of one core);
//! - `report()` over 100,000 live collections (target: under 50 ms);
//! - creating and dropping a scoped struct inside a span, against the same struct unscoped
//!   (target: no more than 2x).
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
