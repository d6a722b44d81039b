//! A global filter that disables the spans scoped collections are made in blinds the
//! outlived detector; leakguard says so once, naming the collection. In its own binary: the
//! subscriber is the process's, and the warning is said once per process.

use std::sync::Mutex;
use std::time::Duration;

use leakguard::track_growth;
use leakguard_support::capture;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

#[track_growth(scoped)]
#[derive(Default)]
struct Body {
    bytes: Vec<u8>,
}

static KEPT: Mutex<Vec<Body>> = Mutex::new(Vec::new());

#[tracing::instrument]
fn handle_upload(id: u64) {
    let mut body = Body::default();
    body.bytes.extend_from_slice(b"payload");
    KEPT.lock().unwrap().push(body);
}

#[test]
fn a_global_filter_that_hides_the_spans_is_named_once() {
    let (capture, events) = capture::layer();
    // The mistake: the filter applies to every layer, and `info` spans are below `warn`.
    tracing_subscriber::registry()
        .with(EnvFilter::new("leakguard=warn"))
        .with(capture)
        .with(leakguard::layer().grace_period(Duration::ZERO))
        .init();
    for id in 0..5 {
        handle_upload(id);
    }
    leakguard::check_now();
    let warned = events.of_kind("no_scope");
    assert_eq!(warned.len(), 1, "{:#?}", events.all());
    assert_eq!(warned[0].field("collection"), Some("\"Body.bytes\""));
    assert_eq!(warned[0].field("cause"), Some("\"no_scope_entered\""));
    assert!(
        warned[0].message.contains("global `EnvFilter`"),
        "{}",
        warned[0].message
    );
    assert_eq!(
        events.of_kind("outlived"),
        vec![],
        "the spans were never seen"
    );
}
