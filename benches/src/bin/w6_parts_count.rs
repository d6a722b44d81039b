//! Parts of W6 outside criterion, for an instruction count where wall time is too noisy:
//! `PART` (`poll`: one `leak_scope` future polled `N` times; `scope`: a `leak_scope` made,
//! polled once, dropped, `N` times) run under a registry without leakguard's layer, which
//! neither part calls. Built without the bench's `valgrind` feature, the first clock read
//! faults under valgrind (rustix's vDSO set-up); with it, it does not.
//!
//! `cargo build --release -p leakguard-bench --features valgrind --bin w6_parts_count [--features instrumented]`,
//! then `valgrind --tool=callgrind target/release/w6_parts_count poll N` for two `N`: the
//! difference of the totals over the difference of the `N`s is one operation's count.

use std::hint::black_box;

use leakguard::ScopeExt;
use leakguard_bench::w6::{Polls, block_on};

fn main() {
    let mut args = std::env::args().skip(1);
    let part = args.next().unwrap_or_else(|| "poll".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("the only subscriber");
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
        other => {
            eprintln!("unknown part {other}: poll or scope");
            std::process::exit(2);
        }
    }
}
