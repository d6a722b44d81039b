//! Go's heap profile for a Rust service: the heap-by-scope service (three handlers leak a
//! few hundred bytes a request where no annotation sees: a `static`, `Box::leak`, a copy
//! held by a spawned task), with `leakguard::Alloc` installed and Go's `/debug/pprof/heap`
//! mounted in axum on `127.0.0.1:6060`. Then, from
//! another terminal:
//!
//! ```text
//! cargo run --example heap_profile
//! go tool pprof -top http://127.0.0.1:6060/debug/pprof/heap
//! go tool pprof -top -tagroot=leak_scope http://127.0.0.1:6060/debug/pprof/heap
//! curl 'http://127.0.0.1:6060/debug/pprof/heap?debug=1'
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing_subscriber::prelude::*;

// The service, with its `#[global_allocator] static ALLOC: leakguard::Alloc`.
#[path = "heap_by_scope.rs"]
pub mod service;

/// Serves `/debug/pprof/heap`, `/debug/pprof/allocs` and leakguard's own routes.
async fn debug(uri: Uri) -> Response {
    match leakguard::http::respond(uri.path(), uri.query().unwrap_or("")) {
        Ok((content_type, body)) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, error.to_string()).into_response()
        }
    }
}

/// The debug routes: Go's heap profile paths, where `go tool pprof`, Parca and Grafana
/// Alloy look, and leakguard's page and reports.
pub fn router() -> Router {
    Router::new()
        .route("/debug/pprof/{*profile}", get(debug))
        .route("/debug/leakguard/", get(debug))
        .route("/debug/leakguard/{*route}", get(debug))
}

/// The service's traffic for `duration`, in the background; returns its handle.
pub fn traffic(duration: Duration) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(service::serve(
        Arc::new(service::AppState::default()),
        duration,
    ))
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_target(false))
        .with(service::layer())
        .init();
    // One sample per 64 KiB rather than 512 KiB: this small service allocates little, and
    // the profile has something to show within a minute.
    leakguard::set_heap_sample_rate(64 << 10);
    traffic(Duration::from_secs(24 * 3600));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:6060")
        .await
        .unwrap();
    println!("serving http://127.0.0.1:6060/debug/pprof/heap");
    axum::serve(listener, router()).await.unwrap();
}
