//! The `metrics` feature: gauges per `Type.field` set on the sampler's tick, and a counter
//! of findings by kind, read back with metrics-util's debugging recorder. In its own binary:
//! the recorder and the subscriber are the process's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use leakguard::track_growth;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use tracing_subscriber::layer::SubscriberExt;

#[track_growth]
#[derive(Default)]
struct Queue {
    #[budget(len = 100)]
    jobs: Vec<String>,
}

#[track_growth]
#[derive(Default)]
struct Part {
    cells: Vec<u64>,
}

#[track_growth]
#[derive(Default)]
struct Sheet {
    parts: Vec<Part>,
}

/// What the recorder saw, accumulated over its snapshots: each snapshot takes the values
/// it reports (counters count from zero again), so gauges keep their last value and
/// counters their sum.
#[derive(Default)]
struct Seen(HashMap<(MetricKind, String, String), f64>);

impl Seen {
    fn take(&mut self, snapshotter: &Snapshotter) {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key: CompositeKey = key;
            let labels: Vec<String> = key.key().labels().map(|l| l.value().to_string()).collect();
            let entry = self
                .0
                .entry((key.kind(), key.key().name().to_string(), labels.join(",")))
                .or_default();
            match value {
                DebugValue::Gauge(v) => *entry = v.into_inner(),
                DebugValue::Counter(v) => *entry += v as f64,
                DebugValue::Histogram(_) => {}
            }
        }
    }

    /// The metric `name` of `kind` whose first label is `label`.
    fn value(&self, kind: MetricKind, name: &str, label: &str) -> Option<f64> {
        self.0
            .iter()
            .find(|((k, n, labels), _)| {
                *k == kind && n == name && labels.split(',').next() == Some(label)
            })
            .map(|(_, value)| *value)
    }
}

/// Waits up to two seconds for `check` to hold.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn gauges_follow_the_collections_and_findings_are_counted_by_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let layer = leakguard::layer()
        .sample_interval(Duration::from_millis(20))
        .unwrap();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();

    let mut queue = Queue::default();
    for i in 0..150 {
        queue.jobs.push(format!("job-{i}"));
    }
    let mut seen = Seen::default();
    let len = |seen: &Seen| seen.value(MetricKind::Gauge, "leakguard_collection_len", "Queue.jobs");
    assert!(
        eventually(|| {
            seen.take(&snapshotter);
            len(&seen) == Some(150.0)
        }),
        "the len gauge reached 150"
    );
    let bytes = seen.value(
        MetricKind::Gauge,
        "leakguard_collection_bytes",
        "Queue.jobs",
    );
    assert_eq!(bytes, Some(leakguard::Tracked::bytes(&queue.jobs) as f64));
    let instances = seen.value(
        MetricKind::Gauge,
        "leakguard_collection_instances",
        "Queue.jobs",
    );
    assert_eq!(instances, Some(1.0));
    let over = seen.value(MetricKind::Counter, "leakguard_events_total", "over_budget");
    assert_eq!(over, Some(1.0), "one crossing of the budget");

    // A sheet's parts track their own cells: the bytes gauges count the cells on both rows,
    // and subtracting the nested gauges counts them once.
    let mut sheet = Sheet::default();
    for p in 0..3 {
        let mut part = Part::default();
        part.cells.extend(p * 100..(p + 1) * 100);
        sheet.parts.push(part);
    }
    let gauge = |seen: &Seen, name: &str, collection: &str| {
        seen.value(MetricKind::Gauge, name, collection)
            .unwrap_or(-1.0)
    };
    assert!(
        eventually(|| {
            seen.take(&snapshotter);
            gauge(&seen, "leakguard_collection_bytes", "Part.cells") == 2_400.0
        }),
        "the cells' gauge reached 2,400 B"
    );
    let bytes = |c| gauge(&seen, "leakguard_collection_bytes", c);
    let nested = |c| gauge(&seen, "leakguard_collection_nested_bytes", c);
    assert_eq!(nested("Sheet.parts"), 2_400.0);
    assert_eq!(nested("Part.cells"), 0.0);
    let total =
        bytes("Sheet.parts") - nested("Sheet.parts") + bytes("Part.cells") - nested("Part.cells");
    assert_eq!(total, leakguard::HeapSize::heap_size(&sheet) as f64);
    assert!(bytes("Sheet.parts") + bytes("Part.cells") > total);
    drop(sheet);

    drop(queue);
    assert!(
        eventually(|| {
            seen.take(&snapshotter);
            len(&seen) == Some(0.0)
        }),
        "the gauges of a group gone are set to zero"
    );
}
