use std::collections::{HashMap, HashSet};

use leakguard::track_growth;

#[track_growth]
struct Sessions {
    #[scoped_cache]
    by_token: HashMap<u64, String>,
    #[scoped_cache()]
    seen: HashSet<u64>,
}

fn fill(sessions: &mut Sessions) {
    sessions.by_token.insert(7, "ada".to_string());
    sessions.seen.insert(7);
}

fn main() {}
