//! W6: a request loop as an axum handler runs it, without the network, in two shapes, and
//! the parts of its instrumentation measured one by one.
//!
//! Instrumentation is compiled in or out by the build, so the peers of W6 are builds: the
//! optimized build compiled out (`w6_request`), the same with `--features instrumented`,
//! that one again with `leakguard::Alloc` as its global allocator (`w6_alloc`), and the
//! debug build compiled out (`--profile dev --no-default-features`) and on (`--profile
//! dev`). Each run appends its medians to one file of rounds under `target/criterion`; every
//! run then prints the table of all the builds run so far, their medians over rounds and
//! their ratios to the build they are compared with. `benches/run` runs them alternately.

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::io::Write;
use std::pin::pin;
use std::sync::RwLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use leakguard::{ScopeExt, track_growth};
use serde::Deserialize;
use tracing_subscriber::layer::SubscriberExt;

use crate::{fmt_ns, print_table};

/// Requests in one round of a shape.
pub const REQUESTS: u64 = 100_000;

/// A cached session.
#[derive(Clone, leakguard::HeapSize)]
pub struct Session {
    pub user: u64,
    pub name: String,
}

/// The state every handler shares: a bounded cache with `&self` access, and a log behind a
/// lock.
#[track_growth]
#[derive(Default)]
pub struct AppState {
    #[scoped_cache(max = 1_000, shared)]
    pub sessions: HashMap<u64, Session>,
    pub log: RwLock<Vec<u64>>,
}

/// The lighter shape's state: a cache of 300 keys, a log cleared every 1,000 requests.
#[track_growth]
#[derive(Default)]
pub struct LightState {
    #[scoped_cache(max = 1_000, shared)]
    pub users: HashMap<u64, u64>,
    pub log: RwLock<Vec<u64>>,
}

/// The heavier shape's body: about 200 bytes of JSON.
#[track_growth(scoped)]
#[derive(Deserialize, Default)]
pub struct OrderBody {
    pub user: u64,
    pub items: Vec<String>,
    pub tags: HashMap<String, String>,
    pub note: String,
}

/// The lighter shape's body.
#[track_growth(scoped)]
#[derive(Deserialize, Default)]
pub struct PingBody {
    pub id: u64,
    pub name: String,
}

/// The heavier shape's request bodies, one per user modulo 16: 190-200 bytes each.
pub fn order_bodies() -> Vec<String> {
    (0..16)
        .map(|user| {
            format!(
                r#"{{"user": {user}, "items": ["keyboard-{user:03}", "mouse-pad", "usb-c cable 2m", "monitor arm"], "tags": {{"channel": "web", "region": "eu-west-{}", "coupon": "SPRING"}}, "note": "leave at the door, ring twice"}}"#,
                user % 3
            )
        })
        .collect()
}

/// The lighter shape's request bodies.
pub fn ping_bodies() -> Vec<String> {
    (0..16)
        .map(|id| format!(r#"{{"id": {id}, "name": "ada"}}"#))
        .collect()
}

/// The heavier handler: parse, read the cache and insert on a miss, log, answer.
pub async fn handle_order(state: &AppState, body: &str, id: u64) -> usize {
    let Ok(order) = serde_json::from_str::<OrderBody>(body) else {
        return 0;
    };
    let user = order.user * 1_000 + id % 1_500;
    let name_len = match state.sessions.get(&user) {
        Some(session) => session.name.len(),
        None => {
            let session = Session {
                user,
                name: order.items.first().cloned().unwrap_or_default(),
            };
            let len = session.name.len();
            state.sessions.insert(user, session);
            len
        }
    };
    if let Ok(mut log) = state.log.write() {
        log.push(id);
    }
    name_len + order.items.len() + order.tags.len() + order.note.len()
}

/// The lighter handler: a small body, a cache keyed by `id % 300`, a log cleared every
/// 1,000 requests, a `format!` response.
pub async fn handle_ping(state: &LightState, body: &str, id: u64) -> String {
    let Ok(ping) = serde_json::from_str::<PingBody>(body) else {
        return String::new();
    };
    let key = id % 300;
    let seen = match state.users.get(&key) {
        Some(seen) => seen,
        None => {
            state.users.insert(key, ping.id);
            ping.id
        }
    };
    if let Ok(mut log) = state.log.write() {
        if id.is_multiple_of(1_000) {
            log.clear();
        }
        log.push(id);
    }
    format!("hello {} ({seen})", ping.name)
}

/// Polls `future` to completion on this thread, as a runtime's worker would.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// `REQUESTS` heavier requests, each its own `leak_scope`, on fresh state.
pub fn order_round(bodies: &[String]) -> usize {
    let state = AppState::default();
    let mut total = 0;
    for id in 0..REQUESTS {
        let body = &bodies[(id % 16) as usize];
        total += block_on(handle_order(&state, body, id).leak_scope("handle"));
    }
    total
}

/// `REQUESTS` lighter requests, each its own `leak_scope`, on fresh state.
pub fn ping_round(bodies: &[String]) -> usize {
    let state = LightState::default();
    let mut total = 0;
    for id in 0..REQUESTS {
        let body = &bodies[(id % 16) as usize];
        total += block_on(handle_ping(&state, body, id).leak_scope("handle")).len();
    }
    total
}

/// A future that is pending `polls - 1` times, then ready: what an `.await` on I/O does.
pub struct Polls(pub u32);

impl Future for Polls {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.0 -= 1;
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A scoped struct with one collection: made, filled once (which registers it) and dropped.
#[track_growth(scoped)]
#[derive(Default)]
pub struct Scratch {
    pub values: Vec<u64>,
}

/// A log with a budget, pushed into through its reserved storage.
#[track_growth]
#[derive(Default)]
pub struct BudgetedLog {
    #[budget(len = 100_000_000)]
    pub values: Vec<u64>,
}

/// Operations per iteration of a part's micro-bench.
const PART_OPS: u64 = 10_000;
/// Polls per future in the per-poll part.
const POLLS: u32 = 100;

/// The parts of a request's instrumentation, each measured alone: (name, criterion id, what
/// one operation is).
pub const PARTS: [(&str, &str); 6] = [
    (
        "scope enter + exit, per poll (`leak_scope`, 100 polls)",
        "poll",
    ),
    (
        "scope begin + end: `leak_scope` made, polled once, dropped",
        "scope",
    ),
    (
        "scoped struct made, first push (registration), dropped, in a scope",
        "register",
    ),
    ("shared cache `get` hit (counters)", "cache_get"),
    ("shared cache `insert` of a present key", "cache_insert"),
    (
        "tracked `Vec::push` with a budget, reserved storage (budget check)",
        "push",
    ),
];

/// The build this binary is, as the table names it.
pub fn build(alloc: bool) -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mode = if leakguard::ENABLED {
        "instrumented"
    } else {
        "compiled out"
    };
    let alloc = if alloc { " + Alloc" } else { "" };
    // `W6_LABEL` tells apart two versions of the same build run side by side (a change
    // against the commit before it): `W6_LABEL=before` names it `before: release, ...`.
    let label = std::env::var("W6_LABEL")
        .map(|label| format!("{label}: "))
        .unwrap_or_default();
    format!("{label}{profile}, {mode}{alloc}")
}

/// Where every build's medians go, round by round.
pub fn rounds_file() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/w6-rounds.tsv")
}

fn criterion_for(build: &str) -> Criterion {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion/w6")
        .join(build.replace([',', ' ', '+'], "_"));
    let (samples, time) = if cfg!(debug_assertions) {
        (10, 5)
    } else {
        (15, 3)
    };
    Criterion::default()
        .output_directory(&dir)
        .sample_size(samples)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(time))
        .configure_from_args()
}

/// The median criterion saved for `group/bench` in `build`, if it saved one since `since`:
/// a bench filtered out of this run keeps the estimates of an earlier one, which must not be
/// recorded as a round of this run.
fn median_in(build: &str, group: &str, bench: &str, since: std::time::SystemTime) -> Option<f64> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion/w6")
        .join(build.replace([',', ' ', '+'], "_"))
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let saved = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if saved < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// Runs W6 and its parts in this build, appends the medians (per request, per operation)
/// to the rounds file, and prints the table of every build so far.
pub fn run(alloc: bool) {
    let build = build(alloc);
    let started = std::time::SystemTime::now();
    // The layer is installed for the whole process, as a service installs it.
    let subscriber = tracing_subscriber::registry().with(leakguard::layer());
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let mut c = criterion_for(&build);

    let orders = order_bodies();
    let pings = ping_bodies();
    let mut group = c.benchmark_group("w6");
    group.bench_function("heavier", |b| b.iter(|| order_round(&orders)));
    group.bench_function("lighter", |b| b.iter(|| ping_round(&pings)));
    group.finish();

    let mut group = c.benchmark_group("w6_parts");
    group.bench_function("poll", |b| {
        b.iter(|| {
            for _ in 0..PART_OPS / u64::from(POLLS) {
                block_on(Polls(POLLS).leak_scope("handle"));
            }
        })
    });
    group.bench_function("poll_plain", |b| {
        b.iter(|| {
            for _ in 0..PART_OPS / u64::from(POLLS) {
                block_on(Polls(POLLS));
            }
        })
    });
    group.bench_function("scope", |b| {
        b.iter(|| {
            for _ in 0..PART_OPS {
                block_on(std::future::ready(black_box(1u64)).leak_scope("handle"));
            }
        })
    });
    group.bench_function("register", |b| {
        let _scope = leakguard::scope("handle");
        b.iter(|| {
            for i in 0..PART_OPS {
                let mut scratch = Scratch::default();
                scratch.values.push(black_box(i));
                black_box(&scratch);
            }
        })
    });
    let state = LightState::default();
    for key in 0..300 {
        state.users.insert(key, key);
    }
    group.bench_function("cache_get", |b| {
        b.iter(|| {
            let mut total = 0;
            for i in 0..PART_OPS {
                total += state.users.get(&black_box(i % 300)).unwrap_or(0);
            }
            total
        })
    });
    group.bench_function("cache_insert", |b| {
        b.iter(|| {
            for i in 0..PART_OPS {
                state.users.insert(black_box(i % 300), i);
            }
        })
    });
    let mut log = BudgetedLog::default();
    log.values.reserve(PART_OPS as usize);
    group.bench_function("push", |b| {
        b.iter(|| {
            log.values.clear();
            for i in 0..PART_OPS {
                log.values.push(black_box(i));
            }
            log.values.len()
        })
    });
    group.finish();
    c.final_summary();

    record(&build, started);
    print(&build);
}

/// Appends this build's medians, those saved since `since`, to the rounds file: per
/// request, per part operation.
fn record(build: &str, since: std::time::SystemTime) {
    let mut lines = String::new();
    for shape in ["heavier", "lighter"] {
        if let Some(ns) = median_in(build, "w6", shape, since) {
            lines.push_str(&format!("{build}\t{shape}\t{}\n", ns / REQUESTS as f64));
        }
    }
    let plain_poll = median_in(build, "w6_parts", "poll_plain", since);
    for (_, part) in PARTS {
        let Some(ns) = median_in(build, "w6_parts", part, since) else {
            continue;
        };
        // The per-poll part is what `leak_scope` adds to a plain poll.
        let ns = match (part, plain_poll) {
            ("poll", Some(plain)) => ns - plain,
            _ => ns,
        };
        lines.push_str(&format!("{build}\t{part}\t{}\n", ns / PART_OPS as f64));
    }
    let file = rounds_file();
    let _ = std::fs::create_dir_all(file.parent().expect("a directory"));
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .and_then(|mut f| f.write_all(lines.as_bytes()));
    if let Err(e) = written {
        eprintln!("w6: cannot append to {}: {e}", file.display());
    }
}

type Rounds = HashMap<(String, String), Vec<f64>>;

fn read_rounds() -> Rounds {
    let text = std::fs::read_to_string(rounds_file()).unwrap_or_default();
    let mut rounds: Rounds = HashMap::new();
    for line in text.lines() {
        let mut cells = line.split('\t');
        let (Some(build), Some(case), Some(value)) = (cells.next(), cells.next(), cells.next())
        else {
            continue;
        };
        if let Ok(value) = value.parse() {
            rounds
                .entry((build.to_string(), case.to_string()))
                .or_default()
                .push(value);
        }
    }
    rounds
}

/// The median: the mean of the middle two of an even count.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// The lowest and highest ratio of round `i` of `on` to round `i` of `off`: builds run
/// alternately, so round `i` of each ran side by side.
fn ratio_range(on: &[f64], off: &[f64]) -> String {
    let ratios: Vec<f64> = on.iter().zip(off).map(|(a, b)| a / b).collect();
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(0.0, f64::max);
    format!("{lo:.2}x - {hi:.2}x")
}

/// Each build against the one it is compared with: instrumented against compiled out in the
/// same profile, `+ Alloc` against the same build without.
const PAIRS: [(&str, &str, &str); 4] = [
    ("release, instrumented", "release, compiled out", "≤ 1.10x"),
    ("debug, instrumented", "debug, compiled out", "≤ 1.3x"),
    (
        "release, instrumented + Alloc",
        "release, instrumented",
        "≤ 1.10x (issue 21)",
    ),
    (
        "release, compiled out + Alloc",
        "release, compiled out",
        "≤ 1.10x (issue 21)",
    ),
];

fn print(this: &str) {
    let rounds = read_rounds();
    let get = |build: &str, case: &str| rounds.get(&(build.to_string(), case.to_string()));
    let spread = |values: &[f64]| {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0, f64::max);
        format!("{} - {}", fmt_ns(lo), fmt_ns(hi))
    };
    let label = std::env::var("W6_LABEL")
        .map(|label| format!("{label}: "))
        .unwrap_or_default();
    let pairs: Vec<(String, String, &str)> = PAIRS
        .iter()
        .map(|(build, base, target)| (format!("{label}{build}"), format!("{label}{base}"), *target))
        .collect();
    let mut rows = Vec::new();
    for (build, base, target) in &pairs {
        for shape in ["heavier", "lighter"] {
            let (Some(on), Some(off)) = (get(build, shape), get(base, shape)) else {
                continue;
            };
            let (m_on, m_off) = (median(on), median(off));
            rows.push(vec![
                shape.to_string(),
                format!("{build} / {base}"),
                format!("{} ({})", fmt_ns(m_on), spread(on)),
                format!("{} ({})", fmt_ns(m_off), spread(off)),
                format!("{:.3}x", m_on / m_off),
                ratio_range(on, off),
                format!("{:+.1} ns", m_on - m_off),
                (*target).to_string(),
                format!("{} / {}", on.len(), off.len()),
            ]);
        }
    }
    print_table(
        &format!(
            "W6 request loop, {REQUESTS} requests a round, per request: medians over rounds \
             (min - max), builds run alternately (this run: {this})"
        ),
        &[
            "shape",
            "build / compared with",
            "build",
            "compared with",
            "ratio of medians",
            "ratio per round",
            "added",
            "target",
            "rounds",
        ],
        &rows,
    );

    let mut rows = Vec::new();
    for (label, part) in PARTS {
        let mut row = vec![label.to_string()];
        let mut any = false;
        for (build, base, _) in &pairs[..2] {
            match (get(build, part), get(base, part)) {
                (Some(on), Some(off)) => {
                    any = true;
                    let (m_on, m_off) = (median(on), median(off));
                    row.push(fmt_ns(m_off));
                    row.push(fmt_ns(m_on));
                    row.push(format!("{:+.1} ns", m_on - m_off));
                }
                _ => row.extend(["-".to_string(), "-".to_string(), "-".to_string()]),
            }
        }
        if any {
            rows.push(row);
        }
    }
    print_table(
        "W6 by part, per operation: medians over rounds (the per-poll part is what \
         `leak_scope` adds to a plain poll)",
        &[
            "part",
            "release out",
            "release on",
            "release added",
            "debug out",
            "debug on",
            "debug added",
        ],
        &rows,
    );
}
