//! The leakguard layer under `tracing::subscriber::set_default`: collections that outlive
//! their scope, collections that keep growing, hoarded capacity, reports and rate limits.
//! (`layer_global.rs` checks the same under a global default, in its own binary.)

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use leakguard::{Tracked, track_growth};
use leakguard_support::capture::{self, Events};
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;

/// A subscriber recording every event, with the leakguard layer: no grace period, no rate
/// limit, so that each test sees exactly its own events.
fn subscriber() -> (impl tracing::Subscriber + Send + Sync, Events) {
    capture::sampling()
}

#[track_growth(scoped)]
#[derive(Default)]
struct Batch {
    rows: Vec<String>,
    index: HashMap<u64, String>,
}

#[test]
fn a_scoped_collection_alive_after_its_scope_is_reported_once() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (kept, first_push) = {
        let _scope = leakguard::scope("nightly-import");
        let mut batch = Batch::default();
        let first_push = line!() + 1;
        batch.rows.push("row".to_string());
        batch.rows.push("row".to_string());
        (batch, first_push)
    };
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    // `Batch.index` never held memory, so it retains nothing and is not reported.
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    let rows = &outlived[0];
    assert_eq!(rows.field("collection"), Some("\"Batch.rows\""));
    assert_eq!(rows.level, Level::WARN);
    assert_eq!(rows.field("scope"), Some("nightly-import"));
    assert_eq!(rows.field("len"), Some("2"));
    let site = format!("\"{}:{first_push}\"", file!());
    assert_eq!(
        rows.field("site"),
        Some(site.as_str()),
        "where it first grew"
    );
    assert!(
        rows.message
            .starts_with("Batch.rows outlived its scope `nightly-import` by "),
        "{}",
        rows.message
    );
    assert!(rows.message.contains(", len 2, "), "{}", rows.message);

    // Checked once: a second check finds nothing new.
    events.clear();
    leakguard::check_now();
    assert!(events.of_kind("outlived").is_empty());
    drop(kept);
}

#[test]
fn a_collection_dropped_inside_its_scope_is_not_reported() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    {
        let _scope = leakguard::scope("request");
        let mut batch = Batch::default();
        batch.rows.push("row".into());
    }
    leakguard::check_now();
    assert!(events.of_kind("outlived").is_empty());
}

#[test]
fn a_scoped_collection_that_first_grows_after_its_scope_is_reported() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let batch = {
        let _scope = leakguard::scope("hand-off");
        Batch::default()
    };
    // A worker that received it fills it after the scope ended.
    let filled = std::thread::spawn(move || {
        let mut batch = batch;
        batch.index.insert(1, "late".into());
        batch
    })
    .join()
    .unwrap();
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    assert_eq!(outlived[0].field("collection"), Some("\"Batch.index\""));
    assert_eq!(outlived[0].field("scope"), Some("hand-off"));
    drop(filled);
}

#[track_growth]
#[derive(Default)]
struct AppCache {
    entries: Vec<String>,
}

#[test]
fn collections_not_marked_scoped_never_outlive_anything() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let cache = {
        let _scope = leakguard::scope("startup");
        let mut cache = AppCache::default();
        cache.entries.push("config".into());
        cache
    };
    leakguard::check_now();
    assert!(events.of_kind("outlived").is_empty());
    assert_eq!(cache.entries.len(), 1);
}

#[track_growth]
#[derive(Default)]
struct Request {
    #[track(scoped)]
    buffer: Vec<u8>,
    /// Not scoped: lives as long as it likes.
    headers: Vec<String>,
}

#[test]
fn a_span_is_a_scope_and_its_name_is_reported() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (send, receive) = mpsc::channel();
    let span = tracing::info_span!("handle_request", id = 7);
    span.in_scope(|| {
        let mut request = Request::default();
        request.buffer.extend_from_slice(b"payload");
        request.headers.push("accept".into());
        // A worker keeps the request alive past the span.
        send.send(request).unwrap();
    });
    drop(span);
    let kept = receive.recv().unwrap();
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    assert_eq!(outlived[0].field("collection"), Some("\"Request.buffer\""));
    assert_eq!(outlived[0].field("scope"), Some("handle_request"));
    assert_eq!(outlived[0].field("len"), Some("7"));
    drop(kept);
}

#[test]
fn identical_leaks_are_reported_once_with_a_count() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut kept = Vec::new();
    for _ in 0..5 {
        let _scope = leakguard::scope("job");
        let mut batch = Batch::default();
        batch.rows.push("row".into());
        kept.push(batch);
    }
    leakguard::check_now();
    let rows: Vec<_> = events
        .of_kind("outlived")
        .into_iter()
        .filter(|e| e.field("collection") == Some("\"Batch.rows\""))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].field("instances"), Some("5"));
    assert!(
        rows[0].message.ends_with("(5 instances)"),
        "{}",
        rows[0].message
    );
}

#[track_growth]
#[derive(Default)]
struct Journal {
    #[budget(len = 1_000_000)]
    lines: Vec<String>,
}

#[test]
fn a_collection_that_grows_at_every_sample_is_a_suspected_leak() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut journal = Journal::default();
    // The sampler watches every collection of the process; other tests' grow too.
    let journal_events = || -> Vec<capture::Captured> {
        events
            .of_kind("suspected_leak")
            .into_iter()
            .filter(|e| e.field("collection") == Some("\"Journal.lines\""))
            .collect()
    };
    let start = std::time::Instant::now();
    while journal_events().is_empty() {
        for _ in 0..50 {
            journal.lines.push("line".to_string());
        }
        std::thread::sleep(Duration::from_millis(5));
        assert!(start.elapsed() < Duration::from_secs(20), "never reported");
    }
    let suspected = &journal_events()[0];
    assert_eq!(suspected.level, Level::WARN);
    assert!(
        suspected
            .message
            .starts_with("suspected leak: Journal.lines grew on each of the last 3 samples, +"),
        "{}",
        suspected.message
    );
    let rate: f64 = suspected.field("len_per_sec").unwrap().parse().unwrap();
    assert!(rate > 100.0, "{rate} entries/s");
    // Long before its budget.
    assert!(journal.lines.len() < 1_000_000);
}

#[track_growth]
#[derive(Default)]
struct Index {
    by_id: HashMap<u64, u64>,
}

#[test]
fn a_map_emptied_by_deletes_reports_its_hoarded_capacity_once() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut index = Index::default();
    for i in 0..200_000 {
        index.by_id.insert(i, i);
    }
    for i in 0..199_000 {
        index.by_id.remove(&i);
    }
    let hoarded = events.of_kind("hoarded_capacity");
    assert_eq!(hoarded.len(), 1, "{hoarded:#?}");
    assert_eq!(hoarded[0].level, Level::INFO);
    // Reported as it starts hoarding, partway through the deletes.
    let event = &hoarded[0];
    assert_eq!(event.field("cause"), Some("\"storage\""));
    let len: usize = event.field("len").unwrap().parse().unwrap();
    let capacity: usize = event.field("capacity").unwrap().parse().unwrap();
    let unused: usize = event.field("unused_bytes").unwrap().parse().unwrap();
    assert!(unused >= 1 << 20 && capacity >= 4 * len, "{event:#?}");
    assert!(len > index.by_id.len());
    assert!(
        event.message.ends_with(&format!(
            "of unused capacity (len {len}, capacity {capacity}): call shrink_to_fit to release it"
        )),
        "{}",
        event.message
    );
    assert!(
        event.message.starts_with("Index.by_id holds "),
        "{}",
        event.message
    );

    index.by_id.shrink_to_fit();
    for i in 0..1_000 {
        index.by_id.remove(&(199_000 + i));
    }
    assert_eq!(
        events.of_kind("hoarded_capacity").len(),
        1,
        "not again once shrunk"
    );
}

#[test]
fn report_groups_live_collections_by_type_and_field() {
    #[track_growth]
    #[derive(Default)]
    struct Profile {
        #[budget(len = 2)]
        tags: Vec<String>,
    }
    let mut profiles: Vec<Profile> = (0..3).map(|_| Profile::default()).collect();
    for (i, profile) in profiles.iter_mut().enumerate() {
        for t in 0..=i {
            profile.tags.push(format!("tag {t}"));
        }
    }
    let report = leakguard::report();
    let group = report.group("Profile.tags").expect("group");
    assert_eq!(group.instances, 3);
    assert_eq!(group.len, 6);
    let bytes: usize = profiles.iter().map(|p| Tracked::bytes(&p.tags)).sum();
    assert_eq!(group.bytes, bytes);
    assert_eq!(group.over_budget, 1);
    assert_eq!(group.budget.len, Some(2));
    assert!(group.peak_bytes >= group.bytes);
    let table = report.to_string();
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("collection"), "{table}");
    assert!(
        header.contains("instances")
            && header.contains("peak bytes")
            && header.contains("outlived")
    );
    let line = table
        .lines()
        .find(|l| l.starts_with("Profile.tags"))
        .expect("row");
    assert!(line.contains("len 2"), "{line}");

    let json = serde_json::to_value(&report).unwrap();
    let group = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["collection"] == "Profile.tags")
        .unwrap();
    assert_eq!(group["instances"], 3);
    assert_eq!(group["budget"]["len"], 2);

    drop(profiles);
    assert!(
        leakguard::report().group("Profile.tags").is_none(),
        "gone once dropped"
    );
}

#[test]
fn the_layer_never_disables_anything() {
    let subscriber = tracing_subscriber::registry().with(leakguard::layer());
    tracing::subscriber::with_default(subscriber, || {
        assert!(tracing::enabled!(Level::TRACE));
        assert!(tracing::enabled!(target: "leakguard", Level::DEBUG));
    });
}

/// The README's chain of settings, as written: the ones that return a `Result` take a `?`.
#[test]
fn the_readme_settings_chain_with_a_question_mark_after_each_result()
-> Result<(), leakguard::ConfigError> {
    let layer = leakguard::layer()
        .grace_period(Duration::from_secs(5))
        .sample_interval(Duration::from_millis(500))?
        .growth_samples(10)?
        .rate_limit(Duration::from_secs(30))
        .report_every(Duration::from_secs(300))?;
    let settings = format!("{layer:?}");
    for expected in [
        "sample_interval: 500ms",
        "growth_samples: 10",
        "rate_window: 30s",
        "report_interval: Some(300s)",
    ] {
        assert!(settings.contains(expected), "{settings}");
    }
    Ok(())
}

#[test]
fn bad_layer_settings_are_errors_naming_the_setting() {
    for interval in [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_micros(999),
    ] {
        let err = leakguard::layer().sample_interval(interval).unwrap_err();
        assert_eq!(err.setting(), "sample_interval");
        assert_eq!(
            err.to_string(),
            "invalid leakguard setting `sample_interval`: it must be at least 1 ms"
        );
    }
    assert!(
        leakguard::layer()
            .sample_interval(Duration::from_millis(1))
            .is_ok()
    );
    assert_eq!(
        leakguard::layer().growth_samples(1).unwrap_err().setting(),
        "growth_samples"
    );
    assert_eq!(
        leakguard::layer()
            .hoarded_capacity(1, 10)
            .unwrap_err()
            .setting(),
        "hoarded_capacity"
    );
    assert_eq!(
        leakguard::layer()
            .report_every(Duration::ZERO)
            .unwrap_err()
            .setting(),
        "report_every"
    );
}

#[track_growth(scoped)]
#[derive(Default)]
struct Upload {
    parts: Vec<u8>,
}

/// One request keeping its upload past its scope.
fn keep_upload(kept: &mut Vec<Upload>) {
    let _scope = leakguard::scope("upload");
    let mut upload = Upload::default();
    upload.parts.push(1);
    kept.push(upload);
}

#[test]
fn an_outlived_event_counts_every_instance_alive_not_only_the_last_batch() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut kept = Vec::new();
    for _ in 0..9 {
        keep_upload(&mut kept);
    }
    leakguard::check_now();
    for _ in 0..11 {
        keep_upload(&mut kept);
    }
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 2, "{outlived:#?}");
    assert_eq!(outlived[0].field("instances"), Some("9"));
    assert!(
        outlived[0].message.ends_with("(9 instances)"),
        "{}",
        outlived[0].message
    );
    // The second check found 11 more; 20 are alive, as the report says.
    assert_eq!(outlived[1].field("instances"), Some("20"));
    assert!(
        outlived[1].message.ends_with("(20 instances)"),
        "{}",
        outlived[1].message
    );
    if leakguard::ENABLED {
        assert_eq!(
            leakguard::report()
                .group("Upload.parts")
                .map(|g| g.outlived),
            Some(20)
        );
    }
}
