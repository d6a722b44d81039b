//! `#[scoped_cache(.., shared)]` and `SharedCache`: a concurrent bounded cache with `&self`
//! access, written the way a tokio service shares state: an axum-style `AppState` behind
//! `Arc`, a field read through `RwLock::read()`, a `static`, handlers on a multi-thread runtime.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use leakguard::{ConfigError, HeapSize, ManualClock, SharedCache, track_growth};
use leakguard_support::alloc::{Counting, allocated_by, live_bytes, warm_up_registry};

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Clone, Debug, PartialEq, HeapSize)]
struct Session {
    user: u64,
    roles: Vec<String>,
}

#[track_growth]
#[derive(Default)]
struct AppState {
    #[scoped_cache(max = 1_000, ttl = "5m", shared)]
    sessions: HashMap<String, Session>,
    #[scoped_cache(max_bytes = "64 KiB", shared)]
    pages: HashMap<String, Vec<u8>>,
    #[scoped_cache(max = 100, max_bytes = "16 KiB", shared)]
    thumbnails: HashMap<u64, Vec<u8>>,
}

fn session(user: u64) -> Session {
    Session {
        user,
        roles: vec!["reader".to_string(); (user % 3) as usize],
    }
}

/// What a handler does with the shared state: read through `&self`, insert on a miss.
fn handle(state: &AppState, user: u64) -> Session {
    let token = format!("token-{user}");
    if let Some(found) = state.sessions.get(&token) {
        return found;
    }
    let made = session(user);
    state.sessions.insert(token, made.clone());
    state.pages.insert(
        format!("/users/{user}"),
        vec![0; 100 + (user % 900) as usize],
    );
    state.thumbnails.insert(user, vec![1; 200]);
    made
}

fn assert_within_bounds(state: &AppState) {
    assert!(state.sessions.len() <= 1_000, "{}", state.sessions.len());
    assert!(state.pages.bytes() <= 64 * 1024, "{}", state.pages.bytes());
    assert!(state.thumbnails.len() <= 100, "{}", state.thumbnails.len());
    assert!(
        state.thumbnails.bytes() <= 16 * 1024,
        "{}",
        state.thumbnails.bytes()
    );
}

#[test]
fn a_shared_field_is_used_through_a_read_lock_and_arc_from_many_threads_within_its_bounds() {
    let state = Arc::new(RwLock::new(AppState::default()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let state = state.clone();
            std::thread::spawn(move || {
                for i in 0..5_000u64 {
                    let user = (i * 7 + t * 13) % 3_000;
                    // `read()`: many handlers at once, none needs `&mut`.
                    let state = state.read().unwrap();
                    assert_eq!(handle(&state, user), session(user));
                    if i % 500 == 0 {
                        assert_within_bounds(&state);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let state = state.read().unwrap();
    assert_within_bounds(&state);
    // It was full, and evicted to stay so.
    assert!(state.sessions.len() > 900, "{}", state.sessions.len());
    assert!(state.pages.bytes() > 48 * 1024, "{}", state.pages.bytes());
    let stats = state.sessions.stats();
    assert_eq!(stats.hits + stats.misses, 20_000);
    assert!(stats.evictions > 0 && stats.expirations == 0 && stats.removals == 0);
    // Every new key inserted is still there or was evicted. Two handlers that miss the same
    // token at once both insert it: the second replaces the first, which is neither.
    assert_eq!(
        stats.insertions,
        stats.evictions + state.sessions.len() as u64,
        "{stats:?}"
    );
}

#[test]
fn a_shared_field_is_reported_under_its_field_name_with_its_bounds() {
    let state = AppState::default();
    for user in 0..2_000 {
        handle(&state, user);
    }
    let report = leakguard::report();
    let group = report.group("AppState.sessions").expect("reported");
    assert_eq!(group.len, state.sessions.len());
    assert_eq!(state.sessions.max(), Some(1_000));
    assert_eq!(state.sessions.max_bytes(), None);
    assert_eq!(state.pages.max_bytes(), Some(64 * 1024));
    assert_eq!(state.thumbnails.max(), Some(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handlers_on_a_multi_thread_runtime_share_one_cache_without_a_lock() {
    let state = Arc::new(AppState::default());
    let tasks: Vec<_> = (0..64u64)
        .map(|t| {
            let state = state.clone();
            tokio::spawn(async move {
                for i in 0..200u64 {
                    let user = (t * 31 + i) % 1_500;
                    assert_eq!(handle(&state, user), session(user));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_within_bounds(&state);
    assert_eq!(
        state.sessions.stats().hits + state.sessions.stats().misses,
        64 * 200
    );
}

static TOKENS: LazyLock<SharedCache<String, u64>> = LazyLock::new(|| {
    SharedCache::builder()
        .name("TOKENS")
        .max(1_000)
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap()
});

#[test]
fn a_static_shared_cache_is_named_in_the_report() {
    for i in 0..1_500u64 {
        TOKENS.insert(format!("t{i}"), i);
    }
    assert!(TOKENS.len() <= 1_000);
    assert_eq!(TOKENS.get("t1499"), Some(1_499));
    let report = leakguard::report();
    assert_eq!(report.group("TOKENS").expect("reported").len, TOKENS.len());
}

#[test]
fn expired_entries_are_never_returned_and_their_memory_is_released_within_some_operations() {
    // The registry's first chunk goes to whichever test registers first: not this one's.
    warm_up_registry();
    let clock = ManualClock::new();
    let cache: SharedCache<u64, Vec<u8>> = SharedCache::builder()
        .max(10_000)
        .ttl(Duration::from_millis(50))
        .clock(clock.clone())
        .build()
        .unwrap();
    let before = live_bytes();
    for i in 0..1_000 {
        cache.insert(i, vec![0; 1_000]);
    }
    let filled = live_bytes() - before;
    assert!(filled >= 1_000_000, "{filled}");
    clock.advance(Duration::from_millis(30));
    assert_eq!(cache.get(&1).map(|v| v.len()), Some(1_000));
    clock.advance(Duration::from_millis(30));
    // Idle past the TTL: nothing is returned, and operations release what expired, 256
    // entries of a shard at a time in a cache this small, each looking at one shard in turn.
    assert_eq!(cache.get(&1), None);
    let mut operations = 1;
    while !cache.is_empty() {
        assert_eq!(cache.get(&(10_000 + operations)), None);
        operations += 1;
        assert!(operations <= 1_000 / 256 + 64, "{} left", cache.len());
    }
    assert_eq!(cache.bytes(), 0);
    // Every value's 1,000 bytes went back to the allocator; what stays is the store's slots,
    // which quick_cache's sync cache does not shrink.
    let left = live_bytes() - before;
    assert!(
        filled - left >= 1_000 * 1_000,
        "{left} of {filled} bytes still held"
    );
    let stats = cache.stats();
    assert_eq!((stats.expirations, stats.evictions), (1_000, 0));
}

#[test]
fn expiry_keeps_no_memory_that_grows_with_inserts() {
    // One key replaced a million times under a long TTL: the cache holds one entry, and
    // nothing kept for expiry grows with the inserts.
    let cache: SharedCache<u64, u64> = SharedCache::builder()
        .max(100)
        .ttl(Duration::from_secs(300))
        .build()
        .unwrap();
    cache.insert(0, 0);
    let before = live_bytes();
    for i in 0..100_000 {
        cache.insert(i % 10, i);
    }
    let grown = live_bytes() - before;
    assert!(grown < 4_096, "grew {grown} bytes");
    assert_eq!(cache.len(), 10);
    let stats = cache.stats();
    assert_eq!(stats.evictions, 0, "replacements are not evictions");
    assert_eq!(stats.insertions, 10, "replacements are not insertions");
}

#[test]
fn expiry_releases_a_bounded_share_per_operation_and_everything_within_512_or_so() {
    // A mass expiry of 200,000 entries: no operation releases more than a 512th of them
    // (give or take the imbalance of the shards), and all are released within 512
    // operations and one turn of the shards. Counted, not timed; `benches/w5_shared.rs`
    // times it.
    const ENTRIES: u64 = 200_000;
    let clock = ManualClock::new();
    let cache: SharedCache<u64, String> = SharedCache::builder()
        .max(ENTRIES as usize * 2)
        .ttl(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    for i in 0..ENTRIES {
        cache.insert(i, format!("value {i}"));
    }
    let held = live_bytes();
    // Past half the TTL, nothing is due: operations release nothing.
    clock.advance(Duration::from_secs(40));
    for i in 0..10_000 {
        assert_eq!(cache.get(&i).map(|v| v.len() > 6), Some(true));
        assert_eq!(cache.get(&(ENTRIES + i)), None);
    }
    assert_eq!(cache.stats().expirations, 0);
    clock.advance(Duration::from_secs(21));
    let mut most = 0;
    let mut operations = 0;
    let mut expired = 0;
    while !cache.is_empty() {
        assert_eq!(cache.get(&(ENTRIES + operations)), None);
        operations += 1;
        let now = cache.stats().expirations;
        most = most.max(now - expired);
        expired = now;
        assert!(operations <= 512 + 256, "{} left", cache.len());
    }
    assert_eq!(expired, ENTRIES);
    assert!(
        most <= ENTRIES * 6 / 5 / 512,
        "one operation released {most}"
    );
    assert!(
        most >= ENTRIES / 2 / 512,
        "{most}: more operations than needed"
    );
    // The values' strings and the key clones of the expiry records went back.
    let freed = held - live_bytes();
    assert!(freed >= ENTRIES as isize * 12, "{freed} bytes freed");
}

#[test]
fn a_thread_alternating_between_two_caches_releases_every_shard_of_each() {
    // A handler that reads one cache and then another, request after request: each cache
    // counts its own turns through its shards, so neither sees only every other shard.
    let clock = ManualClock::new();
    let build = || -> SharedCache<u64, u64> {
        SharedCache::builder()
            .max(100_000)
            .ttl(Duration::from_secs(1))
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    for i in 0..50_000 {
        a.insert(i, i);
        b.insert(i, i);
    }
    clock.advance(Duration::from_secs(2));
    let mut operations = 0;
    while !(a.is_empty() && b.is_empty()) {
        assert_eq!(a.get(&(100_000 + operations)), None);
        assert_eq!(b.get(&(100_000 + operations)), None);
        operations += 1;
        assert!(operations <= 512 + 256, "{} and {} left", a.len(), b.len());
    }
}

#[test]
fn heap_size_is_what_the_allocator_sees_less_the_growth_slack_of_the_storage() {
    leakguard_support::alloc::warm_up_registry();
    let (cache, truth) = allocated_by(|| {
        let cache: SharedCache<String, Vec<u8>> =
            SharedCache::builder().max(1_000).build().unwrap();
        for i in 0..500 {
            cache.insert(format!("key-{i}"), vec![0; i % 300]);
        }
        cache
    });
    // What the entries own is exact. quick_cache reports its storage by the slots in use,
    // not the capacity its vectors grew to, so the figure can fall short by that slack,
    // never by more than the storage itself, and never overshoots.
    let measured = cache.heap_size() as isize;
    let storage = cache.footprint().unwrap().storage_bytes as isize;
    let entries_heap = measured - storage;
    let owned: usize = (0..500)
        .map(|i| format!("key-{i}").capacity() + i % 300)
        .sum();
    assert_eq!(entries_heap, owned as isize);
    assert!(
        measured <= truth && truth - measured <= storage,
        "allocator {truth}, heap_size {measured}, storage {storage}"
    );
    let (_, empty) = allocated_by(|| {
        SharedCache::builder()
            .max(1_000)
            .build::<String, Vec<u8>>()
            .unwrap()
    });
    assert!(empty <= 2 * 1024, "an empty cache takes {empty} bytes");
    // With a TTL too: its expiry records come with the first entry.
    let (_, empty) = allocated_by(|| {
        SharedCache::builder()
            .max(1_000)
            .ttl(Duration::from_secs(60))
            .build::<String, Vec<u8>>()
            .unwrap()
    });
    assert!(empty <= 2 * 1024, "an empty TTL cache takes {empty} bytes");
}

#[test]
fn a_byte_bound_is_kept_exactly_and_counts_what_entries_hold() {
    let cache: SharedCache<u64, Vec<u8>> =
        SharedCache::builder().max_bytes(100_000).build().unwrap();
    for i in 0..10_000u64 {
        cache.insert(i, vec![0; 1 + (i as usize * 37) % 2_000]);
        assert!(cache.bytes() <= 100_000, "{}", cache.bytes());
    }
    let mut sum = 0;
    cache.for_each(|_, v| sum += size_of::<u64>() + size_of::<Vec<u8>>() + v.capacity());
    assert_eq!(cache.bytes(), sum);
    assert!(sum > 80_000, "{sum}");
}

#[track_growth]
#[derive(Default)]
struct Media {
    #[scoped_cache(max = 1_000, max_bytes = "64 KiB", shared)]
    thumbnails: HashMap<u64, Vec<u8>>,
}

#[test]
fn with_both_bounds_it_fills_to_within_a_tenth_of_the_binding_one() {
    // An entry is its key and `Vec` inline, 32 bytes, and the `Vec`'s heap.
    // Entries of 122 to 141 bytes: 64 KiB holds some 500, so the bytes bind.
    let media = Media::default();
    for i in 0..20_000u64 {
        media.thumbnails.insert(i, vec![0; 90 + (i % 20) as usize]);
    }
    let bytes = media.thumbnails.bytes();
    assert!(bytes <= 64 * 1024, "{bytes}");
    assert!(bytes >= 64 * 1024 * 9 / 10, "settled at {bytes} bytes");
    // Entries of 40 to 79 bytes: 1,000 of them take some 60 KB, so the count binds, though
    // many weigh more than a thousandth of 64 KiB.
    let media = Media::default();
    for i in 0..20_000u64 {
        media.thumbnails.insert(i, vec![0; 8 + (i % 40) as usize]);
    }
    let (len, bytes) = (media.thumbnails.len(), media.thumbnails.bytes());
    assert!(len <= 1_000 && bytes <= 64 * 1024, "{len}, {bytes}");
    assert!(len >= 900, "settled at {len} entries, {bytes} bytes");
}

#[test]
fn removals_and_get_or_insert_with_are_counted_by_cause() {
    let cache: SharedCache<String, u64> = SharedCache::builder().max(10).build().unwrap();
    assert_eq!(cache.get_or_insert_with("a", || 1), 1);
    assert_eq!(cache.get_or_insert_with("a", || 2), 1);
    assert_eq!(cache.remove("a"), Some(1));
    assert_eq!(cache.remove("a"), None);
    let stats = cache.stats();
    assert_eq!(
        (stats.insertions, stats.removals, stats.hits),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn bad_bounds_are_errors_naming_the_setting() {
    let none = SharedCache::builder().build::<u64, u64>().unwrap_err();
    assert!(none.to_string().contains("max"), "{none}");
    let zero = SharedCache::builder()
        .max_bytes(0)
        .build::<u64, u64>()
        .unwrap_err();
    assert!(zero.to_string().contains("max_bytes"), "{zero}");
    assert!(matches!(
        SharedCache::builder().max(0).build::<u64, u64>(),
        Err(ConfigError::ZeroMax)
    ));
}

#[test]
fn shared_caches_are_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<SharedCache<String, Session>>();
    shared::<AppState>();
}

#[test]
fn an_entry_heavier_than_its_shards_share_of_max_bytes_is_not_kept() {
    // 64 KiB over at least 4 shards (about four per core): a 20 KiB page cannot fit one
    // shard's share, a 1 KiB page can.
    let cache: SharedCache<u64, Vec<u8>> =
        SharedCache::builder().max_bytes(64 * 1024).build().unwrap();
    cache.insert(1, vec![0; 20 * 1024]);
    assert_eq!(cache.get(&1), None);
    assert_eq!((cache.len(), cache.bytes()), (0, 0));
    cache.insert(2, vec![0; 1024]);
    assert_eq!(cache.get(&2).map(|v| v.len()), Some(1024));
    // The page that could not be kept went in and out: an eviction, as in `ScopedCache`.
    let stats = cache.stats();
    assert_eq!((stats.insertions, stats.evictions), (2, 1));
}

/// What the README and `bytes()` say: `bytes()` is the entries' weight, keys and values
/// inline and on the heap, what `max_bytes` bounds; the report row (like `heap_size()`)
/// is what the cache takes from the allocator, the store's slots included, so it reads
/// more.
#[test]
fn bytes_counts_the_entries_while_the_report_row_adds_the_store() {
    warm_up_registry();
    let (cache, truth) = allocated_by(|| {
        let cache: SharedCache<String, Vec<u8>> = SharedCache::builder()
            .name("ENTRIES_AND_STORE")
            .max(1_000)
            .build()
            .unwrap();
        // 513 inserts from one thread: the figures are published at the first and at every
        // 64th, so the row is current after the last.
        for i in 0..513 {
            cache.insert(format!("key-{i:03}"), vec![0; 100]);
        }
        cache
    });
    let entries: usize = (0..513)
        .map(|i| size_of::<(String, Vec<u8>)>() + format!("key-{i:03}").capacity() + 100)
        .sum();
    assert_eq!(cache.bytes(), entries);
    let row = leakguard::report()
        .group("ENTRIES_AND_STORE")
        .map(|g| g.bytes)
        .unwrap();
    assert_eq!(row, cache.heap_size());
    let store = cache.footprint().unwrap().storage_bytes;
    assert!(
        row > cache.bytes() && store > 0,
        "row {row}, bytes() {}, store {store}",
        cache.bytes()
    );
    // The row is the allocator's figure, which `bytes()` is not (quick_cache counts its
    // slots in use, so the row may fall short of the truth by the slack of its vectors).
    assert!(
        row as isize <= truth && truth - (row as isize) <= store as isize,
        "allocator {truth}, row {row}, store {store}"
    );
}

/// The README: "an empty one allocates under 2 KiB on a 2-core machine (the shards and the
/// counters' stripes grow with the cores)". The stripes are two per core since a thread
/// claims one to count on without atomics: 512 B of it here.
#[test]
fn an_empty_shared_cache_allocates_under_2_kib_on_a_2_core_machine() {
    warm_up_registry();
    let (cache, bytes) = allocated_by(|| {
        SharedCache::builder()
            .max(1_000)
            .build::<String, u64>()
            .unwrap()
    });
    if std::thread::available_parallelism().map_or(0, |n| n.get()) == 2 {
        assert!(bytes > 0 && bytes < 2 * 1024, "{bytes}");
    }
    assert!(cache.is_empty());
}
