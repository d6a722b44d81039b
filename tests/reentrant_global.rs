//! A subscriber whose own callbacks use tracked collections, under a global default: the
//! warning those collections raise must not be dispatched back into the subscriber from
//! inside its callback (a deadlock on its Mutex, a panic on its RefCell); it arrives once
//! the callback has returned. In its own binary: the global default is set once.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leakguard::track_growth;
use leakguard_support::capture::{self, Events};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

#[track_growth]
#[derive(Default)]
struct AuditLog {
    #[budget(len = 2)]
    lines: Vec<String>,
}

/// Keeps every event it sees in a tracked log, behind a Mutex.
struct LockedAudit(Arc<Mutex<AuditLog>>);

impl<S: Subscriber> Layer<S> for LockedAudit {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        // Locked for every event, leakguard's included, as an audit log would be.
        let mut log = self.0.lock().unwrap();
        if event.metadata().target() != "leakguard" {
            log.lines.push(event.metadata().name().to_string());
        }
    }
}

thread_local! {
    static CELL_LOG: RefCell<AuditLog> = RefCell::new(AuditLog::default());
}

/// The same, in a RefCell of the thread.
struct CellAudit;

impl<S: Subscriber> Layer<S> for CellAudit {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        CELL_LOG.with(|log| {
            let mut log = log.borrow_mut();
            if event.metadata().target() != "leakguard" {
                log.lines.push(event.metadata().name().to_string());
            }
        });
    }
}

/// Fails the test binary rather than hanging CI, should the dispatch deadlock.
fn watchdog(done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        if !done.load(Ordering::SeqCst) {
            eprintln!("deadlock: the third event never returned");
            std::process::abort();
        }
    });
}

fn wait_for(events: &Events, kind: &str, count: usize) -> usize {
    let start = Instant::now();
    while events.of_kind(kind).len() < count && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    events.of_kind(kind).len()
}

#[test]
fn a_warning_raised_inside_a_subscribers_callback_waits_for_the_callback_to_return() {
    let done = Arc::new(AtomicBool::new(false));
    watchdog(done.clone());
    let log = Arc::new(Mutex::new(AuditLog::default()));
    let (capture, events) = capture::layer();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(LockedAudit(log.clone()))
            .with(CellAudit)
            .with(capture),
    )
    .unwrap();

    tracing::info!("one");
    tracing::info!("two");
    // Each audit's third line crosses its budget of 2, inside the audit's own callback.
    tracing::info!("three");
    done.store(true, Ordering::SeqCst);

    assert_eq!(log.lock().unwrap().lines.len(), 3);
    assert_eq!(CELL_LOG.with(|log| log.borrow().lines.len()), 3);
    // Both warnings arrive, after the callbacks returned, by the delivery thread.
    assert_eq!(wait_for(&events, "over_budget", 2), 2);
    for warning in events.of_kind("over_budget") {
        assert_eq!(
            warning.message,
            "AuditLog.lines over len budget: 3 entries > 2"
        );
    }
}
