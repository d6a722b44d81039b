//! When a shared cache publishes its figures.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::SharedCache;
use crate::harness;

fn publications<K, V, S>(cache: &SharedCache<K, V, S>) -> usize {
    cache.publications.load(Relaxed)
}

#[test]
#[cfg_attr(miri, ignore = "200,000 inserts, and no unsafe code of its own")]
fn lookups_and_inserts_that_leave_the_bytes_as_they_were_publish_nothing() {
    if !crate::mode::ENABLED {
        return;
    }
    // Room for all 1,000 keys in every shard.
    let cache: SharedCache<u64, u64> = SharedCache::builder().max(4_000).build().unwrap();
    for i in 0..1_000 {
        cache.insert(i, i);
    }
    // At the first insert and at every 64th as it grew.
    let filled = publications(&cache);
    assert!(filled >= 1_000 / 64, "{filled}");
    // A test check elsewhere in the process publishes at every operation.
    let checked = harness::active();
    // The first 64th insert after the last growth publishes the entries added since.
    for i in 0..1_000 {
        cache.insert(i, i + 1);
    }
    if !checked && !harness::active() {
        assert_eq!(publications(&cache), filled + 1);
    }
    let filled = publications(&cache);
    for _ in 0..10 {
        for i in 0..1_000 {
            assert!(cache.get(&i).is_some());
            // Full, and the same size: replaced, nothing moves.
            cache.insert(i, i + 1);
        }
        assert!(cache.get(&1_000_000).is_none());
    }
    if !checked && !harness::active() {
        assert_eq!(publications(&cache), filled);
    }
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (10_000, 10));
    assert_eq!((stats.insertions, stats.evictions), (1_000, 0));
    assert_eq!(cache.bytes(), 1_000 * 2 * size_of::<u64>());
    // Full: new keys evict old ones of their size, and there is nothing to publish.
    for i in 1_000..100_000 {
        cache.insert(i, i);
    }
    // Its length may have moved since its last publication: one more brings it up to date.
    for i in 100_000..100_064 {
        cache.insert(i, i);
    }
    let full = publications(&cache);
    let len = cache.len();
    for i in 100_000..200_000 {
        cache.insert(i, i);
    }
    if !checked && !harness::active() {
        assert_eq!(publications(&cache), full);
    }
    assert_eq!(cache.len(), len);
    // 200,000 keys went in; each of the 64 put in twice in a row may have been evicted in
    // between (the shards' hashers are seeded at random) and gone in again.
    let evictions = cache.stats().evictions;
    let least = 200_000 - len as u64;
    assert!(
        (least..=least + 64).contains(&evictions),
        "{evictions}, {least}"
    );
    // Removals shrink the cache: published at the first and every 64th.
    let mut held = Vec::new();
    cache.for_each(|key, _| held.push(*key));
    let removed = held.len().min(640);
    for key in &held[..removed] {
        assert!(cache.remove(key).is_some());
    }
    assert!(removed > 600, "{removed}");
    assert!(
        publications(&cache) >= full + 10,
        "{}",
        publications(&cache)
    );
    assert_eq!(cache.bytes(), cache.len() * 2 * size_of::<u64>());
    assert_eq!(cache.stats().removals, removed as u64);
}

#[test]
#[cfg_attr(miri, ignore = "20,000 inserts, and no unsafe code of its own")]
fn evicted_entries_that_need_no_drop_still_free_their_expiry_records() {
    // `u64` keys and values need no drop, so an evicted entry is kept past the shard lock
    // only for its expiry record; nothing is due for an hour, so no sweep frees any.
    let cache: SharedCache<u64, u64> = SharedCache::builder()
        .max(1_000)
        .ttl(Duration::from_secs(3_600))
        .build()
        .unwrap();
    for i in 0..20_000 {
        cache.insert(i, i);
    }
    let records = cache
        .timelines
        .get()
        .expect("made with the first entry")
        .records();
    assert_eq!(records, cache.len(), "one record per entry held");
    assert!(cache.len() <= 1_000, "{}", cache.len());
    assert_eq!(cache.stats().evictions, 20_000 - cache.len() as u64);
}
