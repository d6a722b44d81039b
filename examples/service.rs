//! A small multi-threaded service with the three classic slow leaks, found while it runs.
//!
//! Four workers handle requests for a few seconds. Three mistakes are built in:
//!
//! 1. the session cache has no bound: every new token stays (found as `over_budget`);
//! 2. the event log only grows: nothing ever flushes it (found as `suspected_leak`, from
//!    its growth at every sample, long before any budget);
//! 3. one request in five hands its scratch buffer to an audit job that keeps it (found as
//!    `outlived`: the buffer outlives its `handle_request` span).
//!
//! At the end, `leakguard::report()` points at all three.
//!
//! ```text
//! cargo run --example service
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use leakguard::{HeapSize, track_growth};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

#[derive(Clone, HeapSize)]
struct Session {
    user: String,
    roles: Vec<String>,
}

/// State shared by the workers.
#[track_growth]
#[derive(Default)]
struct Shared {
    /// Mistake 1: sessions are added and never evicted.
    #[budget(len = 2_000)]
    sessions: HashMap<String, Session>,
    /// Mistake 2: meant to be flushed every minute, never is.
    events: Vec<String>,
}

/// A request's working memory: it belongs to the request's span.
#[track_growth(scoped)]
#[derive(Default)]
struct Scratch {
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

fn handle_request(id: u64, shared: &Mutex<Shared>, audits: &Mutex<Vec<Scratch>>) {
    let span = tracing::info_span!("handle_request", id);
    let _entered = span.enter();
    let mut scratch = Scratch::default();
    scratch.body.resize(2_048, 0);
    scratch
        .headers
        .push(("user-agent".into(), "curl/8.5.0".into()));
    {
        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
        let token = format!("token-{id:010}");
        if !shared.sessions.contains_key(&token) {
            let session = Session {
                user: format!("user-{}", id % 300),
                roles: vec!["reader".into()],
            };
            shared.sessions.insert(token, session);
        }
        shared.events.push(format!("request {id} handled"));
    }
    if id % 5 == 0 {
        // Mistake 3: the audit job keeps the buffer after the request ended.
        audits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(scratch);
    }
}

fn main() {
    let leakguard = leakguard::layer()
        .grace_period(Duration::from_millis(500))
        .sample_interval(Duration::from_millis(200))
        .expect("a valid interval")
        .rate_limit(Duration::from_secs(60));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| "leakguard=info".into()),
        ))
        .with(leakguard)
        .init();

    let shared = Arc::new(Mutex::new(Shared::default()));
    let audits = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (shared, audits) = (shared.clone(), audits.clone());
            thread::spawn(move || {
                let mut id = w;
                while start.elapsed() < Duration::from_secs(3) {
                    handle_request(id, &shared, &audits);
                    id += 4;
                    thread::sleep(Duration::from_micros(500));
                }
                id / 4
            })
        })
        .collect();
    let handled: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    thread::sleep(Duration::from_millis(600));
    leakguard::check_now();

    println!("\n{handled} requests handled in 3 s. What holds memory now:\n");
    print!("{}", leakguard::report());
}
