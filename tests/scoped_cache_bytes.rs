//! `#[scoped_cache(max_bytes = ..)]` on a single-owner field, and `.max_bytes(..)` on the
//! builder: the entries' bytes (keys and values, inline and on the heap) never exceed the
//! bound after an insert, alone or together with `max` and `ttl`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use leakguard::{ConfigError, ManualClock, ScopedCache, track_growth};

/// What one entry of a `String -> Vec<u8>` cache weighs: what the allocator holds for its
/// key and value, and the pair itself.
fn entry_bytes(key: &str, value: &[u8]) -> usize {
    size_of::<(String, Vec<u8>)>() + key.len() + value.len()
}

fn page(i: usize) -> (String, Vec<u8>) {
    // Exact capacities, so that `len` is what the allocator holds.
    let key = format!("/page/{i:06}");
    let value = vec![b'x'; 200 + (i * 37) % 1_800];
    (key, value)
}

/// A renderer that keeps recent pages, bounded by their size.
#[track_growth]
#[derive(Default)]
struct Renderer {
    #[scoped_cache(max_bytes = "64 KiB")]
    pages: HashMap<String, Vec<u8>>,
    #[scoped_cache(max = 50, max_bytes = "16 KiB")]
    thumbnails: HashMap<String, Vec<u8>>,
    #[scoped_cache(max_bytes = "1 KiB", ttl = "1m")]
    seen: HashSet<String>,
}

fn held(cache: &ScopedCache<String, Vec<u8>>) -> usize {
    cache.iter().map(|(k, v)| entry_bytes(k, v)).sum()
}

#[test]
fn a_field_bounded_in_bytes_never_holds_more_after_an_insert() {
    let mut renderer = Renderer::default();
    assert_eq!(renderer.pages.max_bytes(), Some(64 * 1024));
    assert_eq!(renderer.pages.max(), None);
    let mut most = 0;
    for i in 0..2_000 {
        let (key, value) = page(i);
        renderer.pages.insert(key, value);
        let bytes = held(&renderer.pages);
        assert!(bytes <= 64 * 1024, "{bytes} B after insert {i}");
        most = most.max(bytes);
    }
    // The bound is used, not just respected: most of it holds entries.
    assert!(most > 56 * 1024, "{most}");
    let stats = renderer.pages.stats();
    assert_eq!(stats.evictions as usize, 2_000 - renderer.pages.len());
}

#[test]
fn both_bounds_hold_together() {
    let mut renderer = Renderer::default();
    for i in 0..1_000 {
        // Small entries: the bound in entries binds.
        renderer.thumbnails.insert(format!("t{i}"), vec![0; 8]);
        assert!(renderer.thumbnails.len() <= 50);
    }
    assert!(
        renderer.thumbnails.len() >= 45,
        "{}",
        renderer.thumbnails.len()
    );
    for i in 0..1_000 {
        // Large entries: the bound in bytes binds.
        let (key, value) = page(i);
        renderer.thumbnails.insert(key, value);
        assert!(renderer.thumbnails.len() <= 50);
        assert!(held(&renderer.thumbnails) <= 16 * 1024);
    }
}

#[test]
fn a_set_bounded_in_bytes_with_a_ttl_expires_and_stays_within_its_bytes() {
    let clock = ManualClock::new();
    let _guard = clock.install();
    let mut renderer = Renderer::default();
    for i in 0..500 {
        renderer.seen.insert(format!("visitor-{i:04}"));
        let bytes: usize = renderer
            .seen
            .iter()
            .map(|v| size_of::<(String, ())>() + v.len())
            .sum();
        assert!(bytes <= 1024, "{bytes}");
    }
    assert!(!renderer.seen.is_empty());
    clock.advance(Duration::from_secs(61));
    assert_eq!(renderer.seen.iter().count(), 0);
    assert_eq!(
        renderer.seen.purge_expired(),
        renderer.seen.stats().expirations as usize
    );
    assert!(renderer.seen.is_empty());
}

#[test]
fn an_entry_heavier_than_the_bound_is_not_kept_by_insert() {
    let mut cache: ScopedCache<String, Vec<u8>> =
        ScopedCache::builder().max_bytes(4096).build().unwrap();
    cache.insert("small".to_string(), vec![0; 100]);
    assert_eq!(cache.insert("huge".to_string(), vec![0; 10_000]), None);
    assert!(cache.peek("huge").is_none());
    assert_eq!(cache.stats().evictions, 1);
    assert!(held(&cache) <= 4096);
}

#[test]
fn replacing_a_value_with_one_heavier_than_the_bound_returns_the_old_and_keeps_neither() {
    let mut cache: ScopedCache<String, Vec<u8>> =
        ScopedCache::builder().max_bytes(4096).build().unwrap();
    cache.insert("page".to_string(), vec![1; 100]);
    let old = cache.insert("page".to_string(), vec![2; 10_000]);
    assert_eq!(old, Some(vec![1; 100]));
    assert!(cache.peek("page").is_none());
    assert!(cache.is_empty());
    assert_eq!(cache.stats().evictions, 1);
}

#[test]
fn get_or_insert_with_keeps_an_oversized_value_alone_until_the_next_insert() {
    let mut cache: ScopedCache<String, Vec<u8>> =
        ScopedCache::builder().max_bytes(4096).build().unwrap();
    cache.insert("a".to_string(), vec![1; 100]);
    let value = cache.get_or_insert_with("huge".to_string(), || vec![2; 10_000]);
    assert_eq!(value.len(), 10_000);
    assert_eq!(cache.len(), 1, "the oversized value is kept alone");
    cache.insert("b".to_string(), vec![3; 100]);
    assert!(cache.peek("huge").is_none());
    assert!(held(&cache) <= 4096);
}

#[test]
fn a_value_grown_through_get_mut_is_weighed_again() {
    let mut cache: ScopedCache<String, Vec<u8>> =
        ScopedCache::builder().max_bytes(8192).build().unwrap();
    for i in 0..20 {
        cache.insert(format!("k{i}"), vec![0; 100]);
    }
    assert_eq!(cache.len(), 20);
    cache.get_mut("k0").unwrap().extend_from_slice(&[1; 6000]);
    // The next insert brings the cache back within its bound, as it now weighs the value.
    cache.insert("k20".to_string(), vec![0; 100]);
    assert!(held(&cache) <= 8192, "{}", held(&cache));
}

#[test]
fn bad_byte_bounds_are_errors_naming_the_setting() {
    let zero = ScopedCache::builder().max_bytes(0).build::<String, u64>();
    assert_eq!(zero.err().map(|e| e.setting()), Some("max_bytes"));
    let ring = ScopedCache::builder().max_bytes(1024).build_ring::<u64>();
    let error: ConfigError = ring.err().unwrap();
    assert_eq!(error.setting(), "max_bytes");
    assert!(error.to_string().contains("ring"), "{error}");
    // A bound in bytes alone is a bound: no `max` or `ttl` is needed.
    let cache = ScopedCache::builder()
        .max_bytes(1024)
        .build::<String, u64>()
        .unwrap();
    assert_eq!(cache.max_bytes(), Some(1024));
}

#[test]
fn a_named_cache_bounded_in_bytes_is_reported_under_its_name() {
    let mut tokens = ScopedCache::builder()
        .name("tokens_by_bytes")
        .max_bytes(2048)
        .build::<String, String>()
        .unwrap();
    for i in 0..100 {
        tokens.insert(format!("user-{i}"), "t".repeat(40));
    }
    assert!(tokens.len() < 100);
    let report = leakguard::report();
    assert_eq!(report.group("tokens_by_bytes").unwrap().len, tokens.len());
}
