//! Content that arrives whole: a request body parsed by serde, a map built by `collect()`,
//! a clone, a vector converted with `.into()`. Each is registered as it is constructed, with
//! the scope and test check it is made under, so that reports, scope checks and test checks
//! see it before it ever grows.

use std::collections::HashMap;
use std::sync::Mutex;

use leakguard::testing::assert_no_leaks;
use leakguard::{Tracked, track_growth};
use leakguard_support::capture;
use serde::Deserialize;

/// A request body as axum's `Json<T>` would hand it over: deserialized whole.
#[track_growth(scoped)]
#[derive(Deserialize, Default)]
struct UploadBody {
    lines: Vec<String>,
    tags: HashMap<String, String>,
}

const BODY: &str = r#"{"lines": ["a", "b", "c"], "tags": {"user": "ada"}}"#;

/// The same body, parsed by one test only: its report group holds nothing of the tests
/// running beside it, which keep `UploadBody`s of their own.
#[track_growth(scoped)]
#[derive(Deserialize, Default)]
struct PreviewBody {
    lines: Vec<String>,
    tags: HashMap<String, String>,
}

#[test]
fn a_deserialized_body_is_reported_at_once_with_its_content() {
    let body: PreviewBody = serde_json::from_str(BODY).unwrap();
    let report = leakguard::report();
    let lines = report
        .group("PreviewBody.lines")
        .expect("registered as parsed");
    assert_eq!(lines.len, 3);
    assert_eq!(lines.bytes, Tracked::bytes(&body.lines));
    assert_eq!(report.group("PreviewBody.tags").unwrap().len, 1);
}

/// Bodies kept past their request, as a handler that stores them in a global by mistake.
static KEPT: Mutex<Vec<UploadBody>> = Mutex::new(Vec::new());

#[test]
fn a_deserialized_scoped_body_kept_past_its_span_is_reported_outlived() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    {
        let span = tracing::info_span!("handle_upload");
        let _entered = span.enter();
        let body: UploadBody = serde_json::from_str(BODY).unwrap();
        KEPT.lock().unwrap().push(body);
    }
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    let lines: Vec<_> = outlived
        .iter()
        .filter(|e| e.field("collection") == Some("\"UploadBody.lines\""))
        .collect();
    assert_eq!(lines.len(), 1, "{outlived:#?}");
    assert_eq!(lines[0].field("scope"), Some("handle_upload"));
    assert_eq!(lines[0].field("len"), Some("3"));
    KEPT.lock().unwrap().clear();
}

#[test]
fn a_handler_that_drops_its_deserialized_body_is_silent() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    for _ in 0..10 {
        let span = tracing::info_span!("handle_upload");
        let _entered = span.enter();
        let body: UploadBody = serde_json::from_str(BODY).unwrap();
        assert_eq!(body.lines.len(), 3);
    }
    leakguard::check_now();
    assert_eq!(events.of_kind("outlived"), vec![]);
}

#[test]
#[should_panic(expected = "UploadBody.lines")]
fn assert_no_leaks_catches_a_deserialized_body_kept_in_a_global() {
    static KEEP: Mutex<Vec<UploadBody>> = Mutex::new(Vec::new());
    assert_no_leaks(|| {
        let body: UploadBody = serde_json::from_str(BODY).unwrap();
        KEEP.lock().unwrap().push(body);
    });
}

#[track_growth]
#[derive(Clone, Default)]
struct Catalog {
    names: Vec<String>,
    by_id: HashMap<u64, String>,
}

#[test]
fn collect_into_and_clone_register_what_they_hold() {
    let catalog = Catalog {
        names: vec!["a".to_string(), "b".to_string()].into(),
        by_id: (0..5).map(|i| (i, i.to_string())).collect(),
    };
    let report = leakguard::report();
    assert_eq!(report.group("Catalog.names").unwrap().len, 2);
    assert_eq!(report.group("Catalog.by_id").unwrap().len, 5);

    let copy = catalog.clone();
    let report = leakguard::report();
    let names = report.group("Catalog.names").unwrap();
    assert_eq!((names.instances, names.len), (2, 4));
    drop((catalog, copy));
    assert!(leakguard::report().group("Catalog.names").is_none());
}

#[track_growth]
#[derive(Default)]
struct Config {
    hosts: Vec<String>,
}

#[test]
fn a_collection_replaced_through_mut_registers_on_the_next_read() {
    let mut config = Config::default();
    *config.hosts = vec!["a".to_string(); 7];
    assert_eq!(config.hosts.len(), 7); // a read
    let report = leakguard::report();
    assert_eq!(report.group("Config.hosts").unwrap().len, 7);
}

#[test]
fn an_empty_collection_made_by_from_registers_when_it_first_grows() {
    #[track_growth]
    struct Lazy {
        items: Vec<u64>,
    }
    let mut lazy = Lazy {
        items: Vec::new().into(),
    };
    assert!(leakguard::report().group("Lazy.items").is_none());
    lazy.items.push(1);
    assert_eq!(leakguard::report().group("Lazy.items").unwrap().len, 1);
}
