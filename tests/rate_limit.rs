//! Rate limiting per leak fingerprint, with "suppressed N" summaries. In its own binary: the
//! rate window is a process-wide setting, and a summary goes to whichever check finds it
//! due, so the tests here take turns.

use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use leakguard::track_growth;
use leakguard_support::capture::{self, Events};
use tracing_subscriber::layer::SubscriberExt;

const WINDOW: Duration = Duration::from_secs(1);

/// Held by each test: summaries are global, and go to the subscriber of the check that
/// emits them.
static TURN: Mutex<()> = Mutex::new(());

fn subscriber() -> (impl tracing::Subscriber + Send + Sync, Events) {
    let (capture, events) = capture::layer();
    let layer = leakguard::layer()
        .grace_period(Duration::ZERO)
        .rate_limit(WINDOW)
        // The sampler stays out of the way: every check here is `check_now`.
        .sample_interval(Duration::from_secs(3600))
        .unwrap();
    (
        tracing_subscriber::registry().with(capture).with(layer),
        events,
    )
}

#[track_growth(scoped)]
#[derive(Default)]
struct Upload {
    parts: Vec<String>,
}

/// One request that leaks its upload: the same leak every time.
fn leaky_request(kept: &mut Vec<Upload>) {
    let _span = tracing::info_span!("upload").entered();
    let mut upload = Upload::default();
    upload.parts.push("part".to_string());
    kept.push(upload);
}

#[test]
fn a_repeated_leak_is_reported_once_per_window_then_summarised() {
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut kept = Vec::new();

    for _ in 0..5 {
        leaky_request(&mut kept);
        leakguard::check_now();
    }
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    assert_eq!(outlived[0].field("total"), Some("1"));
    assert!(events.of_kind("suppressed").is_empty());

    thread::sleep(WINDOW + Duration::from_millis(100));
    leakguard::check_now();
    leakguard::check_now();
    let summaries = events.of_kind("suppressed");
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    assert_eq!(
        summaries[0].message,
        "Upload.parts outlived its scope `upload`: 4 more times since the last report (5 in all)"
    );
    assert_eq!(summaries[0].field("collection"), Some("\"Upload.parts\""));
    assert_eq!(summaries[0].field("suppressed"), Some("4"));
    assert_eq!(summaries[0].field("total"), Some("5"));

    // A window after the summary, the same leak is reported again, with its running total:
    // all six collections are alive.
    thread::sleep(WINDOW + Duration::from_millis(100));
    leaky_request(&mut kept);
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 2, "{outlived:#?}");
    assert_eq!(outlived[1].field("total"), Some("6"));
    assert_eq!(outlived[1].field("suppressed"), Some("0"));
    assert!(
        outlived[1].message.ends_with("(6 instances)"),
        "{}",
        outlived[1].message
    );
}

#[track_growth]
#[derive(Default)]
struct Queue {
    #[budget(len = 2)]
    jobs: Vec<u32>,
}

#[test]
fn budget_crossings_of_many_instances_are_one_event_and_a_summary() {
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);

    for _ in 0..10 {
        let mut queue = Queue::default();
        queue.jobs.extend([1, 2, 3]);
    }
    let over = events.of_kind("over_budget");
    assert_eq!(over.len(), 1, "{over:#?}");
    assert_eq!(over[0].field("suppressed"), Some("0"));

    thread::sleep(WINDOW + Duration::from_millis(100));
    leakguard::check_now();
    let summaries = events.of_kind("suppressed");
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    assert_eq!(
        summaries[0].message,
        "Queue.jobs went over its len budget: 9 more times since the last report (10 in all)"
    );
}
