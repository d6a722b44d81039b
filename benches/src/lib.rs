//! Shared pieces of leakguard's benchmarks: criterion set-up, median read-back and the
//! ratio tables they print.

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;

pub mod caches;
pub mod w6;
pub mod w7;

pub use leakguard_support::alloc;

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

/// Human bytes: `168 B`, `279.3 KB`, `1.62 MB` (powers of 1,000, like the tables of
/// BENCHMARKS.md).
pub fn fmt_bytes(bytes: f64) -> String {
    if bytes.abs() >= 1e6 {
        format!("{:.2} MB", bytes / 1e6)
    } else if bytes.abs() >= 1e3 {
        format!("{:.1} KB", bytes / 1e3)
    } else {
        format!("{bytes:.0} B")
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

/// The median of `values` (the mean of the middle two for an even count); sorts them.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Prints the table of caches run in alternating rounds: each one's throughput (median and
/// range over rounds), its ratio to the first (median and range of the ratios of rounds run
/// side by side) and its hit ratio. `seconds[i]` are cache `i`'s round times, each round `ops`
/// operations.
pub fn print_rounds(
    title: &str,
    names: &[&str],
    seconds: &[Vec<f64>],
    hit_ratios: &[f64],
    ops: f64,
) {
    let mops = |s: f64| ops / s / 1e6;
    let rows: Vec<Vec<String>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut r: Vec<f64> = seconds[0]
                .iter()
                .zip(&seconds[i])
                .map(|(q, t)| q / t)
                .collect();
            let mut t = seconds[i].clone();
            let med = median(&mut t);
            let ratio = median(&mut r);
            vec![
                (*name).to_string(),
                format!("{:.2}", mops(med)),
                format!("{:.2}-{:.2}", mops(t[t.len() - 1]), mops(t[0])),
                format!("{ratio:.3}"),
                format!("{:.3}-{:.3}", r[0], r[r.len() - 1]),
                format!("{:.3}", hit_ratios[i]),
            ]
        })
        .collect();
    print_table(
        title,
        &[
            "cache",
            "Mops/s (median)",
            "Mops/s (min-max)",
            "ratio to quick_cache (median of rounds)",
            "ratio (min-max)",
            "hit ratio",
        ],
        &rows,
    );
}

/// The version of `package` that Cargo.lock resolved, for naming each peer exactly as measured.
pub fn locked_version(package: &str) -> Option<String> {
    let lock = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let text = std::fs::read_to_string(lock).ok()?;
    let name = format!("name = \"{package}\"");
    let mut lines = text.lines();
    lines.find(|line| *line == name)?;
    let version = lines.next()?.strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_string())
}

/// A Zipf distribution and the deterministic key traces of W1 and W2.
pub mod zipf {
    /// SplitMix64: tiny, fast and good enough to drive a sampler; the same seed always
    /// gives the same trace, on every machine.
    #[derive(Clone, Debug)]
    pub struct SplitMix64(u64);

    impl SplitMix64 {
        pub fn new(seed: u64) -> Self {
            Self(seed)
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in `[0, 1)`, from the top 53 bits.
        pub fn next_f64(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
        }
    }

    /// Zipf(s) over the keys `1..=n`: key `k` is drawn with probability proportional to
    /// `1 / k^s`. Sampled by binary search in the precomputed cumulative distribution.
    #[derive(Clone, Debug)]
    pub struct Zipf {
        /// `cdf[i]`: probability of drawing a key at most `i + 1`; the last is exactly 1.
        cdf: Vec<f64>,
    }

    impl Zipf {
        pub fn new(n: usize, s: f64) -> Self {
            let mut cdf = Vec::with_capacity(n);
            let mut total = 0.0;
            for k in 1..=n {
                total += 1.0 / (k as f64).powf(s);
                cdf.push(total);
            }
            for c in &mut cdf {
                *c /= total;
            }
            if let Some(last) = cdf.last_mut() {
                *last = 1.0;
            }
            Self { cdf }
        }

        /// The key at uniform draw `u` in `[0, 1)`.
        pub fn key_at(&self, u: f64) -> u64 {
            self.cdf.partition_point(|&c| c <= u) as u64 + 1
        }

        /// The share of draws that fall on the `keys` hottest keys.
        pub fn share_of_hottest(&self, keys: usize) -> f64 {
            keys.checked_sub(1)
                .and_then(|i| self.cdf.get(i))
                .copied()
                .unwrap_or(0.0)
        }
    }

    /// `ops` keys drawn from `zipf`, the same for the same seed.
    pub fn trace(zipf: &Zipf, ops: usize, seed: u64) -> Vec<u64> {
        let mut rng = SplitMix64::new(seed);
        (0..ops).map(|_| zipf.key_at(rng.next_f64())).collect()
    }
}

/// The parameters of W1 and W2 in shared/BENCHMARKS.md.
pub mod w1 {
    use crate::zipf::{Zipf, trace};

    /// Distinct keys, `1..=KEYS`.
    pub const KEYS: usize = 1_000_000;
    /// Operations, each a get followed by an insert when the get missed.
    pub const OPS: usize = 2_000_000;
    /// The bound of every bounded cache.
    pub const CAPACITY: usize = 10_000;
    /// The Zipf exponent.
    pub const S: f64 = 1.0;
    pub const SEED: u64 = 0x5eed_1eaf_9a4d_0001;

    /// The value every cache stores: 32 bytes inline, no heap.
    pub type Value = [u8; 32];

    pub fn value(key: u64) -> Value {
        [key as u8; 32]
    }

    /// The key trace of W1 and W2, and the share of accesses the `CAPACITY` hottest keys
    /// receive: the best hit ratio a cache of that bound can reach.
    pub fn keys() -> (Vec<u64>, f64) {
        let zipf = Zipf::new(KEYS, S);
        (trace(&zipf, OPS, SEED), zipf.share_of_hottest(CAPACITY))
    }
}

pub mod w3 {
    //! The structures of W3 in shared/BENCHMARKS.md, built the same way for the accuracy
    //! table and the walk timings.

    use std::collections::HashMap;

    /// A 16-character key, unique per `i`.
    pub fn key(i: usize) -> String {
        format!("key-{i:012}")
    }

    /// c1's shape: `entries` keys of 16 characters, each mapped to 0..=64 bytes.
    pub fn string_keyed_map(entries: usize) -> HashMap<String, Vec<u8>> {
        (0..entries).map(|i| (key(i), vec![7u8; i % 65])).collect()
    }

    /// c4's shape: 1,000 maps of 0..=40 entries each, about 20,000 in total.
    pub fn small_maps() -> Vec<HashMap<String, String>> {
        (0..1000)
            .map(|m| {
                (0..(m % 41))
                    .map(|i| (key(m * 100 + i), format!("value {i}")))
                    .collect()
            })
            .collect()
    }
}
