//! The leakguard layer under a global default subscriber: the sampler thread reports to it,
//! and a layer that itself grows tracked collections from inside its callbacks neither
//! recurses nor deadlocks. Its own binary, since a global default is set once per process.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use leakguard::track_growth;
use leakguard_support::capture;
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// A layer that keeps every event and span it sees in tracked, over-budget, scoped
/// collections, so that each callback can trigger leakguard events of its own.
#[derive(Default)]
struct Hungry(Mutex<Archive>);

#[track_growth(scoped)]
#[derive(Default)]
struct Archive {
    #[budget(len = 1)]
    events: Vec<String>,
    spans: Vec<u64>,
}

impl<S: Subscriber> Layer<S> for Hungry {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut archive = self.0.lock().unwrap_or_else(|e| e.into_inner());
        archive.events.push(event.metadata().name().to_string());
    }

    fn on_enter(&self, id: &tracing::span::Id, _: Context<'_, S>) {
        let mut archive = self.0.lock().unwrap_or_else(|e| e.into_inner());
        archive.spans.push(id.into_u64());
    }
}

#[track_growth(scoped)]
#[derive(Default)]
struct Upload {
    chunks: Vec<Vec<u8>>,
}

#[track_growth]
#[derive(Default)]
struct Ledger {
    entries: Vec<u64>,
}

#[test]
fn the_sampler_and_the_checks_report_to_a_global_subscriber() {
    let (capture, events) = capture::layer();
    let subscriber = tracing_subscriber::registry()
        .with(capture)
        .with(Hungry::default())
        .with(
            leakguard::layer()
                .grace_period(Duration::ZERO)
                .rate_limit(Duration::ZERO)
                .sample_interval(Duration::from_millis(20))
                .unwrap()
                .growth_samples(3)
                .unwrap(),
        );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    // An upload kept past its span, checked from another thread.
    let kept = tracing::info_span!("upload").in_scope(|| {
        let mut upload = Upload::default();
        upload.chunks.push(vec![0; 1024]);
        upload
    });
    std::thread::spawn(leakguard::check_now).join().unwrap();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    assert_eq!(outlived[0].field("collection"), Some("\"Upload.chunks\""));
    assert_eq!(outlived[0].field("scope"), Some("upload"));

    // A ledger that only grows, seen by the sampler thread.
    let mut ledger = Ledger::default();
    let start = Instant::now();
    let suspected = loop {
        ledger.entries.extend(0..100);
        std::thread::sleep(Duration::from_millis(5));
        let found: Vec<_> = events
            .of_kind("suspected_leak")
            .into_iter()
            .filter(|e| e.field("collection") == Some("\"Ledger.entries\""))
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the sampler never reported"
        );
    };
    assert_eq!(suspected.len(), 1);
    drop(kept);
}
