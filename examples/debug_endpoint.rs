//! The service's three leaks, served where Go's `/debug/pprof/heap` would be.
//!
//! An axum server on `127.0.0.1:6060` runs the service example's workload (a session cache
//! without bound, an event log nothing flushes, request buffers kept by an audit job), goes
//! on handling a request every 20 ms so the leaks keep growing, mounts
//! `leakguard::http::respond` under `/debug/leakguard/` and serves leakguard's gauges to
//! Prometheus at `/metrics`. Then, from another terminal:
//!
//! ```text
//! cargo run --example debug_endpoint
//! chromium http://127.0.0.1:6060/debug/leakguard/
//! go tool pprof -top http://127.0.0.1:6060/debug/leakguard/heap
//! curl http://127.0.0.1:6060/debug/leakguard/report
//! curl http://127.0.0.1:6060/metrics
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leakguard::{HeapSize, track_growth};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

#[derive(Clone, HeapSize)]
struct Session {
    user: String,
    roles: Vec<String>,
}

/// The whole heap by scope, for the page's table of scopes and `leakguard_heap_bytes`.
#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

/// State shared by the handlers.
#[track_growth]
#[derive(Default)]
struct Shared {
    /// Leak 1: sessions are added and never evicted.
    #[budget(len = 2_000)]
    sessions: HashMap<String, Session>,
    /// Leak 2: meant to be flushed every minute, never is.
    events: Vec<String>,
    /// Not a leak: the largest collection here, but bounded, so it stops growing once full.
    #[scoped_cache(max = 500)]
    avatars: HashMap<u64, Vec<u8>>,
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
        let user = id % 1_000;
        if shared.avatars.get(&user).is_none() {
            shared.avatars.insert(user, vec![0; 8_192]);
        }
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

/// The routes: the service's own, and leakguard's under `/debug/leakguard/` (the page at
/// `/debug/leakguard/` itself, the rest below it).
pub(crate) fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/debug/leakguard/", get(debug))
        .route("/debug/leakguard/{*route}", get(debug))
}

/// [`router`] and `/metrics`, where Prometheus scrapes leakguard's gauges.
pub(crate) fn router_with_metrics(metrics: PrometheusHandle) -> Router {
    router().route(
        "/metrics",
        get(move || std::future::ready(metrics.render())),
    )
}

/// Installs the Prometheus recorder leakguard's gauges go to, for [`router_with_metrics`].
pub(crate) fn prometheus() -> PrometheusHandle {
    PrometheusBuilder::new()
        .install_recorder()
        .expect("the first metrics recorder of the process")
}

/// Runs the workload for `requests` requests, in the background.
#[allow(
    dead_code,
    reason = "tests/debug_endpoint.rs runs a fixed number of requests; main runs a steady load"
)]
pub(crate) fn workload(requests: u64) -> std::thread::JoinHandle<()> {
    serve(requests, None)
}

/// Runs `burst` requests, then one every `every` for as long as the process lives, so the
/// leaks keep growing: a service under steady traffic.
pub(crate) fn steady_workload(burst: u64, every: Duration) {
    // The thread runs for as long as the process: nothing waits for it.
    drop(serve(burst, Some(every)));
}

fn serve(burst: u64, then_every: Option<Duration>) -> std::thread::JoinHandle<()> {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let audits = Arc::new(Mutex::new(Vec::new()));
    std::thread::spawn(move || {
        for id in 0..burst {
            handle_request(id, &shared, &audits);
        }
        if let Some(every) = then_every {
            for id in burst.. {
                std::thread::sleep(every);
                handle_request(id, &shared, &audits);
            }
        }
        // The leaks stay, as in a service that runs on.
        std::mem::forget((shared, audits));
    })
}

#[tokio::main]
async fn main() {
    use tracing_subscriber::prelude::*;
    let metrics = prometheus();
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(leakguard::layer().grace_period(Duration::from_millis(500)))
        .init();
    steady_workload(20_000, Duration::from_millis(20));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:6060")
        .await
        .unwrap();
    println!("serving http://127.0.0.1:6060/debug/leakguard/ and /metrics");
    axum::serve(listener, router_with_metrics(metrics))
        .await
        .unwrap();
}
