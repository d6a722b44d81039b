//! Model-based property test of scoped caches: random insert, get, remove, retain, purge
//! and clock moves against a plain map of what was written when, for caches bounded in
//! entries, in bytes, in age, and several at once.
//!
//! Which entry quick_cache evicts is its policy's choice, so the model checks that every
//! answer the cache gives is allowed: a value it returns is the last one written for that
//! key and has not expired. Without `max` nothing is evicted, and the cache must then agree
//! with the model exactly.

use std::collections::HashMap;
use std::time::Duration;

use leakguard::{HeapSize, ManualClock, Tracked, track_growth};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, usize),
    Get(u8),
    GetOrInsert(u8, usize),
    Remove(u8),
    RetainEven,
    Purge,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..24, 0usize..40).prop_map(|(k, n)| Op::Insert(k, n)),
        4 => (0u8..24).prop_map(Op::Get),
        1 => (0u8..24, 0usize..40).prop_map(|(k, n)| Op::GetOrInsert(k, n)),
        2 => (0u8..24).prop_map(Op::Remove),
        1 => Just(Op::RetainEven),
        1 => Just(Op::Purge),
        3 => (0u64..40).prop_map(Op::Advance),
    ]
}

// Each field gets its bounds from the attribute; the test drives all three shapes.
#[track_growth]
#[derive(Default)]
struct Caches {
    #[scoped_cache(max = 8, ttl = "20ms")]
    both: HashMap<String, String>,
    #[scoped_cache(max = 8)]
    bounded: HashMap<String, String>,
    #[scoped_cache(ttl = "20ms")]
    expiring: HashMap<String, String>,
    #[scoped_cache(max_bytes = "1 KiB")]
    weighed: HashMap<String, String>,
    #[scoped_cache(max_bytes = "1 KiB", ttl = "20ms")]
    weighed_expiring: HashMap<String, String>,
}

/// The bound of the weighed fields, and what one entry weighs there: what its key and
/// value hold, and the pair itself.
const MAX_BYTES: usize = 1024;

fn entry_bytes(k: &String, v: &String) -> usize {
    size_of::<(String, String)>() + k.capacity() + v.capacity()
}

/// What was written, and when, per key.
#[derive(Default)]
struct Model {
    written: HashMap<String, (String, u64)>,
    gets: u64,
    hits: u64,
}

const TTL: u64 = 20;

fn key(k: u8) -> String {
    format!("key-{k}")
}

fn value(k: u8, n: usize) -> String {
    format!("{k}:{}", "v".repeat(n))
}

/// Checks one field after each step.
fn check<const I: usize>(
    cache: &Tracked<leakguard::ScopedCache<String, String>, Caches, I>,
    model: &Model,
    now: u64,
    max: Option<usize>,
    ttl: Option<u64>,
) -> Result<(), TestCaseError> {
    if let Some(max) = max {
        prop_assert!(cache.len() <= max, "len {} over max {max}", cache.len());
    }
    if cache.max_bytes().is_some() {
        let held: usize = cache.iter().map(|(k, v)| entry_bytes(k, v)).sum();
        prop_assert!(held <= MAX_BYTES, "{held} B over max_bytes {MAX_BYTES}");
    }
    for (k, v) in cache.iter() {
        let (written, at) = model
            .written
            .get(k)
            .ok_or_else(|| TestCaseError::fail(format!("{k} was never written")))?;
        prop_assert_eq!(v, written, "{} returned a stale value", k);
        if let Some(ttl) = ttl {
            prop_assert!(
                now < at + ttl,
                "{k} returned at {now}, written at {at}, ttl {ttl}"
            );
        }
    }
    if max.is_none() {
        let live = model
            .written
            .iter()
            .filter(|(_, (_, at))| ttl.is_none_or(|ttl| now < at + ttl))
            .count();
        prop_assert_eq!(
            cache.iter().count(),
            live,
            "without max, the live entries are the model's"
        );
    }
    let stats = cache.stats();
    prop_assert_eq!(stats.hits, model.hits);
    prop_assert_eq!(stats.hits + stats.misses, model.gets);
    prop_assert_eq!(
        stats.insertions,
        stats.evictions + stats.expirations + stats.removals + cache.len() as u64,
        "stats add up"
    );
    if max.is_none() {
        prop_assert_eq!(stats.evictions, 0);
    }
    // Running figures against a full walk, and the walk against the sum of its entries.
    prop_assert_eq!(Tracked::bytes(cache), cache.heap_size());
    Ok(())
}

fn run<const I: usize>(
    field: fn(&mut Caches) -> &mut Tracked<leakguard::ScopedCache<String, String>, Caches, I>,
    max: Option<usize>,
    ttl: Option<u64>,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let mut caches = Caches::default();
    let mut model = Model::default();
    let mut now = 0;
    let expired = |at: u64, now: u64| ttl.is_some_and(|ttl| now >= at + ttl);
    for op in ops {
        let cache = field(&mut caches);
        match op.clone() {
            Op::Insert(k, n) => {
                let old = cache.insert(key(k), value(k, n));
                let expected = model
                    .written
                    .get(&key(k))
                    .filter(|(_, at)| !expired(*at, now));
                if let Some(old) = &old {
                    prop_assert_eq!(Some(old), expected.map(|(v, _)| v), "replaced value");
                }
                if max.is_none() {
                    prop_assert_eq!(old.as_ref(), expected.map(|(v, _)| v));
                }
                model.written.insert(key(k), (value(k, n), now));
            }
            Op::Get(k) => {
                let got = cache.get(&key(k)).cloned();
                model.gets += 1;
                if got.is_some() {
                    model.hits += 1;
                }
                let live = model
                    .written
                    .get(&key(k))
                    .filter(|(_, at)| !expired(*at, now));
                if let Some(got) = &got {
                    prop_assert_eq!(Some(got), live.map(|(v, _)| v));
                } else if max.is_none() {
                    prop_assert!(live.is_none(), "without max a live entry is found");
                }
            }
            Op::GetOrInsert(k, n) => {
                let hits = cache.stats().hits;
                let got = cache.get_or_insert_with(key(k), || value(k, n)).clone();
                model.gets += 1;
                let live = model
                    .written
                    .get(&key(k))
                    .filter(|(_, at)| !expired(*at, now))
                    .cloned();
                // A value equal to an evicted one may be inserted again, so whether this was a
                // hit comes from the cache; the model checks that the value is the right one.
                if cache.stats().hits > hits {
                    model.hits += 1;
                    prop_assert_eq!(Some(&got), live.as_ref().map(|(v, _)| v));
                } else {
                    if max.is_none() {
                        prop_assert!(live.is_none(), "without max a live entry is found");
                    }
                    prop_assert_eq!(&got, &value(k, n));
                    model.written.insert(key(k), (got, now));
                }
            }
            Op::Remove(k) => {
                let removed = cache.remove(&key(k));
                let live = model
                    .written
                    .remove(&key(k))
                    .filter(|(_, at)| !expired(*at, now));
                if let Some(removed) = &removed {
                    prop_assert_eq!(Some(removed), live.as_ref().map(|(v, _)| v));
                } else if max.is_none() {
                    prop_assert!(live.is_none());
                }
            }
            Op::RetainEven => {
                cache.retain(|k, _| k.ends_with(['0', '2', '4', '6', '8']));
                model
                    .written
                    .retain(|k, _| k.ends_with(['0', '2', '4', '6', '8']));
            }
            Op::Purge => {
                cache.purge_expired();
                prop_assert_eq!(cache.expired_len(), 0);
            }
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
                now += ms;
            }
        }
        check(field(&mut caches), &model, now, max, ttl)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn bounded_and_expiring(ops in prop::collection::vec(op(), 1..200)) {
        run(|c| &mut c.both, Some(8), Some(TTL), &ops)?;
    }

    #[test]
    fn bounded_only(ops in prop::collection::vec(op(), 1..200)) {
        run(|c| &mut c.bounded, Some(8), None, &ops)?;
    }

    #[test]
    fn expiring_only(ops in prop::collection::vec(op(), 1..200)) {
        run(|c| &mut c.expiring, None, Some(TTL), &ops)?;
    }

    // Bounded in bytes: evictions allowed, as under `max`, and the bytes checked.
    #[test]
    fn weighed_only(ops in prop::collection::vec(op(), 1..200)) {
        run(|c| &mut c.weighed, Some(usize::MAX), None, &ops)?;
    }

    #[test]
    fn weighed_and_expiring(ops in prop::collection::vec(op(), 1..200)) {
        run(|c| &mut c.weighed_expiring, Some(usize::MAX), Some(TTL), &ops)?;
    }
}
