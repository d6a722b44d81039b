//! Each test's own subscriber sees the `outlived` warnings its own code caused, and no
//! other's: two tests run in parallel (as `cargo test` runs them), each under its own
//! `set_default` subscriber with the layer, one keeping a collection past its scope in
//! every round, the other dropping it in time. Both call `check_now`, and the sampler runs
//! every few milliseconds beside them.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use leakguard::track_growth;
use leakguard_support::capture::{self, Events};
use leakguard_support::parallel;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

#[track_growth(scoped)]
#[derive(Default)]
struct Upload {
    chunks: Vec<Vec<u8>>,
}

const ROUNDS: usize = 50;

/// This test's subscriber: the capture and the layer, reporting at once.
fn subscriber() -> (DefaultGuard, Events) {
    let (capture, events) = capture::layer();
    let layer = leakguard::layer()
        .grace_period(Duration::ZERO)
        .rate_limit(Duration::ZERO)
        .sample_interval(Duration::from_millis(2))
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(capture).with(layer);
    (tracing::subscriber::set_default(subscriber), events)
}

static LEAKY_DONE: AtomicBool = AtomicBool::new(false);

/// An upload that holds memory, made in the current scope.
fn upload() -> Upload {
    let mut upload = Upload::default();
    upload.chunks.push(vec![0; 64]);
    upload
}

#[test]
fn a_leaky_test_sees_each_of_its_own_outlived_warnings() {
    let (_guard, events) = subscriber();
    parallel::meet(2);
    let mut kept = Vec::new();
    let mut seen = 0;
    for round in 1..=ROUNDS {
        // A span in even rounds, an explicit scope in odd ones: both are scopes.
        if round % 2 == 0 {
            kept.push(tracing::info_span!("request").in_scope(upload));
        } else {
            let _scope = leakguard::scope("request");
            kept.push(upload());
        }
        // Whatever else the test does before it checks: the sampler and the other test's
        // check_now run meanwhile.
        std::thread::sleep(Duration::from_millis(5));
        leakguard::check_now();
        // The sampler may have taken it first: it tells this subscriber too.
        let start = Instant::now();
        while events.of_kind("outlived").len() < round
            && start.elapsed() < Duration::from_millis(500)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        if events.of_kind("outlived").len() >= round {
            seen += 1;
        }
    }
    assert_eq!(
        (seen, events.of_kind("outlived").len()),
        (ROUNDS, ROUNDS),
        "rounds that saw their own warning, and warnings in all, of {ROUNDS}"
    );
    LEAKY_DONE.store(true, SeqCst);
    for warning in events.of_kind("outlived") {
        assert_eq!(warning.field("collection"), Some("\"Upload.chunks\""));
        assert_eq!(warning.field("scope"), Some("request"));
    }
}

#[test]
fn a_quiet_test_sees_no_outlived_warning_of_another() {
    let (_guard, events) = subscriber();
    parallel::meet(2);
    let start = Instant::now();
    let mut rounds = 0;
    // At least as many rounds as the leaky test, and for as long as it runs.
    while rounds < ROUNDS || (!LEAKY_DONE.load(SeqCst) && start.elapsed() < Duration::from_secs(20))
    {
        {
            let _scope = leakguard::scope("request");
            drop(upload());
        }
        leakguard::check_now();
        std::thread::sleep(Duration::from_millis(1));
        rounds += 1;
    }
    let outlived = events.of_kind("outlived");
    assert!(
        outlived.is_empty(),
        "{} warnings of another test in {rounds} rounds: {:#?}",
        outlived.len(),
        outlived.first()
    );
}
