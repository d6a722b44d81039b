use std::collections::HashMap;

use leakguard::track_growth;

#[track_growth]
struct Sessions {
    #[scoped_cache(max = 100)]
    by_token: HashMap<u64, String>,
}

struct Logins {
    #[scoped_cache(max = 1)]
    by_token: HashMap<u64, String>,
}

fn fill(sessions: &mut Sessions, logins: &mut Logins) {
    sessions.by_token.insert(7, "ada".to_string());
    logins.by_token.insert(7, "ada".to_string());
}

fn main() {}
