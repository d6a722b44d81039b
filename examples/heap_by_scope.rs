//! The whole heap by scope: with `leakguard::Alloc` as the global allocator, every byte is
//! charged to the request that allocated it. Three handlers leak a few hundred bytes a
//! request where no annotation sees: `upload` keeps 300 bytes of every body in a `static`,
//! `login` leaks a session name with `Box::leak`, `notify` spawns a task that keeps a copy
//! of the message for a retry an hour later. The `retained` detector names each scope within a few
//! samples, while the handler that fills a bounded cache stays quiet.
//!
//! ```text
//! cargo run --example heap_by_scope
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leakguard::{ScopeExt, track_growth};
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

/// The bug: every upload's first bytes, kept "for an audit" that never reads them.
static AUDIT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

#[track_growth]
#[derive(Default)]
pub struct AppState {
    /// Bounded: once full, each new profile evicts an old one.
    #[scoped_cache(max = 10, shared)]
    pub profiles: HashMap<u64, String>,
}

async fn upload(body: Vec<u8>) -> usize {
    AUDIT.lock().unwrap().push(body[..300].to_vec());
    body.len()
}

/// The bug: a `&'static str` for each session, as a label API wanted one.
async fn login(user: u64) -> usize {
    let session: &'static str = Box::leak(format!("session-{user}-{:0>200}", 7).into_boxed_str());
    session.len()
}

/// The bug: a task per message that keeps a copy for a retry an hour later, though the
/// message was delivered.
async fn notify(message: Vec<u8>) -> usize {
    let len = message.len();
    let retry = message.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(retry);
    });
    drop(message);
    len
}

async fn profile(state: Arc<AppState>, user: u64) -> usize {
    if let Some(profile) = state.profiles.get(&user) {
        return profile.len();
    }
    let profile = format!("{{\"user\":{user},\"name\":\"user {user}\"}}");
    let len = profile.len();
    state.profiles.insert(user, profile);
    len
}

/// Serves an upload, a login, a notification and a profile request every 10 ms for
/// `duration`, each request its own leak scope; returns how many of each it served.
pub async fn serve(state: Arc<AppState>, duration: Duration) -> u64 {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let end = Instant::now() + duration;
    let mut served = 0;
    while Instant::now() < end {
        tick.tick().await;
        let body = vec![b'x'; 1024];
        tokio::spawn(upload(body).leak_scope("upload"));
        tokio::spawn(login(served).leak_scope("login"));
        tokio::spawn(notify(vec![b'm'; 256]).leak_scope("notify"));
        tokio::spawn(profile(state.clone(), served % 1_000).leak_scope("profile"));
        served += 1;
    }
    served
}

/// leakguard's layer as this example sets it: samples every 100 ms, a leak after 3
/// samples of growth.
pub fn layer() -> leakguard::LeakLayer {
    leakguard::layer()
        .sample_interval(Duration::from_millis(100))
        .and_then(|layer| layer.growth_samples(3))
        .expect("valid settings")
}

#[allow(dead_code)]
fn main() {
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_target(false))
        .with(layer())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(AppState::default());
    let served = runtime.block_on(serve(state.clone(), Duration::from_secs(2)));
    println!("served {served} requests of each kind\n");
    println!("{}", leakguard::report());
}
