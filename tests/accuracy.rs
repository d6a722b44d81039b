//! W3 of shared/BENCHMARKS.md: leakguard's byte figures against a counting allocator.
//!
//! Each case builds its structure on this thread and compares what leakguard reports with
//! the bytes the allocator saw requested and not freed. The target is 1.00 +/- 0.01.

use std::collections::HashMap;
use std::sync::Arc;

use leakguard::{HeapSize, Tracked, track_growth};
use leakguard_support::alloc::{Counting, allocated_by, warm_up_registry};

#[global_allocator]
static ALLOC: Counting = Counting;

fn assert_exact(case: &str, estimate: usize, truth: isize) {
    let ratio = estimate as f64 / truth as f64;
    eprintln!("{case}: {estimate} / {truth} = {ratio:.5}");
    assert!(
        (0.99..=1.01).contains(&ratio),
        "{case}: leakguard reads {estimate} B, the allocator {truth} B (ratio {ratio:.4})"
    );
}

fn key(i: usize) -> String {
    format!("key-{i:012}")
}

#[test]
fn c1_string_keyed_map_of_byte_vectors() {
    warm_up_registry();
    let (map, truth) = allocated_by(|| {
        (0..100_000)
            .map(|i| (key(i), vec![7u8; i % 65]))
            .collect::<HashMap<String, Vec<u8>>>()
    });
    assert_exact("c1 deep", map.heap_size(), truth);

    #[track_growth]
    #[derive(Default)]
    struct Store {
        map: HashMap<String, Vec<u8>>,
    }
    let (store, truth) = allocated_by(|| {
        let mut store = Store::default();
        for i in 0..100_000 {
            store.map.insert(key(i), vec![7u8; i % 65]);
        }
        store
    });
    assert_exact("c1 running", Tracked::bytes(&store.map), truth);
    assert_exact("c1 tracked deep", store.heap_size(), truth);
}

#[test]
fn c2_truncated_vector_keeps_its_capacity() {
    warm_up_registry();
    let (v, truth) = allocated_by(|| {
        let mut v: Vec<String> = (0..100_000).map(key).collect();
        v.truncate(10_000);
        v
    });
    assert_exact("c2 deep", v.heap_size(), truth);

    #[track_growth]
    #[derive(Default)]
    struct Log {
        lines: Vec<String>,
    }
    let (log, truth) = allocated_by(|| {
        let mut log = Log::default();
        for i in 0..100_000 {
            log.lines.push(key(i));
        }
        log.lines.truncate(10_000);
        log
    });
    assert_exact("c2 running", Tracked::bytes(&log.lines), truth);
}

#[test]
fn c3_map_after_removing_ninety_percent() {
    warm_up_registry();
    #[track_growth]
    #[derive(Default)]
    struct Index {
        ids: HashMap<u64, u64>,
    }
    let (mut index, truth) = allocated_by(|| {
        let mut index = Index::default();
        for i in 0..1_000_000u64 {
            index.ids.insert(i, i);
        }
        index
    });
    assert_exact("c3 full, running", Tracked::bytes(&index.ids), truth);
    assert_exact("c3 full, deep", index.ids.heap_size(), truth);

    let ((), freed) = allocated_by(|| {
        for i in 0..900_000u64 {
            index.ids.remove(&i);
        }
    });
    // Removing entries frees nothing: the table keeps its buckets.
    assert_eq!(freed, 0);
    assert_eq!(index.ids.len(), 100_000);
    assert_exact(
        "c3 after removals, running",
        Tracked::bytes(&index.ids),
        truth,
    );
    assert_exact("c3 after removals, deep", index.ids.heap_size(), truth);
}

#[test]
fn c4_vector_of_small_maps() {
    warm_up_registry();
    let build = || {
        (0..1000)
            .map(|m| {
                (0..(m % 41))
                    .map(|i| (key(m * 100 + i), format!("value {i}")))
                    .collect::<HashMap<String, String>>()
            })
            .collect::<Vec<_>>()
    };
    let (maps, truth) = allocated_by(build);
    let entries: usize = maps.iter().map(HashMap::len).sum();
    assert!((19_000..=21_000).contains(&entries), "{entries} entries");
    assert_exact("c4 deep", maps.heap_size(), truth);

    #[track_growth]
    #[derive(Default)]
    struct Shards {
        maps: Vec<HashMap<String, String>>,
    }
    let (shards, truth) = allocated_by(|| {
        let mut shards = Shards::default();
        for map in build() {
            shards.maps.push(map);
        }
        shards
    });
    assert_exact("c4 running", Tracked::bytes(&shards.maps), truth);
}

#[test]
fn c4_changes_through_mut_access_are_picked_up_by_the_next_measurement() {
    warm_up_registry();
    #[track_growth]
    #[derive(Default)]
    struct Shards {
        maps: Vec<HashMap<String, String>>,
    }
    let (mut shards, truth) = allocated_by(|| {
        let mut shards = Shards::default();
        shards.maps.resize(1000, HashMap::new());
        // Through `&mut` to the entries: not seen by the running figures as it happens.
        for (m, map) in shards.maps.iter_mut().enumerate() {
            for i in 0..20 {
                map.insert(key(m * 100 + i), format!("value {i}"));
            }
        }
        shards
    });
    assert_exact("c4 measured", Tracked::measure(&mut shards.maps), truth);
    assert_exact(
        "c4 running after measure",
        Tracked::bytes(&shards.maps),
        truth,
    );
}

#[test]
fn c5_shared_pointee_is_counted_once() {
    warm_up_registry();
    let (v, truth) = allocated_by(|| {
        let shared = Arc::new(vec![1u8; 1 << 20]);
        let mut v = Vec::with_capacity(1000);
        for _ in 0..1000 {
            v.push(Arc::clone(&shared));
        }
        v
    });
    assert_exact("c5 deep", v.heap_size(), truth);

    #[track_growth]
    #[derive(Default)]
    struct Blobs {
        blobs: Vec<Arc<Vec<u8>>>,
    }
    let (mut blobs, truth) = allocated_by(|| {
        let shared = Arc::new(vec![1u8; 1 << 20]);
        let mut blobs = Blobs::default();
        for _ in 0..1000 {
            blobs.blobs.push(Arc::clone(&shared));
        }
        blobs
    });
    // Each pushed clone is shared at the time, so the running figure counts the pointee
    // nowhere rather than a thousand times; a measurement counts it once.
    assert!(Tracked::bytes(&blobs.blobs) < truth as usize);
    assert_exact("c5 measured", Tracked::measure(&mut blobs.blobs), truth);
}
