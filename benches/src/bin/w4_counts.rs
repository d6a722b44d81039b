//! W4's create + drop rows outside criterion, for an instruction count where wall time is
//! too noisy on a shared machine: one thread makes and drops `COUNT` structs of one kind.
//!
//! `cargo build --release -p leakguard-bench --features instrumented --bin w4_counts`, then
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/w4_counts KIND COUNT`
//! for KIND in `plain`, `tracked`, `three_words` (the plain fields with three words
//! beside each, the floor of the tracked layout), `plain_filled`, `tracked_filled` (one push or insert per
//! field before the drop), `plain_reserved`, `tracked_reserved` (COUNT pushes of a u64
//! into storage reserved beforehand), and COUNT 0 for the count of everything else; the difference over
//! COUNT is the instructions per struct.

use std::collections::HashMap;
use std::hint::black_box;

use leakguard::track_growth;

#[track_growth(len = 1_000)]
#[derive(Default)]
struct TrackedRequest {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

#[allow(dead_code)]
#[derive(Default)]
struct PlainRequest {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

/// The floor of instrumentation that keeps three words beside each field, as `Tracked` does
/// (a description, a registry slot taken on the first change, a length window): the plain
/// fields, each with three such words set on construction and one checked on drop. What no
/// three-word design can beat, only match.
#[allow(dead_code)]
#[derive(Default)]
struct ThreeWordsRequest {
    headers: (Vec<(String, String)>, ThreeWords),
    params: (HashMap<String, String>, ThreeWords),
    body: (String, ThreeWords),
}

#[allow(dead_code)]
struct ThreeWords(&'static str, *mut u8, usize);

impl Default for ThreeWords {
    #[inline]
    fn default() -> Self {
        ThreeWords("field", std::ptr::null_mut(), 0)
    }
}

impl Drop for ThreeWords {
    #[inline]
    fn drop(&mut self) {
        if !self.1.is_null() {
            release(self.1);
        }
    }
}

#[inline(never)]
fn release(slot: *mut u8) {
    black_box(slot);
}

macro_rules! fill {
    ($request:expr, $i:expr) => {{
        let mut request = $request;
        request.headers.push((String::new(), String::new()));
        request.params.insert(String::new(), String::new());
        request.body.push(char::from(b'a' + ($i % 26) as u8));
        black_box(request);
    }};
}

#[derive(Default)]
struct PlainLog {
    values: Vec<u64>,
}

#[track_growth]
#[derive(Default)]
struct TrackedLog {
    #[budget(len = 100_000_000)]
    values: Vec<u64>,
}

macro_rules! pushes_into {
    ($log:expr, $count:expr) => {{
        let mut log = $log;
        log.values.reserve($count);
        for i in 0..$count as u64 {
            log.values.push(black_box(i));
        }
        black_box(log.values.len());
    }};
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let count: usize = match args.next().map(|n| n.parse()) {
        Some(Ok(count)) => count,
        _ => {
            eprintln!(
                "usage: w4_counts plain|tracked|three_words|plain_filled|tracked_filled|plain_reserved|tracked_reserved COUNT"
            );
            std::process::exit(2);
        }
    };
    match kind.as_str() {
        "plain_reserved" => pushes_into!(PlainLog::default(), count),
        "tracked_reserved" => pushes_into!(TrackedLog::default(), count),
        _ => {}
    }
    // One more than COUNT, so that one-time set-up (a registry chunk, thread-locals) is in
    // the count of COUNT = 0 as well. Under valgrind, the `_filled` kinds stop at their first
    // registration: rustix's reading of the vDSO for the clock faults there.
    for i in 0..=count {
        match kind.as_str() {
            "plain" => drop(black_box(PlainRequest::default())),
            "tracked" => drop(black_box(TrackedRequest::default())),
            "three_words" => drop(black_box(ThreeWordsRequest::default())),
            "plain_filled" => fill!(PlainRequest::default(), i),
            "tracked_filled" => fill!(TrackedRequest::default(), i),
            // COUNT pushes into storage reserved beforehand, counted once: W4's reserved push.
            "plain_reserved" | "tracked_reserved" => break,
            _ => {
                eprintln!("unknown kind {kind}");
                std::process::exit(2);
            }
        }
    }
}
