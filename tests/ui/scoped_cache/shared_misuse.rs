use std::collections::{HashMap, VecDeque};

use leakguard::track_growth;

#[track_growth]
#[derive(Default)]
struct AppState {
    // A ring is bounded in entries, not bytes.
    #[scoped_cache(max_bytes = "64 MiB")]
    pages: VecDeque<Vec<u8>>,
    // A shared cache is a map.
    #[scoped_cache(max = 100, shared)]
    recent: Vec<u64>,
    // A TTL alone does not bound a shared cache.
    #[scoped_cache(ttl = "5m", shared)]
    sessions: HashMap<String, u64>,
    // Sizes take a unit.
    #[scoped_cache(max_bytes = 4096, shared)]
    thumbnails: HashMap<u64, Vec<u8>>,
    #[scoped_cache(max = 10, shared = true)]
    tokens: HashMap<String, u64>,
}

fn use_it(state: &AppState) {
    let _ = state.pages.len();
    let _ = state.tokens.len();
}

fn main() {}
