//! Parts of W6 outside criterion, for an instruction count where wall time is too noisy:
//! `PART` (`poll`: one `leak_scope` future polled `N` times; `scope`: a `leak_scope` made,
//! polled once, dropped, `N` times; `register`: in one `leakguard::scope`, a scoped struct
//! made, pushed into once, which registers it, and dropped, `N` times) run under a registry
//! without leakguard's layer, which no part calls. Built without the bench's `valgrind`
//! feature, the first clock read faults under valgrind (rustix's vDSO set-up); with it, it
//! does not.
//!
//! `cargo build --release -p leakguard-bench --features valgrind --bin w6_parts_count [--features instrumented]`,
//! then `valgrind --tool=callgrind target/release/w6_parts_count poll N` for two `N`: the
//! difference of the totals over the difference of the `N`s is one operation's count. Run
//! natively, the binary also prints the wall time of one operation.

use std::hint::black_box;

use leakguard::ScopeExt;
use leakguard_bench::w6::{Polls, Scratch, block_on};

fn main() {
    let mut args = std::env::args().skip(1);
    let part = args.next().unwrap_or_else(|| "poll".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("the only subscriber");
    let started = std::time::Instant::now();
    match part.as_str() {
        "poll" => {
            // One future, so one scope's end.
            block_on(Polls(black_box(n as u32)).leak_scope("handle"));
        }
        "scope" => {
            for _ in 0..n {
                block_on(std::future::ready(black_box(1u64)).leak_scope("handle"));
            }
        }
        "register" => {
            let _scope = leakguard::scope("handle");
            for i in 0..n {
                let mut scratch = Scratch::default();
                scratch.values.push(black_box(i));
                black_box(&scratch);
            }
        }
        other => {
            eprintln!("unknown part {other}: poll, scope or register");
            std::process::exit(2);
        }
    }
    let per = started.elapsed().as_secs_f64() * 1e9 / n.max(1) as f64;
    println!("{part}: {per:.1} ns per operation, {n} operations");
}
