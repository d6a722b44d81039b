use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

#[leakguard::track_growth]
static mut CACHE: Vec<u64> = Vec::new();

#[leakguard::track_growth(len = 10, scoped)]
static SESSIONS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Default::default);

fn main() {}
