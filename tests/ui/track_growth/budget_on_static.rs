use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

#[leakguard::track_growth]
#[budget(len = 10_000)]
static SESSIONS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Default::default);

fn login(user: &str) {
    SESSIONS.lock().unwrap().insert(user.to_string(), 1);
}

fn main() {}
