//! The layer logs `leakguard::report()` at the interval set by `report_every`. In its own
//! binary: the interval is a process-wide setting.

use std::thread;
use std::time::{Duration, Instant};

use leakguard::track_growth;
use leakguard_support::capture;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;

#[track_growth]
#[derive(Default)]
struct Ledger {
    entries: Vec<String>,
}

#[test]
fn the_report_is_logged_at_each_interval() {
    let (capture, events) = capture::layer();
    let layer = leakguard::layer()
        .sample_interval(Duration::from_millis(20))
        .unwrap()
        .report_every(Duration::from_millis(100))
        .unwrap();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture).with(layer));

    let mut ledger = Ledger::default();
    ledger.entries.push("opened".to_string());

    let reports = || events.of_kind("report");
    let deadline = Instant::now() + Duration::from_secs(10);
    while reports().len() < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let reports = reports();
    assert!(reports.len() >= 2, "{reports:#?}");
    let first = &reports[0];
    assert_eq!(first.level, Level::INFO);
    assert!(
        first.message.starts_with("leakguard report\ncollection"),
        "{}",
        first.message
    );
    let row = first
        .message
        .lines()
        .find(|line| line.starts_with("Ledger.entries"))
        .unwrap_or_else(|| panic!("no Ledger.entries row in\n{}", first.message));
    assert!(row.split_whitespace().nth(1) == Some("1"), "{row}");
    assert!(first.field("groups").is_some_and(|g| g != "0"));
    drop(ledger);
}
