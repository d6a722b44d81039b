//! The last operation of a `ScopedRing<String>`'s mass expiry, alone, for a profiler: where
//! its time goes, beside a plain `VecDeque<String>` emptied the same way and dropped.
//!
//! `cargo build --release -p leakguard-bench --bin ring_last_op`, then
//! `perf record -g target/release/ring_last_op ring 5` (or `deque 5`) and `perf report`:
//! the samples under `last_ring_op` (or `drop_deque`) are the last operation's. Without a
//! profiler it prints each last operation's time.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use leakguard::{ManualClock, ScopedCache, ScopedRing};

const ENTRIES: u64 = 1_000_000;
/// What one operation of the ring's sweep releases of a million-slot store (`slots / 512`).
const BUDGET: usize = 2_048;

#[inline(never)]
fn last_ring_op(ring: &mut ScopedRing<String>) {
    black_box(ring.pop_front());
}

#[inline(never)]
fn drop_deque(deque: VecDeque<String>, deadlines: VecDeque<u64>) {
    drop(deque);
    drop(deadlines);
}

fn ring_round() -> Duration {
    let clock = ManualClock::new();
    let mut ring: ScopedRing<String> = ScopedCache::builder()
        .ttl(Duration::from_secs(60))
        .clock(clock.clone())
        .build_ring()
        .expect("a valid TTL");
    for i in 0..ENTRIES {
        ring.push(format!("event {i}"));
    }
    clock.advance(Duration::from_secs(61));
    while ring.expired_len() > BUDGET {
        black_box(ring.pop_front());
    }
    let start = Instant::now();
    last_ring_op(&mut ring);
    let took = start.elapsed();
    assert_eq!(
        ring.stats().expirations,
        ENTRIES,
        "the last operation released the rest"
    );
    took
}

fn deque_round() -> Duration {
    let mut deque = VecDeque::new();
    let mut deadlines = VecDeque::new();
    for i in 0..ENTRIES {
        deque.push_back(format!("event {i}"));
        deadlines.push_back(i);
    }
    while !deque.is_empty() {
        for _ in 0..BUDGET {
            deque.pop_front();
            deadlines.pop_front();
        }
        black_box(&deque);
    }
    let start = Instant::now();
    drop_deque(deque, deadlines);
    start.elapsed()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "ring".into());
    let rounds: usize = args
        .next()
        .map_or(5, |n| n.parse().expect("ROUNDS is a number"));
    for _ in 0..rounds {
        let took = match kind.as_str() {
            "ring" => ring_round(),
            "deque" => deque_round(),
            other => panic!("KIND is `ring` or `deque`, not `{other}`"),
        };
        println!("{kind}: last operation {took:?}");
    }
}
