//! Each subscriber sees the warnings its own code caused: the rate limit belongs to the
//! subscriber's layer, not to the process. The tests here share one struct type and run in
//! parallel, each under its own `set_default` subscriber, as a user's tests do.

use std::time::Duration;

use leakguard::track_growth;
use leakguard_support::capture::{self, Events};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

#[track_growth]
#[derive(Default)]
struct Queue {
    #[budget(len = 100)]
    jobs: Vec<u64>,
}

/// This thread's subscriber: the capture and, if `with_layer`, the leakguard layer with its
/// default ten-second rate limit.
fn subscriber(with_layer: bool) -> (DefaultGuard, Events) {
    let (capture, events) = capture::layer();
    let layer = with_layer.then(leakguard::layer);
    let subscriber = tracing_subscriber::registry().with(capture).with(layer);
    (tracing::subscriber::set_default(subscriber), events)
}

fn over_budget(events: &Events) -> Vec<String> {
    events
        .of_kind("over_budget")
        .into_iter()
        .map(|e| e.message)
        .collect()
}

fn fill(queue: &mut Queue, up_to: u64) {
    for job in queue.jobs.len() as u64..up_to {
        queue.jobs.push(job);
    }
}

fn each_test_sees_its_own_warning(with_layer: bool) {
    let (_guard, events) = subscriber(with_layer);
    let mut queue = Queue::default();
    fill(&mut queue, 101);
    assert_eq!(
        over_budget(&events),
        ["Queue.jobs over len budget: 101 entries > 100"]
    );
}

#[test]
fn the_first_test_sees_its_warning() {
    each_test_sees_its_own_warning(true);
}

#[test]
fn the_second_test_sees_its_warning() {
    each_test_sees_its_own_warning(true);
}

#[test]
fn a_test_whose_subscriber_has_no_layer_sees_its_warning() {
    each_test_sees_its_own_warning(false);
}

#[test]
fn a_collection_that_re_arms_warns_again_within_the_window() {
    let (_guard, events) = subscriber(true);
    let mut queue = Queue::default();
    fill(&mut queue, 101);
    queue.jobs.truncate(50);
    fill(&mut queue, 101);
    assert_eq!(
        over_budget(&events),
        [
            "Queue.jobs over len budget: 101 entries > 100",
            "Queue.jobs over len budget: 101 entries > 100",
        ],
        "the README: it re-arms once it falls back under"
    );
}

#[test]
fn a_storm_of_crossings_is_one_line_per_window_with_the_layer() {
    let (_guard, events) = subscriber(true);
    let queues: Vec<Queue> = (0..1_000)
        .map(|_| {
            let mut queue = Queue::default();
            fill(&mut queue, 101);
            queue
        })
        .collect();
    assert_eq!(queues.len(), 1_000);
    assert_eq!(over_budget(&events).len(), 1);
    // The window is ten seconds: nothing is summarised yet, and check_now says so.
    leakguard::check_now();
    assert!(events.of_kind("suppressed").is_empty());
}

#[test]
fn without_the_layer_every_crossing_is_a_line() {
    let (_guard, events) = subscriber(false);
    for _ in 0..1_000 {
        let mut queue = Queue::default();
        fill(&mut queue, 101);
    }
    assert_eq!(over_budget(&events).len(), 1_000);
}

#[test]
fn held_back_crossings_are_summarised_once_the_window_is_over() {
    let (capture, events) = capture::layer();
    let layer = leakguard::layer().rate_limit(Duration::from_millis(200));
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture).with(layer));
    for _ in 0..10 {
        let mut queue = Queue::default();
        fill(&mut queue, 101);
    }
    std::thread::sleep(Duration::from_millis(250));
    leakguard::check_now();
    let summaries = events.of_kind("suppressed");
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    assert_eq!(
        summaries[0].message,
        "Queue.jobs went over its len budget: 9 more times since the last report (10 in all)"
    );
}

/// A layer whose callback uses a tracked collection, as an audit log might.
struct Audit(std::sync::Mutex<Queue>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Audit {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "leakguard" {
            let mut queue = self.0.lock().unwrap();
            let next = queue.jobs.len() as u64;
            fill(&mut queue, next + 1);
        }
    }
}

#[test]
fn a_warning_raised_inside_a_callback_is_emitted_once_outside() {
    let (capture, events) = capture::layer();
    let audit = Audit(std::sync::Mutex::new(Queue::default()));
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(capture)
            .with(leakguard::layer())
            .with(audit),
    );
    for i in 0..101 {
        tracing::info!(i, "work");
    }
    // The 101st job crossed the budget inside the audit's callback, where tracing hands
    // out no subscriber: the warning waited instead of being lost, for check_now or the
    // delivery thread, whichever came first, and is emitted once.
    leakguard::check_now();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        over_budget(&events),
        ["Queue.jobs over len budget: 101 entries > 100"]
    );
}

/// Keeps the names of its thread's events in a tracked log of budget 1.
struct ThreadAudit;

thread_local! {
    static THREAD_LOG: std::cell::RefCell<Queue> = std::cell::RefCell::new(Queue::default());
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ThreadAudit {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "leakguard" {
            THREAD_LOG.with(|log| fill(&mut log.borrow_mut(), 101));
        }
    }
}

#[test]
fn a_warning_deferred_on_a_thread_that_ends_reaches_that_threads_subscriber() {
    // Each round: a worker thread given a subscriber, whose one event makes its audit
    // cross the budget inside the callback; the thread ends right after, and no other
    // leakguard event follows there. The delivery thread brings the warning to that
    // subscriber, and to no other: this test's own subscriber sees none.
    let (_guard, mine) = subscriber(true);
    let mut slowest = Duration::ZERO;
    for round in 0..50 {
        let (capture, events) = capture::layer();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(capture)
                .with(ThreadAudit)
                .with(leakguard::layer()),
        );
        let worker = dispatch.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&worker, || tracing::info!("work"));
        })
        .join()
        .unwrap();
        let ended = std::time::Instant::now();
        while over_budget(&events).is_empty() && ended.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_micros(200));
        }
        slowest = slowest.max(ended.elapsed());
        assert_eq!(
            over_budget(&events),
            ["Queue.jobs over len budget: 101 entries > 100"],
            "round {round}"
        );
    }
    assert!(over_budget(&mine).is_empty());
    println!("the slowest of 50 deferred warnings arrived {slowest:?} after its thread ended");
    assert!(
        slowest < Duration::from_millis(100),
        "the slowest of 50 deferred warnings took {slowest:?}"
    );
}

/// Issue 20, item 7: another instance of the field warning meanwhile does not hide a
/// collection's own re-armed crossing. Under the default ten-second window, fifty rounds,
/// beside the other tests of this binary that fill `Queue`s in parallel.
#[test]
fn a_re_armed_crossing_warns_at_once_whatever_another_instance_did() {
    const CROSSING: &str = "Queue.jobs over len budget: 101 entries > 100";
    for round in 0..50 {
        // A crosses, B crosses (a repeat of A's), A falls back under and crosses again.
        let (guard, events) = subscriber(true);
        let (mut a, mut b) = (Queue::default(), Queue::default());
        fill(&mut a, 101);
        fill(&mut b, 101);
        assert_eq!(
            over_budget(&events),
            [CROSSING],
            "round {round}: B is a repeat"
        );
        a.jobs.truncate(50);
        fill(&mut a, 101);
        assert_eq!(
            over_budget(&events),
            [CROSSING, CROSSING],
            "round {round}: A's re-armed crossing warns at once"
        );
        // A refilled again within the window: counted for its summary, not a line.
        a.jobs.truncate(50);
        fill(&mut a, 101);
        assert_eq!(over_budget(&events).len(), 2, "round {round}");
        drop(guard);

        // B warns first; A's first crossing is then the repeat, and its re-armed one is
        // still news.
        let (_guard, events) = subscriber(true);
        let (mut a, mut b) = (Queue::default(), Queue::default());
        fill(&mut b, 101);
        fill(&mut a, 101);
        a.jobs.truncate(50);
        fill(&mut a, 101);
        assert_eq!(
            over_budget(&events),
            [CROSSING, CROSSING],
            "round {round}: B, A, A: A's re-armed crossing warns at once"
        );
    }
}
