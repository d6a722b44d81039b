//! Whole W6 requests outside criterion, for an instruction count of one request in one
//! build: `SHAPE` (`heavier` or `lighter`) run `N` times on fresh state, each request its own
//! `leak_scope`, as `order_round` and `ping_round` run them, with leakguard's layer
//! installed as W6 installs it.
//!
//! `cargo build --release -p leakguard-bench --features valgrind --bin w6_request_count
//! [--features instrumented]` (the `valgrind` feature lets the layer's sampler read the
//! clock under valgrind), then `valgrind --tool=callgrind target/release/w6_request_count
//! heavier N` for `N` = 0 and 100000: the difference of the totals over 100,000 is one
//! request of a criterion round of W6, which also runs 100,000 requests on fresh state (a
//! log shorter than 2,048 entries costs more a push, so a shorter run overstates it).
//! Compiled out against instrumented, that is what instrumentation adds;
//! `callgrind_annotate --inclusive=yes` of each tells where.

use std::hint::black_box;

use leakguard::ScopeExt;
use leakguard_bench::w6::{
    AppState, LightState, block_on, handle_order, handle_ping, order_bodies, ping_bodies,
};
use tracing_subscriber::layer::SubscriberExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let shape = args.next().unwrap_or_else(|| "heavier".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let subscriber = tracing_subscriber::registry().with(leakguard::layer());
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let total = match shape.as_str() {
        "heavier" => {
            let bodies = order_bodies();
            let state = AppState::default();
            let mut total = 0;
            for id in 0..n {
                let body = &bodies[(id % 16) as usize];
                total += block_on(handle_order(&state, black_box(body), id).leak_scope("handle"));
            }
            total
        }
        "lighter" => {
            let bodies = ping_bodies();
            let state = LightState::default();
            let mut total = 0;
            for id in 0..n {
                let body = &bodies[(id % 16) as usize];
                total +=
                    block_on(handle_ping(&state, black_box(body), id).leak_scope("handle")).len();
            }
            total
        }
        other => {
            eprintln!("unknown shape {other}: heavier or lighter");
            std::process::exit(2);
        }
    };
    println!("{shape}: {n} requests, total {total}");
}
