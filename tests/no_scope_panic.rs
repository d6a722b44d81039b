//! A subscriber that panics when told that a scoped collection was made outside any scope
//! does not unwind through the construction of the struct: the panic is caught inside
//! leakguard, the struct is made, and its fields are tracked from their first change. In its
//! own binary: the warning is said once per process.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use leakguard::{HeapSize, Tracked, track_growth};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Events of leakguard's this subscriber was given, each of which it panicked on.
static PANICS: AtomicUsize = AtomicUsize::new(0);

struct PanicsOnLeakguard;

impl<S: tracing::Subscriber> Layer<S> for PanicsOnLeakguard {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target().starts_with("leakguard") {
            PANICS.fetch_add(1, SeqCst);
            panic!("a subscriber that panics on leakguard's events");
        }
    }
}

#[track_growth(scoped)]
#[derive(Default)]
struct Upload {
    chunks: Vec<Vec<u8>>,
    names: Vec<String>,
}

#[test]
fn a_subscriber_panicking_on_the_no_scope_warning_does_not_unwind_through_default() {
    let subscriber = tracing_subscriber::registry()
        .with(leakguard::layer())
        .with(PanicsOnLeakguard);
    let _default = tracing::subscriber::set_default(subscriber);

    // Outside any scope: leakguard warns, and the subscriber panics on the warning.
    let mut upload = Upload::default();
    assert_eq!(PANICS.load(SeqCst), 1, "the subscriber was told once");

    upload.chunks.push(vec![7; 100]);
    upload.names.push("report.pdf".to_string());
    assert_eq!(upload.chunks.len(), 1);
    assert_eq!(
        Tracked::bytes(&upload.chunks),
        (*upload.chunks).heap_size(),
        "the figures follow the field"
    );
    assert_eq!(
        Tracked::bytes(&upload.names),
        (*upload.names).heap_size(),
        "the figures follow the field"
    );
}
