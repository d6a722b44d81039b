//! A process-wide cache in a `static`: the leak of the Go articles, as Rust writes it.
//!
//! Profiles are cached by user id in a `static` map that nothing ever evicts. With a budget
//! on the static, leakguard names it (`PROFILES`) and warns when it passes 10,000 entries,
//! then at each doubling. The fix is a bounded cache, named so that reports still show it.
//!
//! ```text
//! cargo run --example global_cache
//! ```

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use leakguard::{NamedCache, ScopedCache, track_growth};

#[derive(Clone, Debug, leakguard::HeapSize)]
struct Profile {
    name: String,
    roles: Vec<String>,
}

fn load_profile(id: u64) -> Profile {
    Profile {
        name: format!("user-{id}"),
        roles: vec!["reader".to_string()],
    }
}

/// The leak: every profile ever looked up stays.
#[track_growth(len = 10_000)]
static PROFILES: LazyLock<Mutex<HashMap<u64, Profile>>> = LazyLock::new(Default::default);

fn profile(id: u64) -> Profile {
    let mut profiles = PROFILES.lock().unwrap();
    if let Some(profile) = profiles.get(&id) {
        return profile.clone();
    }
    let profile = load_profile(id);
    profiles.insert(id, profile.clone());
    profile
}

/// The fix: the same cache, bounded to the 10,000 most useful profiles, still named.
static BOUNDED: LazyLock<Mutex<NamedCache<u64, Profile>>> = LazyLock::new(|| {
    let cache = ScopedCache::builder().name("BOUNDED").max(10_000).build();
    Mutex::new(cache.expect("max = 10,000 is a valid bound"))
});

fn bounded_profile(id: u64) -> Profile {
    let mut profiles = BOUNDED.lock().unwrap();
    if let Some(profile) = profiles.get(&id) {
        return profile.clone();
    }
    let profile = load_profile(id);
    profiles.insert(id, profile.clone());
    profile
}

fn main() {
    tracing_subscriber::fmt().init();

    // 50,000 users look themselves up, a few of them often.
    for request in 0..60_000u64 {
        let id = if request % 6 == 0 {
            request % 100
        } else {
            request
        };
        profile(id);
    }
    println!("\nunbounded static:\n{}", leakguard::report());

    for request in 0..60_000u64 {
        let id = if request % 6 == 0 {
            request % 100
        } else {
            request
        };
        bounded_profile(id);
    }
    let stats = BOUNDED.lock().unwrap().stats();
    println!(
        "\nbounded, named cache: {} entries, {} evictions\n{}",
        BOUNDED.lock().unwrap().len(),
        stats.evictions,
        leakguard::report()
    );
}
