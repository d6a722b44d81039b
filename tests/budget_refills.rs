//! A budget that is flushed and refilled (issue 19, item 5): a `Vec` with a bytes budget,
//! cleared every 1,000 pushes, warned on every refill, 99 lines in 0.8 s reading
//! "32 KiB > 32 KiB". Its first return after re-arming still warns at once; further ones
//! within the window are one summary that says it is being flushed and refilled, and how
//! often; every figure printed shows the inequality it claims.

use std::time::Duration;

use leakguard::track_growth;
use leakguard_support::alloc::{Counting, allocated_by};
use leakguard_support::capture::{self, Captured, Events};
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static ALLOC: Counting = Counting;

#[track_growth]
#[derive(Default)]
struct Batch {
    #[budget(bytes = "32 KiB")]
    lines: Vec<String>,
}

fn line(i: usize) -> String {
    format!("{i:016}")
}

/// One fill of 1,000 lines and the flush.
fn fill_and_flush(batch: &mut Batch) {
    for i in 0..1_000 {
        batch.lines.push(line(i));
    }
    batch.lines.clear();
}

fn subscriber(window: Option<Duration>) -> (tracing::subscriber::DefaultGuard, Events) {
    let (capture, events) = capture::layer();
    let mut layer = leakguard::layer();
    if let Some(window) = window {
        layer = layer.rate_limit(window);
    }
    let subscriber = tracing_subscriber::registry().with(capture).with(layer);
    (tracing::subscriber::set_default(subscriber), events)
}

/// The bytes a plain `Vec<String>` of the first `len` lines holds, by the counting
/// allocator, with the capacity the tracked one had when it crossed.
fn true_bytes(len: usize, capacity: usize) -> usize {
    let (plain, bytes) = allocated_by(|| {
        let mut plain = Vec::with_capacity(capacity);
        plain.extend((0..len).map(line));
        plain
    });
    drop(plain);
    bytes as usize
}

fn print(events: &[Captured]) {
    for event in events {
        eprintln!("WARN leakguard: {}", event.message);
    }
}

#[test]
fn a_hundred_refills_under_the_default_window_are_two_lines() {
    let (_guard, events) = subscriber(None);
    let mut batch = Batch::default();
    for _ in 0..100 {
        fill_and_flush(&mut batch);
    }
    let over = events.of_kind("over_budget");
    print(&over);
    assert_eq!(over.len(), 2, "the first crossing and the first refill");
    // The 513th line of 16 bytes crosses, in storage for 1,024 lines.
    let bytes = true_bytes(513, 1_024);
    assert_eq!(bytes, 1_024 * 24 + 513 * 16);
    for event in &over {
        assert_eq!(event.field("len"), Some("513"));
        assert_eq!(event.field("bytes"), Some(bytes.to_string().as_str()));
        assert_eq!(
            event.message,
            "Batch.lines over bytes budget: 32,784 B > 32 KiB (32,768 B)"
        );
    }
    // The window is ten seconds: the 98 other refills wait for their summary.
    leakguard::check_now();
    assert!(events.of_kind("suppressed").is_empty());
}

#[test]
fn ten_refills_in_a_window_are_three_lines_that_say_how_often() {
    let window = Duration::from_millis(400);
    let (_guard, events) = subscriber(Some(window));
    let mut batch = Batch::default();
    let started = std::time::Instant::now();
    for _ in 0..10 {
        fill_and_flush(&mut batch);
    }
    assert!(started.elapsed() < window, "the refills fit in one window");
    std::thread::sleep(window + Duration::from_millis(100));
    leakguard::check_now();
    let all: Vec<Captured> = events
        .all()
        .into_iter()
        .filter(|e| e.target == "leakguard")
        .collect();
    print(&all);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(events.of_kind("over_budget").len(), 2);
    let summary = &events.of_kind("suppressed")[0];
    let message = &summary.message;
    let prefix = "Batch.lines is being flushed and refilled: it went back over its bytes budget \
                  8 more times since the last report, about every ";
    assert!(message.starts_with(prefix), "{message}");
    assert!(message.ends_with(" (9 in all)"), "{message}");
    let every_ms: u64 = summary.field("every_ms").unwrap().parse().unwrap();
    assert!(every_ms < window.as_millis() as u64 / 8, "{every_ms} ms");
    assert_eq!(summary.field("suppressed"), Some("8"));
    assert_eq!(summary.field("total"), Some("9"));
}

#[test]
fn a_refill_after_the_window_carries_how_often_it_came_back() {
    let window = Duration::from_millis(300);
    let (_guard, events) = subscriber(Some(window));
    let mut batch = Batch::default();
    for _ in 0..10 {
        fill_and_flush(&mut batch);
    }
    std::thread::sleep(window + Duration::from_millis(50));
    // No check ran meanwhile: the next refill's own line says what was held back.
    fill_and_flush(&mut batch);
    let over = events.of_kind("over_budget");
    print(&over);
    assert_eq!(over.len(), 3, "{over:#?}");
    let message = &over[2].message;
    let prefix = "Batch.lines over bytes budget: 32,784 B > 32 KiB (32,768 B) (flushed and \
                  refilled: 8 more times since the last report, about every ";
    assert!(message.starts_with(prefix), "{message}");
    assert!(message.ends_with(", 10 in all)"), "{message}");
    // The refills came every few milliseconds: the quiet window after them is not counted.
    let every = &message[prefix.len()..message.len() - ", 10 in all)".len()];
    let (figure, unit) = every.split_once(' ').unwrap();
    let ms = figure.parse::<f64>().unwrap() * if unit == "µs" { 1e-3 } else { 1.0 };
    assert!(unit != "s" && ms < 30.0, "{every}");
    assert_eq!(over[2].field("suppressed"), Some("8"));
    assert!(events.of_kind("suppressed").is_empty());
}
