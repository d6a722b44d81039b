//! Budget warnings as a user sees them, under `tracing::subscriber::set_default`.
//! (`global_subscriber.rs` checks the same under a global default, in its own binary.)

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};

use leakguard::{Tracked, track_growth};
use leakguard_support::capture;
use tracing::Level;

/// Declares the `Inbox` of the README, local to each test: warnings are rate-limited per
/// field, so tests running in parallel must not share one.
macro_rules! inbox {
    () => {
        #[track_growth]
        #[derive(Debug, Default)]
        #[allow(dead_code)]
        pub struct Inbox {
            #[budget(len = 100)]
            messages: Vec<String>,
            #[budget(bytes = "64 KiB")]
            index: HashMap<u64, String>,
            #[track(skip)]
            scratch: Vec<u8>,
            count: u64,
        }
    };
}

/// Records this thread's events, with the leakguard layer and no rate limit.
fn without_rate_limit() -> (tracing::subscriber::DefaultGuard, capture::Events) {
    use tracing_subscriber::layer::SubscriberExt;
    let (capture, events) = capture::layer();
    let subscriber = tracing_subscriber::registry()
        .with(capture)
        .with(leakguard::layer().rate_limit(std::time::Duration::ZERO));
    (tracing::subscriber::set_default(subscriber), events)
}

fn message(i: usize) -> String {
    format!("message {i:04}")
}

#[test]
fn crossing_the_len_budget_warns_once_in_the_push_that_crossed() {
    inbox!();
    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut inbox = Inbox::default();
    for i in 0..100 {
        inbox.messages.push(message(i));
    }
    assert!(events.all().is_empty(), "at the budget is not over it");

    inbox.messages.push(message(100));
    let all = events.all();
    assert_eq!(all.len(), 1);
    let warning = &all[0];
    assert_eq!(warning.level, Level::WARN);
    assert_eq!(warning.target, "leakguard");
    assert_eq!(
        warning.message,
        "Inbox.messages over len budget: 101 entries > 100"
    );
    assert_eq!(warning.field("collection"), Some("\"Inbox.messages\""));
    assert_eq!(warning.field("len"), Some("101"));
    let bytes = Tracked::bytes(&inbox.messages).to_string();
    assert_eq!(warning.field("bytes"), Some(bytes.as_str()));
    assert_eq!(warning.field("budget_len"), Some("100"));
    assert_eq!(warning.field("over"), Some("\"len\""));

    for i in 101..200 {
        inbox.messages.push(message(i));
    }
    assert_eq!(
        events.all().len(),
        1,
        "one warning per crossing, not per operation"
    );
    // The other fields are untouched.
    assert_eq!(inbox.count, 0);
    assert!(inbox.scratch.is_empty());
}

#[test]
fn warns_again_each_time_it_doubles_past_the_budget() {
    inbox!();
    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut inbox = Inbox::default();
    inbox.messages.extend((0..801).map(message));
    // `extend` crosses three thresholds at once and warns once, for the highest.
    assert_eq!(
        events.leakguard_messages(),
        ["Inbox.messages over len budget: 801 entries > 8x 100"]
    );
    events.clear();
    let mut inbox = Inbox::default();
    for i in 0..1601 {
        inbox.messages.push(message(i));
    }
    assert_eq!(
        events.leakguard_messages(),
        [
            "Inbox.messages over len budget: 101 entries > 100",
            "Inbox.messages over len budget: 201 entries > 2x 100",
            "Inbox.messages over len budget: 401 entries > 4x 100",
            "Inbox.messages over len budget: 801 entries > 8x 100",
            "Inbox.messages over len budget: 1601 entries > 16x 100",
        ]
    );
}

#[test]
fn rearms_after_falling_back_under_the_budget() {
    inbox!();
    // Each crossing of the same level is the same leak to the rate limiter: turn it off.
    let (_guard, events) = without_rate_limit();
    let mut inbox = Inbox::default();
    inbox.messages.extend((0..150).map(message));
    inbox.messages.truncate(120);
    inbox.messages.extend((0..10).map(message));
    assert_eq!(events.all().len(), 1, "still over: no new warning");

    inbox.messages.truncate(100);
    inbox.messages.push(message(0));
    inbox.messages.pop();
    inbox.messages.push(message(0));
    assert_eq!(
        events.leakguard_messages(),
        [
            "Inbox.messages over len budget: 150 entries > 100",
            "Inbox.messages over len budget: 101 entries > 100",
            "Inbox.messages over len budget: 101 entries > 100",
        ]
    );
}

#[test]
fn crossing_the_bytes_budget_names_sizes_in_binary_units() {
    inbox!();
    // It crosses the same level twice, which the rate limiter would count as one leak.
    let (_guard, events) = without_rate_limit();
    let mut inbox = Inbox::default();
    let mut i = 0;
    while events.all().is_empty() {
        inbox.index.insert(i, "v".repeat(100));
        i += 1;
        assert!(i < 10_000, "no warning");
    }
    let bytes = Tracked::bytes(&inbox.index);
    assert!(bytes > 64 * 1024);
    let warning = &events.all()[0];
    assert_eq!(warning.field("over"), Some("\"bytes\""));
    assert_eq!(warning.field("budget_bytes"), Some("65536"));
    assert_eq!(
        warning.field("len"),
        Some(inbox.index.len().to_string().as_str())
    );
    let expected = format!(
        "Inbox.index over bytes budget: {:.1} KiB > 64 KiB",
        bytes as f64 / 1024.0
    );
    assert_eq!(warning.message, expected);
    // Removing enough entries re-arms it; the table keeps its buckets, so it takes more.
    let len = inbox.index.len() as u64;
    for k in 0..len {
        inbox.index.remove(&k);
    }
    inbox.index.shrink_to_fit();
    for k in 0..len {
        inbox.index.insert(k, "v".repeat(100));
    }
    assert_eq!(events.all().len(), 2);
}

#[test]
fn changes_through_mut_access_warn_at_the_next_access() {
    inbox!();
    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut inbox = Inbox::default();
    {
        // A `&mut Vec` bypasses the tracked methods.
        let raw: &mut Vec<String> = &mut inbox.messages;
        for i in 0..150 {
            raw.push(message(i));
        }
    }
    assert!(events.all().is_empty(), "not seen yet");
    assert_eq!(inbox.messages.len(), 150);
    assert_eq!(
        events.leakguard_messages(),
        ["Inbox.messages over len budget: 150 entries > 100"]
    );
}

#[track_growth(len = 3, bytes = "1 KiB")]
#[derive(Default)]
struct Defaults {
    /// Inherits both limits.
    queue: VecDeque<u32>,
    /// Overrides the len limit, inherits the bytes limit.
    #[budget(len = 10)]
    name: String,
}

#[test]
fn struct_level_budget_applies_to_every_tracked_field() {
    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut d = Defaults::default();
    for i in 0..4 {
        d.queue.push_back(i);
    }
    for _ in 0..11 {
        d.name.push('x');
    }
    assert_eq!(Tracked::budget(&d.name).len, Some(10));
    assert_eq!(Tracked::budget(&d.name).bytes, Some(1024));
    assert_eq!(
        events.leakguard_messages(),
        [
            "Defaults.queue over len budget: 4 entries > 3",
            "Defaults.name over len budget: 11 entries > 10",
        ]
    );
}

/// A `MakeWriter` that appends to a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Overflows an inbox of its own, one per invocation.
macro_rules! overflow_inbox {
    () => {
        || {
            inbox!();
            let mut inbox = Inbox::default();
            inbox.messages.extend((0..101).map(message));
        }
    };
}

#[test]
fn fmt_subscriber_shows_the_warning_without_set_up() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    tracing::subscriber::with_default(subscriber, overflow_inbox!());
    let line = buffer.text();
    assert!(
        line.starts_with(" WARN leakguard: Inbox.messages over len budget: 101 entries > 100 kind=\"over_budget\" collection=\"Inbox.messages\" len=101 bytes="),
        "{line}"
    );
    assert!(
        line.trim_end()
            .ends_with("budget_len=100 over=\"len\" times=1 suppressed=0"),
        "{line}"
    );
}

#[test]
fn json_subscriber_carries_the_structured_fields() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, overflow_inbox!());
    let event: serde_json::Value = serde_json::from_str(buffer.text().trim()).unwrap();
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["target"], "leakguard");
    let fields = &event["fields"];
    assert_eq!(
        fields["message"],
        "Inbox.messages over len budget: 101 entries > 100"
    );
    assert_eq!(fields["collection"], "Inbox.messages");
    assert_eq!(fields["len"], 101);
    assert_eq!(fields["budget_len"], 100);
}

#[test]
fn env_filter_selects_leakguard_warnings_by_target() {
    use tracing_subscriber::EnvFilter;
    for (directive, shown) in [
        ("leakguard=warn", true),
        ("leakguard=error", false),
        ("warn", true),
    ] {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(directive))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, overflow_inbox!());
        assert_eq!(
            buffer.text().contains("over len budget"),
            shown,
            "{directive}"
        );
    }
}

#[test]
fn single_pushes_to_a_small_collection_publish_each_length_and_warn_on_the_crossing_push() {
    #[track_growth]
    #[derive(Default)]
    struct SmallLog {
        #[budget(len = 100)]
        entries: Vec<u64>,
    }

    /// What the report says of the one `SmallLog.entries`: (len, bytes, unused bytes,
    /// peak len, over budget).
    fn published() -> (usize, usize, usize, usize, usize) {
        let report = leakguard::report();
        let group = report.group("SmallLog.entries").expect("registered");
        assert_eq!(group.instances, 1);
        (
            group.len,
            group.bytes,
            group.unused_bytes,
            group.peak_len,
            group.over_budget,
        )
    }

    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut log = SmallLog::default();
    // Under 2,048 entries each figure is published exactly: every push, and every pop,
    // shows at once.
    for len in 1..=100 {
        log.entries.push(len as u64);
        let capacity = log.entries.capacity();
        assert_eq!(
            published(),
            (len, 8 * capacity, 8 * (capacity - len), len, 0),
            "after push {len}"
        );
    }
    assert!(events.all().is_empty(), "at the budget is not over it");

    log.entries.push(101);
    let all = events.all();
    assert_eq!(all.len(), 1, "the push that crossed warned");
    assert_eq!(all[0].field("len"), Some("101"));
    assert_eq!(published().0, 101);
    assert_eq!(published().4, 1, "over its budget");

    for len in (90..=100).rev() {
        log.entries.pop();
        assert_eq!(published().0, len, "after a pop to {len}");
        assert_eq!(published().4, 0, "back under at {len}");
    }
    for len in 91..=100 {
        log.entries.push(len as u64);
        assert_eq!(published().0, len);
    }
    assert_eq!(events.all().len(), 1, "refilled to the budget, not over it");
    log.entries.push(101);
    assert_eq!(events.all().len(), 2, "over again on the exact push");
    assert_eq!(events.all()[1].field("len"), Some("101"));
    assert_eq!(published().3, 101, "its peak");
}
