//! A tokio service: handlers with a per-request buffer, a session cache shared by every
//! handler through `Arc`, and one bug: a handler hands its buffer to a spawned "audit" task
//! that keeps it long after the request is done. leakguard reports the buffer as having
//! outlived the request, naming the scope and where it was filled; the correct handlers and
//! the bounded shared cache stay silent.
//!
//! The logging set-up is the README's: the filter sits on the fmt layer, so leakguard sees
//! every scope whatever `RUST_LOG` says.
//!
//! ```text
//! cargo run --example async_service
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leakguard::{ScopeExt, track_growth};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

#[derive(Clone, leakguard::HeapSize)]
pub struct Session {
    pub user: u64,
    pub name: String,
}

/// The state every handler shares.
#[track_growth]
#[derive(Default)]
pub struct AppState {
    /// Concurrent, `&self` access, no lock around it; bounded, and idle sessions expire.
    #[scoped_cache(max = 1_000, ttl = "5m", shared)]
    pub sessions: HashMap<String, Session>,
}

/// What one request reads: it belongs to the request's scope.
#[track_growth(scoped)]
#[derive(Default)]
struct RequestBody {
    chunks: Vec<Vec<u8>>,
}

async fn handle(state: Arc<AppState>, id: u64) -> usize {
    let token = format!("token-{}", id % 1_500);
    let session = match state.sessions.get(&token) {
        Some(session) => session,
        None => {
            let session = Session {
                user: id % 1_500,
                name: format!("user {}", id % 1_500),
            };
            state.sessions.insert(token, session.clone());
            session
        }
    };
    let mut body = RequestBody::default();
    body.chunks.push(session.name.into_bytes());
    for _ in 0..4 {
        body.chunks.push(vec![session.user as u8; 4 * 1024]);
        tokio::task::yield_now().await;
    }
    let read = body.chunks.iter().map(Vec::len).sum();
    if id % 50 == 0 {
        // The bug: the audit task owns the body, and takes its time.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(body);
        });
    }
    read
}

/// What a run of the service did.
pub struct Served {
    pub state: Arc<AppState>,
    pub bytes_read: usize,
}

/// Serves `requests` requests, each its own leak scope, on the current runtime; then waits
/// past `grace` and has leakguard check the scopes.
pub async fn serve(requests: u64, grace: Duration) -> Served {
    let state = Arc::new(AppState::default());
    let handlers: Vec<_> = (0..requests)
        .map(|id| tokio::spawn(handle(state.clone(), id).leak_scope("handle_request")))
        .collect();
    let mut bytes_read = 0;
    for handler in handlers {
        bytes_read += handler.await.expect("the handler ran");
    }
    // The audits still hold their bodies past the grace period.
    tokio::time::sleep(grace + Duration::from_millis(200)).await;
    leakguard::check_now();
    Served { state, bytes_read }
}

#[allow(
    dead_code,
    reason = "tests/async_service.rs includes this file for `serve`"
)]
#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let grace = Duration::from_millis(300);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_filter(
                    EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| EnvFilter::new("leakguard=warn")),
                ),
        )
        .with(leakguard::layer().grace_period(grace))
        .init();

    let Served { state, bytes_read } = serve(2_000, grace).await;
    let stats = state.sessions.stats();
    println!(
        "2000 requests, {} KiB read; sessions: {} cached (max {}), {} hits, {} evictions",
        bytes_read / 1024,
        state.sessions.len(),
        state.sessions.max().unwrap_or(0),
        stats.hits,
        stats.evictions,
    );
    print!("{}", leakguard::report());
}
