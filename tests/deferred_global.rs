//! The README's global set-up (`registry().with(..).with(leakguard::layer()).init()`) with a
//! user layer that keeps an audit log in a budgeted field: the warning its callback raises
//! waits for the callback to return, and a delivery thread brings it to the global
//! subscriber even when the thread that raised it ends at once. Its own binary: the global
//! default is set once per process.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use leakguard::track_growth;
use leakguard_support::capture;
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

#[track_growth]
#[derive(Default)]
struct AuditLog {
    #[budget(len = 1)]
    lines: Vec<String>,
}

thread_local! {
    static LOG: RefCell<AuditLog> = RefCell::new(AuditLog::default());
}

/// Keeps the names of the events of its thread in a tracked log.
struct Audit;

impl<S: Subscriber> Layer<S> for Audit {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "leakguard" {
            LOG.with(|log| log.borrow_mut().lines.push(event.metadata().name().into()));
        }
    }
}

/// How long the README gives the delivery thread; the test allows for a loaded machine.
const DELIVERED_WITHIN: Duration = Duration::from_millis(100);

#[test]
fn a_warning_deferred_on_a_thread_that_ends_reaches_the_global_subscriber() {
    let (capture, events) = capture::layer();
    tracing_subscriber::registry()
        .with(capture)
        .with(Audit)
        .with(leakguard::layer().rate_limit(Duration::ZERO))
        .init();

    let mut slowest = Duration::ZERO;
    for round in 1..=50 {
        // A thread whose second event puts a second line in its log, over the budget of 1,
        // inside the audit's own callback; the thread ends right after.
        std::thread::spawn(|| {
            tracing::info!("one");
            tracing::info!("two");
        })
        .join()
        .unwrap();
        let ended = Instant::now();
        while events.of_kind("over_budget").len() < round
            && ended.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        slowest = slowest.max(ended.elapsed());
        assert_eq!(
            events.of_kind("over_budget").len(),
            round,
            "round {round}: the deferred warning never arrived"
        );
    }
    for warning in events.of_kind("over_budget") {
        assert_eq!(
            warning.message,
            "AuditLog.lines over len budget: 2 entries > 1"
        );
    }
    println!("the slowest of 50 deferred warnings arrived {slowest:?} after its thread ended");
    assert!(
        slowest < DELIVERED_WITHIN,
        "the slowest of 50 deferred warnings took {slowest:?}"
    );
}
