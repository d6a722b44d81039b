use std::collections::HashMap;

use leakguard::track_growth;

#[track_growth]
struct Sessions {
    #[scoped_cache(max = 100)]
    by_token: HashMap<u64, String>,
    #[scoped_cache(max = 100)]
    hits: u64,
    #[scoped_cache(ttl = "30m")]
    owner: Option<String>,
}

fn fill(sessions: &mut Sessions) {
    sessions.by_token.insert(7, "ada".to_string());
    sessions.hits += 1;
    sessions.owner = Some("ada".to_string());
}

fn main() {}
