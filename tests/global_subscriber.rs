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
    // One warning for the inbox; the audit log's own warnings, raised inside the
    // subscriber's callback, are dropped instead of re-entering it.
    assert_eq!(
        events.leakguard_messages(),
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
        events.leakguard_messages(),
        [
            "Inbox.messages over len budget: 3 entries > 2",
            "Inbox.messages over len budget: 5 entries > 2x 2",
        ]
    );
}
