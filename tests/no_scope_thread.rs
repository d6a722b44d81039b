//! A scoped value made in a `spawn_blocking` closure without the adapter has no scope: the
//! `no_scope` warning names that cause, not a filter, and the adapter that fixes it. In
//! its own binary: the warning is said once per process.

use std::sync::Mutex;
use std::time::Duration;

use leakguard::{ScopeExt, track_growth};
use leakguard_support::capture;
use tracing_subscriber::prelude::*;

#[track_growth(scoped)]
#[derive(Default)]
struct Decoded {
    rows: Vec<String>,
}

static KEPT: Mutex<Vec<Decoded>> = Mutex::new(Vec::new());

async fn handle(body: String) {
    // The mistake: the closure runs on the blocking pool, outside the handler's scope.
    tokio::task::spawn_blocking(move || {
        let mut decoded = Decoded::default();
        decoded.rows.extend(body.split(',').map(str::to_string));
        KEPT.lock().unwrap().push(decoded);
    })
    .await
    .unwrap();
}

#[test]
fn a_value_made_in_spawn_blocking_outside_the_scope_names_the_adapter() {
    let (capture, events) = capture::layer();
    tracing_subscriber::registry()
        .with(capture)
        .with(leakguard::layer().grace_period(Duration::ZERO))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for id in 0..5 {
            tokio::spawn(handle(format!("{id},{id}")).leak_scope("handle_request"))
                .await
                .unwrap();
        }
    });
    leakguard::check_now();
    let warned = events.of_kind("no_scope");
    assert_eq!(warned.len(), 1, "{:#?}", events.all());
    assert_eq!(warned[0].field("collection"), Some("\"Decoded.rows\""));
    assert_eq!(warned[0].field("cause"), Some("\"thread_without_scope\""));
    assert!(
        warned[0].message.contains("`tokio::task::spawn_blocking`")
            && warned[0]
                .message
                .contains("pass it through `leakguard::with_current_leak_scope(..)`"),
        "{}",
        warned[0].message
    );
    assert!(
        !warned[0].message.contains("EnvFilter"),
        "no filter to blame: {}",
        warned[0].message
    );
    assert_eq!(
        events.of_kind("outlived"),
        vec![],
        "the values had no scope"
    );
}
