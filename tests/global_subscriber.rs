//! Budget warnings under a global default subscriber, which delivers events differently from
//! `set_default`. Its own binary, since a global default can be set once per process.

use std::sync::Mutex;

use leakguard::track_growth;
use leakguard_support::capture;
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

#[track_growth]
#[derive(Default)]
struct AuditLog {
    /// Over budget from its second entry on.
    #[budget(len = 1)]
    lines: Vec<String>,
}

/// A layer that records every event into a tracked, over-budget collection: each record
/// triggers a leakguard warning from inside the subscriber's own callback.
struct Auditing(Mutex<AuditLog>);

impl<S: Subscriber> Layer<S> for Auditing {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.lines.push(event.metadata().name().to_string());
        log.lines.push(event.metadata().target().to_string());
    }
}

#[track_growth]
#[derive(Default)]
struct Inbox {
    #[budget(len = 2)]
    messages: Vec<String>,
}

#[test]
fn warnings_reach_a_global_subscriber_and_never_recurse_through_it() {
    let (layer, events) = capture::layer();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(Auditing(Mutex::new(AuditLog::default())));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let mut inbox = Inbox::default();
    for i in 0..4 {
        inbox.messages.push(format!("m{i}"));
    }
    // One warning for the inbox, at once.
    assert_eq!(
        messages_of(&events, "Inbox."),
        ["Inbox.messages over len budget: 3 entries > 2"]
    );

    // From another thread too.
    std::thread::spawn(|| {
        let mut inbox = Inbox::default();
        inbox
            .messages
            .extend(["a", "b", "c", "d", "e"].map(String::from));
    })
    .join()
    .unwrap();
    assert_eq!(
        messages_of(&events, "Inbox."),
        [
            "Inbox.messages over len budget: 3 entries > 2",
            "Inbox.messages over len budget: 5 entries > 2x 2",
        ]
    );

    // The audit log's own warnings, raised inside the subscriber's callback, never
    // re-entered it: they waited, and the delivery thread brought them once the callbacks
    // had returned, each once. The log records those warnings too, so it goes on crossing
    // at each doubling (2, 3, 5, 9 lines) until two lines per warning no longer double it.
    let start = std::time::Instant::now();
    while messages_of(&events, "AuditLog.").len() < 4
        && start.elapsed() < std::time::Duration::from_secs(5)
    {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(
        messages_of(&events, "AuditLog."),
        [
            "AuditLog.lines over len budget: 2 entries > 1",
            "AuditLog.lines over len budget: 3 entries > 2x 1",
            "AuditLog.lines over len budget: 5 entries > 4x 1",
            "AuditLog.lines over len budget: 9 entries > 8x 1",
        ]
    );
}

/// leakguard's messages about the collections whose names start with `prefix`.
fn messages_of(events: &capture::Events, prefix: &str) -> Vec<String> {
    events
        .leakguard_messages()
        .into_iter()
        .filter(|m| m.starts_with(prefix))
        .collect()
}
