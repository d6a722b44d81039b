use std::collections::HashMap;

use leakguard::track_growth;

#[track_growth]
struct Sessions {
    #[scoped_cache(max = 10_000_000_000)]
    by_token: HashMap<u64, String>,
}

fn fill(sessions: &mut Sessions) {
    sessions.by_token.insert(7, "ada".to_string());
}

fn main() {}
