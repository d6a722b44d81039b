use std::sync::{Arc, Mutex};

#[leakguard::track_growth]
struct Counters {
    #[track]
    hits: Arc<Mutex<u64>>,
    #[track]
    misses: u64,
}

fn main() {}
