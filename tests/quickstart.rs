//! The quickstart example's logging set-up, run with the filter `RUST_LOG=warn` sets: it
//! prints the budget warnings of the README, and with the filter on the fmt layer a scoped
//! value kept past its `info` span is still reported as outlived: the filter does not
//! blind leakguard to the spans scopes are made of.

use leakguard::track_growth;
use leakguard_support::capture::Printed;
use tracing_subscriber::EnvFilter;

#[path = "../examples/quickstart.rs"]
mod example;

#[track_growth(scoped)]
#[derive(Default)]
struct Draft {
    lines: Vec<String>,
}

#[test]
fn the_quickstart_set_up_under_rust_log_warn_prints_budgets_and_still_sees_scopes() {
    let printed = Printed::default();
    let writer = printed.clone();
    let subscriber = example::subscriber(EnvFilter::new("warn"), move || writer.clone());
    let mut kept = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let inbox = example::fill();
        let messages = leakguard::report().group("Inbox.messages").cloned();
        assert_eq!(messages.map(|g| g.len), Some(1_000));
        drop(inbox);
        {
            let _compose = tracing::info_span!("compose").entered();
            tracing::info!("composing"); // below `warn`: not printed
            let mut draft = Draft::default();
            draft.lines.push("Dear Ada,".to_string());
            kept.push(draft); // outlives `compose`
        }
        leakguard::check_now();
    });
    let printed = printed.text();
    for expected in [
        "Inbox.messages over len budget: 101 entries > 100",
        "Inbox.messages over len budget: 801 entries > 8x 100",
        "Inbox.index over bytes budget: 81.7 KiB > 64 KiB",
        "Draft.lines outlived its scope `compose`",
    ] {
        assert!(printed.contains(expected), "no {expected:?} in\n{printed}");
    }
    assert!(!printed.contains("composing"), "{printed}");
    assert!(!printed.contains("no_scope"), "{printed}");
}
