//! The service's three leaks, served where Go's `/debug/pprof/heap` would be.
//!
//! An axum server on `127.0.0.1:6060` runs the service example's workload (a session cache
//! without bound, an event log nothing flushes, request buffers kept by an audit job) and
//! mounts `leakguard::http::respond` under `/debug/leakguard/`. Then, from another terminal:
//!
//! ```text
//! cargo run --example debug_endpoint
//! go tool pprof -top http://127.0.0.1:6060/debug/leakguard/heap
//! curl http://127.0.0.1:6060/debug/leakguard/report
//! curl -o heap.svg http://127.0.0.1:6060/debug/leakguard/flamegraph.svg
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leakguard::{HeapSize, track_growth};

#[derive(Clone, HeapSize)]
struct Session {
    user: String,
    roles: Vec<String>,
}

/// State shared by the handlers.
#[track_growth]
#[derive(Default)]
struct Shared {
    /// Leak 1: sessions are added and never evicted.
    #[budget(len = 2_000)]
    sessions: HashMap<String, Session>,
    /// Leak 2: meant to be flushed every minute, never is.
    events: Vec<String>,
}

/// A request's working memory.
#[track_growth(scoped)]
#[derive(Default)]
struct Scratch {
    body: Vec<u8>,
}

/// One request of the workload; one in five hands its buffer to the audit job (leak 3).
fn handle_request(id: u64, shared: &Mutex<Shared>, audits: &Mutex<Vec<Scratch>>) {
    let span = tracing::info_span!("handle_request", id);
    let _entered = span.enter();
    let mut scratch = Scratch::default();
    scratch.body.resize(2_048, 0);
    {
        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
        let session = Session {
            user: format!("user-{}", id % 300),
            roles: vec!["reader".into()],
        };
        shared.sessions.insert(format!("token-{id:010}"), session);
        shared.events.push(format!("request {id} handled"));
    }
    if id % 5 == 0 {
        audits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(scratch);
    }
}

/// Serves one of leakguard's debug routes.
async fn debug(uri: Uri) -> Response {
    match leakguard::http::respond(uri.path(), uri.query().unwrap_or("")) {
        Ok((content_type, body)) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, error.to_string()).into_response()
        }
    }
}

/// The routes: the service's own, and leakguard's under `/debug/leakguard/`.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/debug/leakguard/{*route}", get(debug))
}

/// Runs the workload for `requests` requests, in the background.
pub(crate) fn workload(requests: u64) -> std::thread::JoinHandle<()> {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let audits = Arc::new(Mutex::new(Vec::new()));
    std::thread::spawn(move || {
        for id in 0..requests {
            handle_request(id, &shared, &audits);
        }
        // The leaks stay, as in a service that runs on.
        std::mem::forget((shared, audits));
    })
}

#[tokio::main]
async fn main() {
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(leakguard::layer().grace_period(Duration::from_millis(500)))
        .init();
    workload(20_000).join().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:6060")
        .await
        .unwrap();
    println!("serving http://127.0.0.1:6060/debug/leakguard/heap");
    axum::serve(listener, router()).await.unwrap();
}
