use std::collections::HashMap;

use leakguard::track_growth;

#[track_growth]
struct Sessions {
    #[scoped_cache(ttl = "18446744073709551615s 1000000000ns")]
    by_token: HashMap<u64, String>,
}

fn fill(sessions: &mut Sessions) {
    sessions.by_token.insert(7, "ada".to_string());
}

fn main() {}
