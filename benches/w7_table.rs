//! W7's table: the medians every `w7_*` binary appended, round by round, side by side with
//! their spread over the rounds and their ratio to `std::alloc::System`.

use std::collections::BTreeMap;

use leakguard_bench::{fmt_ns, print_table, w7};

fn main() {
    let text = std::fs::read_to_string(w7::rounds_file()).unwrap_or_default();
    let mut rounds: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for line in text.lines() {
        let mut cells = line.split('\t');
        let (Some(name), Some(case), Some(value)) = (cells.next(), cells.next(), cells.next())
        else {
            continue;
        };
        if let Ok(value) = value.parse() {
            rounds
                .entry((name.to_string(), case.to_string()))
                .or_default()
                .push(value);
        }
    }
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let system = |case: &str| {
        rounds
            .get(&("system".to_string(), case.to_string()))
            .map(|v| median(v))
    };
    let mut rows = Vec::new();
    for ((name, case), values) in &rounds {
        if case.starts_with("rss") {
            continue;
        }
        let m = median(values);
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0, f64::max);
        let base = system(case);
        rows.push(vec![
            name.clone(),
            case.clone(),
            fmt_ns(m),
            format!("{} - {}", fmt_ns(lo), fmt_ns(hi)),
            base.map_or("-".into(), |b| format!("{:.2}x", m / b)),
            base.map_or("-".into(), |b| format!("{:+.1} ns", m - b)),
            values.len().to_string(),
        ]);
    }
    print_table(
        "W7: alloc + free of 64 B (a pair per iteration; 4 threads: wall time of one pair on each)",
        &[
            "allocator",
            "threads",
            "median",
            "spread over rounds",
            "vs System",
            "added",
            "rounds",
        ],
        &rows,
    );
    let mut rows = Vec::new();
    for ((name, case), values) in &rounds {
        if let Some(size) = case.strip_prefix("rss per ") {
            rows.push(vec![
                name.clone(),
                size.to_string(),
                format!("{:.1} B", median(values)),
            ]);
        }
    }
    print_table(
        "W7: resident bytes per live block (RSS with a million live, malloc's own overhead included)",
        &["allocator", "block", "RSS per block"],
        &rows,
    );
}
