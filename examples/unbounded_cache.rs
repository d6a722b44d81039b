//! The most common slow leak: a map used as a cache, with no bound and no expiry.
//!
//! The same request handler runs twice over a stream of users who keep arriving. With a
//! plain `HashMap` its cache grows with every new user and the log shows the budget
//! warnings; with `#[scoped_cache(max = .., ttl = ..)]` on the field it stays flat.
//!
//! ```text
//! cargo run --example unbounded_cache
//! ```

use std::collections::HashMap;

use leakguard::{HeapSize, Tracked, track_growth};
use leakguard_support::alloc::{Counting, live_bytes};

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Clone, HeapSize)]
struct Profile {
    name: String,
    preferences: Vec<String>,
}

fn load_profile(user: u64) -> Profile {
    Profile {
        name: format!("user-{user}"),
        preferences: vec!["dark-mode".to_string(), format!("locale-{}", user % 40)],
    }
}

/// Caches profiles in a plain map: nothing ever leaves it.
#[track_growth]
#[derive(Default)]
struct Handler {
    #[budget(bytes = "1 MiB")]
    profiles: HashMap<u64, Profile>,
}

/// The same handler, with the one-line fix on the field.
#[track_growth]
#[derive(Default)]
struct BoundedHandler {
    #[scoped_cache(max = 2_000, ttl = "10m")]
    #[budget(bytes = "1 MiB")]
    profiles: HashMap<u64, Profile>,
}

/// The user behind request `i`: mostly recent users, and new ones all the time.
fn user(i: u64) -> u64 {
    let newest = i / 4;
    newest.saturating_sub((i * 7919) % 500)
}

fn main() {
    tracing_subscriber::fmt().init();
    const REQUESTS: u64 = 400_000;
    tracing::info!("serving {REQUESTS} requests with each handler");

    let mut plain = Handler::default();
    let mut bounded = BoundedHandler::default();
    println!("requests | plain HashMap: entries, bytes | #[scoped_cache]: entries, bytes");
    for i in 0..REQUESTS {
        let id = user(i);
        if plain.profiles.get(&id).is_none() {
            plain.profiles.insert(id, load_profile(id));
        }
        bounded.profiles.get_or_insert_with(id, || load_profile(id));
        if (i + 1) % 80_000 == 0 {
            println!(
                "{:>8} | {:>6} entries, {:>9} B | {:>5} entries, {:>7} B",
                i + 1,
                plain.profiles.len(),
                Tracked::bytes(&plain.profiles),
                bounded.profiles.len(),
                Tracked::bytes(&bounded.profiles),
            );
        }
    }

    // The figures are what the allocator sees: drop each handler and count what it frees.
    let before = live_bytes();
    drop(plain);
    let plain_freed = before - live_bytes();
    let stats = bounded.profiles.stats();
    let before = live_bytes();
    drop(bounded);
    let bounded_freed = before - live_bytes();
    println!(
        "freed on drop: plain {plain_freed} B, scoped {bounded_freed} B; the scoped cache hit {:.0}% with {} evictions",
        100.0 * stats.hits as f64 / (stats.hits + stats.misses) as f64,
        stats.evictions,
    );
}
