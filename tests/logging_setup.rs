//! The logging set-up the README advises, exactly as it shows it: the `EnvFilter` on the fmt
//! layer, so that it filters what is printed and leakguard still sees every span. A request
//! body kept past its `#[instrument]`ed handler is printed as outlived. In its own binary:
//! the subscriber is the process's.

use std::sync::Mutex;
use std::time::Duration;

use leakguard::track_growth;
use leakguard_support::capture::Printed;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

#[track_growth(scoped)]
#[derive(Default)]
struct Body {
    bytes: Vec<u8>,
}

static KEPT: Mutex<Vec<Body>> = Mutex::new(Vec::new());

#[tracing::instrument(skip(keep))]
fn handle_upload(id: u64, keep: bool) {
    let mut body = Body::default();
    body.bytes.extend_from_slice(b"payload");
    tracing::info!("handled"); // filtered out of the output: info is below `warn`
    if keep {
        KEPT.lock().unwrap().push(body);
    }
}

#[test]
fn the_readme_set_up_prints_leaks_and_filters_the_rest() {
    let printed = Printed::default();
    let writer = printed.clone();
    // The README's set-up; only the writer is the test's, to read what is printed.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_filter(
                    EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| EnvFilter::new("leakguard=warn")),
                ),
        )
        .with(leakguard::layer().grace_period(Duration::ZERO))
        .init();

    for id in 0..10 {
        handle_upload(id, id == 3);
    }
    leakguard::check_now();
    let text = printed.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("WARN leakguard: Body.bytes outlived its scope `handle_upload`"),
        "{text}"
    );
    assert!(!text.contains("no_scope"), "every span is seen: {text}");
}
