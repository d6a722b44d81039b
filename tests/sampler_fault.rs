//! A subscriber that panics while handling one of leakguard's events on the sampler thread
//! must not blind leakguard for the rest of the process: the sampler goes on, and says once
//! that it caught a panic. In its own binary: it installs a global default.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use leakguard::track_growth;
use leakguard_support::capture::{self, Events};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Panics on the first leakguard event it sees on the sampler thread.
struct PanicsOnce(AtomicBool);

impl<S: Subscriber> Layer<S> for PanicsOnce {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let on_sampler = std::thread::current().name() == Some("leakguard-sampler");
        if event.metadata().target() == "leakguard"
            && on_sampler
            && !self.0.swap(true, Ordering::SeqCst)
        {
            panic!("a subscriber bug");
        }
    }
}

#[track_growth(scoped)]
#[derive(Default)]
struct Request {
    body: Vec<u8>,
}

/// A request whose body outlives it, in a scope named `name`.
fn leak(name: &'static str, kept: &mut Vec<Request>) {
    let _scope = leakguard::scope(name);
    let mut request = Request::default();
    request.body.push(1);
    kept.push(request);
}

fn wait_for(events: &Events, pick: impl Fn(&Events) -> usize, count: usize) -> usize {
    let start = Instant::now();
    while pick(events) < count && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    pick(events)
}

#[test]
fn the_sampler_goes_on_after_a_subscriber_panicked_on_its_thread() {
    let (capture, events) = capture::layer();
    let layer = leakguard::layer()
        .grace_period(Duration::ZERO)
        .rate_limit(Duration::ZERO)
        .sample_interval(Duration::from_millis(10))
        .unwrap();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(PanicsOnce(AtomicBool::new(false)))
            .with(capture)
            .with(layer),
    )
    .unwrap();
    let mut kept = Vec::new();

    leak("first", &mut kept);
    // The sampler's delivery of the first leak panics in the subscriber...
    assert_eq!(
        wait_for(&events, |e| e.of_kind("sampler_fault").len(), 1),
        1
    );
    let fault = &events.of_kind("sampler_fault")[0];
    assert!(
        fault.message.contains("a subscriber bug"),
        "{}",
        fault.message
    );

    // ...and the sampler still reports the next one, and says nothing more of the fault.
    leak("second", &mut kept);
    let outlived_second = |e: &Events| {
        e.of_kind("outlived")
            .iter()
            .filter(|o| o.message.contains("`second`"))
            .count()
    };
    assert_eq!(wait_for(&events, outlived_second, 1), 1);
    leak("third", &mut kept);
    let outlived_third = |e: &Events| {
        e.of_kind("outlived")
            .iter()
            .filter(|o| o.message.contains("`third`"))
            .count()
    };
    assert_eq!(wait_for(&events, outlived_third, 1), 1);
    assert_eq!(events.of_kind("sampler_fault").len(), 1);
}
