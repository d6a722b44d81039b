//! A scoped value made on a thread between its scopes, as a callback run after the request
//! span has closed: the `no_scope` warning names code outside its scope, and a filter on
//! the registry, as the causes. In its own binary: the warning is said once per process.

use std::sync::Mutex;

use leakguard::track_growth;
use leakguard_support::capture;
use tracing_subscriber::prelude::*;

#[track_growth(scoped)]
#[derive(Default)]
struct Reply {
    parts: Vec<String>,
}

static KEPT: Mutex<Vec<Reply>> = Mutex::new(Vec::new());

#[test]
fn a_value_made_between_scopes_names_code_outside_its_scope() {
    let (capture, events) = capture::layer();
    tracing_subscriber::registry()
        .with(capture)
        .with(leakguard::layer())
        .init();
    let mut callbacks: Vec<Box<dyn FnOnce()>> = Vec::new();
    {
        let _request = tracing::info_span!("handle_request").entered();
        let mut reply = Reply::default();
        reply.parts.push("in scope".to_string());
        // The mistake: a callback that runs after the request's span has closed.
        callbacks.push(Box::new(|| {
            let mut late = Reply::default();
            late.parts.push("too late".to_string());
            KEPT.lock().unwrap().push(late);
        }));
    }
    for callback in callbacks {
        callback();
    }
    let warned = events.of_kind("no_scope");
    assert_eq!(warned.len(), 1, "{:#?}", events.all());
    assert_eq!(warned[0].field("cause"), Some("\"outside_scope\""));
    assert!(
        warned[0]
            .message
            .contains("on a thread that has entered scopes before"),
        "{}",
        warned[0].message
    );
    assert!(
        warned[0].message.contains("with_current_leak_scope"),
        "{}",
        warned[0].message
    );
}
