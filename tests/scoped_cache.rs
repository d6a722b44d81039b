//! `#[scoped_cache]` fields and `ScopedCache` used directly: bounds, expiry, stats, API.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use leakguard_support::alloc::{Counting, allocated_by};

#[global_allocator]
static ALLOC: Counting = Counting;

use leakguard::{
    ConfigError, HeapSize, ManualClock, ScopedCache, ScopedRing, ScopedSet, Tracked, track_growth,
};

#[derive(Clone, Debug, PartialEq, HeapSize)]
struct Session {
    user: String,
}

#[derive(Clone, Debug, PartialEq, HeapSize)]
struct Event(u32);

#[track_growth]
#[derive(Default, Debug)]
struct Sessions {
    #[scoped_cache(max = 10_000, ttl = "30m")]
    by_token: HashMap<String, Session>,
    #[scoped_cache(max = 1_000)]
    recent: VecDeque<Event>,
    #[scoped_cache(ttl = "5s")]
    seen: HashSet<u64>,
}

fn session(user: &str) -> Session {
    Session {
        user: user.to_string(),
    }
}

#[test]
fn fields_become_bounded_collections_with_their_settings() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut s = Sessions::default();
    assert_eq!(s.by_token.max(), Some(10_000));
    assert_eq!(s.by_token.ttl(), Some(Duration::from_secs(30 * 60)));
    assert_eq!(s.recent.max(), Some(1_000));
    assert_eq!(s.recent.ttl(), None);
    assert_eq!(s.seen.max(), None);
    assert_eq!(s.seen.ttl(), Some(Duration::from_secs(5)));

    assert_eq!(s.by_token.insert("t1".into(), session("ada")), None);
    assert_eq!(s.by_token.get("t1").map(|x| x.user.as_str()), Some("ada"));
    for i in 0..1_500 {
        s.recent.push_back(Event(i));
    }
    assert_eq!(s.recent.len(), 1_000);
    assert_eq!(s.recent[0], Event(500));
    assert!(s.seen.insert(7));
    assert!(s.seen.contains(&7));

    clock.advance(Duration::from_secs(5));
    assert!(!s.seen.contains(&7), "expired at exactly its TTL");
    assert!(s.by_token.get("t1").is_some());
    clock.advance(Duration::from_secs(30 * 60));
    assert!(s.by_token.get("t1").is_none());
    assert_eq!(
        s.by_token.expired_len(),
        1,
        "a lookup releases before it looks"
    );
    assert!(s.by_token.get("t2").is_none());
    assert_eq!(s.by_token.len(), 0, "released by the next lookup's sweep");
    assert_eq!(Tracked::name(&s.by_token), "Sessions.by_token");
}

#[test]
fn max_bounds_the_cache_at_every_moment() {
    let mut cache: ScopedCache<u64, u64> = ScopedCache::builder().max(100).build().unwrap();
    for i in 0..10_000 {
        cache.insert(i, i);
        assert!(cache.len() <= 100);
    }
    let stats = cache.stats();
    assert_eq!(stats.insertions, 10_000);
    assert_eq!(stats.evictions, 9_900);
    assert_eq!(stats.removals, 0);
}

#[test]
fn builder_names_the_bad_setting() {
    let err = ScopedCache::builder()
        .max(0)
        .build::<u64, u64>()
        .unwrap_err();
    assert_eq!(err, ConfigError::ZeroMax);
    assert_eq!(err.setting(), "max");
    assert_eq!(
        err.to_string(),
        "invalid scoped cache setting `max`: it must be at least 1"
    );
    let err = ScopedCache::builder()
        .ttl(Duration::ZERO)
        .build_ring::<u8>()
        .unwrap_err();
    assert_eq!(err.setting(), "ttl");
    let err = ScopedCache::builder().build_set::<u8>().unwrap_err();
    assert_eq!(err, ConfigError::Unbounded);
    // A bound no cache can reach bounds nothing: it is not a way around "set a bound".
    for max in [usize::MAX, leakguard::MAX_ENTRIES + 1] {
        let err = ScopedCache::builder()
            .max(max)
            .build::<u64, u64>()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::MaxTooLarge {
                most: leakguard::MAX_ENTRIES
            }
        );
        assert_eq!(err.setting(), "max");
        assert_eq!(
            err.to_string(),
            "invalid scoped cache setting `max`: it must be at most 4294967294, the most entries a cache can index"
        );
    }
    assert!(
        ScopedCache::builder()
            .max(leakguard::MAX_ENTRIES)
            .build::<u64, u64>()
            .is_ok()
    );
}

#[test]
fn insert_returns_the_replaced_value_and_get_counts_uses() {
    let mut cache: ScopedCache<String, u32> = ScopedCache::builder().max(10).build().unwrap();
    assert_eq!(cache.insert("a".into(), 1), None);
    assert_eq!(cache.insert("a".into(), 2), Some(1));
    assert_eq!(cache.get("a"), Some(&2));
    assert_eq!(cache.get("b"), None);
    assert_eq!(cache.peek("a"), Some(&2));
    *cache.get_mut("a").unwrap() += 40;
    assert_eq!(cache.peek("a"), Some(&42));
    assert_eq!(*cache.get_or_insert_with("c".into(), || 3), 3);
    assert_eq!(*cache.get_or_insert_with("c".into(), || 99), 3);
    assert!(cache.contains_key("c"));
    assert_eq!(cache.remove("a"), Some(42));
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (3, 2));
    assert_eq!(stats.insertions, 2);
    assert_eq!(stats.removals, 1);
    let mut keys: Vec<_> = cache.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["c"]);
}

#[test]
fn lookups_alone_release_expired_entries() {
    let clock = ManualClock::new();
    let mut cache: ScopedCache<u64, u64> = ScopedCache::builder()
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap();
    for key in 0..100 {
        cache.insert(key, key);
    }
    clock.advance(Duration::from_secs(5));
    for key in 100..200 {
        cache.insert(key, key);
    }
    clock.advance(Duration::from_secs(6));
    assert_eq!(cache.expired_len(), 100);

    // Hits that see entries due leave the release to the lookups after them, eight a time.
    for _ in 0..20 {
        assert_eq!(cache.get(&150), Some(&150));
    }
    assert_eq!(cache.len(), 100);
    assert_eq!(cache.expired_len(), 0);
    assert_eq!(cache.stats().expirations, 100);

    // Misses read no clock: the lookup after one releases, here everything at once, as
    // every entry expired and they are few.
    clock.advance(Duration::from_secs(10));
    assert_eq!(cache.get(&999), None);
    assert_eq!(cache.len(), 100, "a miss releases nothing itself");
    assert_eq!(cache.get(&999), None);
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().expirations, 200);
}

#[test]
fn a_cache_whose_entries_all_expired_frees_them_a_bounded_share_at_a_time() {
    let clock = ManualClock::new();
    let (mut cache, filled) = allocated_by(|| {
        let mut cache: ScopedCache<u64, String> = ScopedCache::builder()
            .ttl(Duration::from_secs(60))
            .clock(clock.clone())
            .build()
            .unwrap();
        for key in 0..200_000u64 {
            cache.insert(key, format!("value {key}"));
        }
        cache
    });
    let empty = cache_baseline(&clock);
    clock.advance(Duration::from_secs(61));
    // One live entry among 200,000 expired ones: releasing no longer waits for writes to
    // outnumber it, nor does one operation free them all.
    cache.insert(u64::MAX, "live".to_string());
    let mut operations = 1;
    let mut most = cache.stats().expirations;
    while cache.len() > 1 {
        let before = cache.stats().expirations;
        assert_eq!(cache.get(&operations), None);
        most = most.max(cache.stats().expirations - before);
        operations += 1;
        assert!(operations <= 1_000, "still {} entries", cache.len());
    }
    // A 512th of the store at the most: 200,000 entries in 512 slabs of 391.
    assert!(
        most <= 200_000 / 512 + 1,
        "{most} entries freed by one operation"
    );
    assert!(
        operations <= 600,
        "{operations} operations to free 200,000 entries"
    );
    assert_eq!(cache.get(&u64::MAX).map(String::as_str), Some("live"));
    // Once the store is sparse it is rebuilt around the live entry: back to the baseline.
    let now = cache.heap_size() as isize;
    assert!(now < filled / 100, "{now} B after expiry, {filled} B full");
    assert!(now <= empty + 4096, "{now} B, an empty cache's {empty} B");
}

#[test]
fn a_ring_whose_entries_all_expired_frees_them_a_bounded_share_at_a_time() {
    let clock = ManualClock::new();
    let mut ring: ScopedRing<String> = ScopedCache::builder()
        .ttl(Duration::from_secs(60))
        .clock(clock.clone())
        .build_ring()
        .unwrap();
    for i in 0..200_000 {
        ring.push(format!("event {i}"));
    }
    clock.advance(Duration::from_secs(61));
    let mut operations = 0;
    let mut most = 0;
    while ring.expired_len() > 0 {
        let before = ring.stats().expirations;
        ring.push("live".to_string());
        most = most.max(ring.stats().expirations - before);
        operations += 1;
        assert!(operations <= 1_000, "still {} expired", ring.expired_len());
    }
    assert!(
        most <= 262_144 / 512,
        "{most} entries freed by one operation"
    );
    assert_eq!(ring.len(), operations);
    assert!(ring.heap_size() < 64 * 1024, "{} B", ring.heap_size());

    // Popping from behind a wall of expired entries takes the oldest live one, and frees
    // no more than a share of the wall.
    for i in 0..200_000 {
        ring.push(format!("old {i}"));
    }
    clock.advance(Duration::from_secs(61));
    ring.push("first live".to_string());
    ring.push("second live".to_string());
    let before = ring.stats().expirations;
    assert_eq!(ring.pop_front().as_deref(), Some("first live"));
    assert!(ring.stats().expirations - before <= 262_144 / 512 * 2);
    assert_eq!(ring.len(), 1);
    assert_eq!(ring.front().map(String::as_str), Some("second live"));
    assert_eq!(ring.pop_front().as_deref(), Some("second live"));
    assert!(ring.is_empty());
}

/// Heap bytes of a cache like the one above holding one entry.
fn cache_baseline(clock: &ManualClock) -> isize {
    let mut cache: ScopedCache<u64, String> = ScopedCache::builder()
        .ttl(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert(u64::MAX, "live".to_string());
    cache.heap_size() as isize
}

#[test]
fn sets_and_rings_work_directly() {
    let mut set: ScopedSet<u32> = ScopedCache::builder().max(3).build_set().unwrap();
    for i in 0..10 {
        set.insert(i);
    }
    assert_eq!(set.len(), 3);
    let mut ring: ScopedRing<String> = ScopedCache::builder().max(2).build_ring().unwrap();
    ring.push("a".into());
    ring.push("b".into());
    assert_eq!(ring.push("c".into()).as_deref(), Some("a"));
    assert_eq!(format!("{ring:?}"), r#"["b", "c"]"#);
}

fn assert_exact(case: &str, estimate: usize, truth: isize) {
    assert_eq!(
        estimate as isize, truth,
        "{case}: leakguard reads {estimate} B, the allocator {truth} B"
    );
}

#[test]
fn heap_size_is_exact_against_the_allocator() {
    let (cache, truth) = allocated_by(|| {
        let mut cache: ScopedCache<u64, [u8; 32]> =
            ScopedCache::builder().max(10_000).build().unwrap();
        for i in 0..50_000u64 {
            cache.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 30_000, [1; 32]);
        }
        cache
    });
    assert_exact("bounded u64 -> [u8; 32]", cache.heap_size(), truth);

    let clock = ManualClock::new();
    let (mut cache, truth) = allocated_by(|| {
        let mut cache: ScopedCache<String, String> = ScopedCache::builder()
            .max(1_000)
            .ttl(Duration::from_secs(60))
            .clock(clock.clone())
            .build()
            .unwrap();
        for i in 0..3_000 {
            cache.insert(format!("key-{i}"), "v".repeat(i % 50));
            clock.advance(Duration::from_millis(10));
        }
        cache
    });
    assert_exact("ttl String -> String", cache.heap_size(), truth);
    let before = cache.heap_size() as isize;
    let ((), freed) = allocated_by(|| {
        clock.advance(Duration::from_secs(3600));
        cache.insert("after".into(), "x".into());
    });
    assert_exact("after expiry", cache.heap_size(), before + freed);
    assert_eq!(cache.len(), 1);
}

/// A value that counts how many of its kind are alive.
#[derive(HeapSize)]
struct Counted {
    payload: String,
    #[heap_size(skip)]
    alive: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Counted {
    fn new(alive: &std::sync::Arc<std::sync::atomic::AtomicUsize>, payload: &str) -> Self {
        alive.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Counted {
            payload: payload.to_string(),
            alive: alive.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.alive
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn every_value_that_leaves_a_cache_is_dropped_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    let alive = Arc::new(AtomicUsize::new(0));
    let clock = ManualClock::new();
    let mut cache: ScopedCache<u64, Counted> = ScopedCache::builder()
        .max(100)
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap();
    // Evictions: 300 inserts into room for 100.
    for i in 0..300 {
        cache.insert(i, Counted::new(&alive, "v"));
    }
    assert_eq!(alive.load(Relaxed), cache.len(), "evicted values dropped");
    // A replaced value is handed back; dropping it is the caller's.
    let key = *cache.keys().next().unwrap();
    let old = cache.insert(key, Counted::new(&alive, "w"));
    assert!(old.is_some());
    assert_eq!(alive.load(Relaxed), cache.len() + 1);
    drop(old);
    assert_eq!(alive.load(Relaxed), cache.len());
    // Removed, retained away, inserted on a miss.
    let removed = cache.remove(&key);
    assert!(removed.is_some());
    drop(removed);
    cache.retain(|k, _| k % 2 == 0);
    cache.get_or_insert_with(1_000, || Counted::new(&alive, "x"));
    assert_eq!(alive.load(Relaxed), cache.len(), "removed values dropped");
    // Expired: released by operations, by purge, and replaced once expired.
    clock.advance(Duration::from_secs(11));
    cache.insert(2_000, Counted::new(&alive, "y"));
    assert_eq!(alive.load(Relaxed), cache.len(), "expired values dropped");
    cache.purge_expired();
    assert_eq!((cache.len(), alive.load(Relaxed)), (1, 1));
    clock.advance(Duration::from_secs(11));
    assert!(cache.insert(2_000, Counted::new(&alive, "z")).is_none());
    assert_eq!(
        alive.load(Relaxed),
        1,
        "the expired value it replaced is dropped"
    );
    // Cleared, then dropped with entries in it.
    cache.clear();
    assert_eq!(alive.load(Relaxed), 0);
    for i in 0..50 {
        cache.insert(i, Counted::new(&alive, "v"));
    }
    drop(cache);
    assert_eq!(alive.load(Relaxed), 0, "a dropped cache drops its values");

    // Without a TTL, and bounded in bytes: evicted, too heavy to keep, dropped whole.
    let mut bare: ScopedCache<u64, Counted> = ScopedCache::builder().max(10).build().unwrap();
    for i in 0..100 {
        bare.insert(i, Counted::new(&alive, "v"));
    }
    assert_eq!(alive.load(Relaxed), 10);
    drop(bare);
    let mut weighed: ScopedCache<u64, Counted> =
        ScopedCache::builder().max_bytes(1_000).build().unwrap();
    for i in 0..100 {
        weighed.insert(i, Counted::new(&alive, "0123456789"));
    }
    weighed.insert(1_000, Counted::new(&alive, &"x".repeat(5_000)));
    assert_eq!(
        alive.load(Relaxed),
        weighed.len(),
        "too heavy: dropped at once"
    );
    drop(weighed);
    let mut set: ScopedSet<u64> = ScopedCache::builder().max(3).build_set().unwrap();
    for i in 0..10 {
        set.insert(i);
    }
    assert_eq!(set.len(), 3);
    assert_eq!(alive.load(Relaxed), 0, "a dropped cache drops its values");
}

#[test]
fn a_field_cache_drops_its_values() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    #[track_growth]
    #[derive(Default)]
    struct Holder {
        #[scoped_cache(max = 5)]
        cache: HashMap<u64, Counted>,
    }
    let alive = Arc::new(AtomicUsize::new(0));
    let mut holder = Holder::default();
    for i in 0..20 {
        holder.cache.insert(i, Counted::new(&alive, "v"));
    }
    assert_eq!(alive.load(Relaxed), 5);
    drop(holder);
    assert_eq!(alive.load(Relaxed), 0);
}
