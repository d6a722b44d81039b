//! Shared pieces of leakguard's benchmarks: criterion set-up, median read-back and the
//! ratio tables they print.

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;

/// Where this build's criterion results go; separate for instrumentation on and off.
pub fn output_dir() -> PathBuf {
    let mode = if leakguard::ENABLED { "on" } else { "off" };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion")
        .join(mode)
}

/// Criterion with few, long-enough samples: the workloads are whole batches.
pub fn criterion() -> Criterion {
    Criterion::default()
        .output_directory(&output_dir())
        .sample_size(15)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// The median time of `group/bench` in nanoseconds, from criterion's estimates.
pub fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let path = output_dir()
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// Human time: `7.31 ms`, `812 ns`.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// The instrumentation mode of this build, for table titles.
pub fn mode() -> &'static str {
    if leakguard::ENABLED {
        "instrumentation on"
    } else {
        "instrumentation compiled out"
    }
}

/// Prints a markdown table.
pub fn print_table(title: &str, header: &[&str], rows: &[Vec<String>]) {
    println!("\n### {title}\n");
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}
