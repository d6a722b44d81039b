use std::collections::{HashMap, HashSet, VecDeque};

use leakguard::track_growth;

#[track_growth]
struct Sessions {
    #[scoped_cache(max = 0)]
    by_token: HashMap<u64, String>,
    #[scoped_cache(ttl = "30")]
    seen: HashSet<u64>,
    #[scoped_cache(max = 100)]
    recent: VecDeque<u64>,
    #[scoped_cache(max = 100)]
    hits: u64,
}

fn fill(sessions: &mut Sessions) {
    sessions.by_token.insert(7, "ada".to_string());
    sessions.seen.insert(7);
    sessions.recent.push_back(7);
    sessions.hits += 1;
}

fn main() {}
