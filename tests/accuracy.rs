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

/// Owns heap, but does not implement `HeapSize`: leakguard cannot count it.
struct Opaque(#[allow(dead_code)] Vec<u8>);

#[test]
fn a_struct_counts_every_field_that_owns_heap_tracked_or_not() {
    warm_up_registry();
    #[track_growth]
    #[derive(Default)]
    struct Inbox {
        #[budget(len = 100)]
        messages: Vec<String>,
        #[track(skip)]
        scratch: Vec<u8>,
        label: Option<Box<str>>,
        count: u64,
    }
    let (inbox, truth) = allocated_by(|| {
        let mut inbox = Inbox::default();
        for i in 0..200 {
            inbox.messages.push(format!("message {i}"));
        }
        inbox.scratch = vec![0; 300];
        inbox.label = Some("inbox".into());
        inbox.count = 200;
        inbox
    });
    // The skipped `Vec<u8>` of 300 bytes is the allocator's, so it is the struct's too.
    assert_exact("track(skip) counted", inbox.heap_size(), truth);
    assert_eq!(
        inbox.heap_size(),
        Tracked::bytes(&inbox.messages) + 300 + 5,
        "the tracked field's bytes, the skipped field's 300, the label's 5"
    );

    #[track_growth]
    #[derive(Default)]
    struct Partly {
        #[heap_size(skip)]
        lines: Vec<String>,
        #[heap_size(skip)]
        cache: Vec<u8>,
        #[heap_size(with = opaque_bytes)]
        opaque: Option<Opaque>,
        blob: Option<Opaque>,
    }
    fn opaque_bytes(opaque: &Option<Opaque>) -> usize {
        opaque.as_ref().map_or(0, |o| o.0.capacity())
    }
    let mut partly = Partly::default();
    partly.lines.push("not counted".to_string());
    partly.cache = vec![0; 64].into();
    partly.opaque = Some(Opaque(vec![0; 128]));
    partly.blob = Some(Opaque(vec![0; 256]));
    // `heap_size(skip)` leaves a field out, tracked or not; `with` measures it by hand; a
    // type that does not implement `HeapSize` counts nothing and needs no attribute.
    assert_eq!(partly.heap_size(), 128);
    // The skipped collection is still tracked: skip is about the struct's figure only.
    assert_eq!(Tracked::name(&partly.lines), "Partly.lines");
}

#[test]
fn c6_tracked_structs_nested_in_a_tracked_collection_add_up() {
    warm_up_registry();
    #[track_growth]
    #[derive(Default)]
    struct Session {
        tags: Vec<String>,
        user: String,
        #[track(skip)]
        scratch: Vec<u8>,
        token: Option<String>,
        id: u64,
    }
    #[track_growth]
    #[derive(Default)]
    struct Sessions {
        live: Vec<Session>,
        by_user: HashMap<String, u64>,
    }
    // Two thousand collections register below: let the registry make room for them first,
    // so that its own chunks, leakguard's memory, are not counted as the sessions'.
    let room: Vec<Session> = (0..5_000)
        .map(|i| {
            let mut session = Session::default();
            session.user.push_str(&key(i));
            session
        })
        .collect();
    drop(room);
    let (mut sessions, truth) = allocated_by(|| {
        let mut sessions = Sessions::default();
        for i in 0..1_000u64 {
            let mut session = Session::default();
            for t in 0..(i % 5) {
                session.tags.push(format!("tag-{t}"));
            }
            session.user.push_str(&key(i as usize));
            session.scratch = vec![0; (i % 64) as usize];
            session.token = (i % 2 == 0).then(|| format!("token-{i}").into());
            session.id = i;
            sessions.by_user.insert(key(i as usize), i);
            sessions.live.push(session);
        }
        sessions
    });
    assert_exact("c6 deep", sessions.heap_size(), truth);
    let measured = Tracked::measure(&mut sessions.live) + Tracked::measure(&mut sessions.by_user);
    assert_exact("c6 measured", measured, truth);
}

/// c7: c1's map as hashbrown's, the table behind std's: exact.
#[test]
fn c7_hashbrown_map() {
    warm_up_registry();
    let (map, truth) = allocated_by(|| {
        (0..100_000)
            .map(|i| (key(i), vec![7u8; i % 65]))
            .collect::<hashbrown::HashMap<String, Vec<u8>>>()
    });
    assert_exact("c7 hashbrown deep", map.heap_size(), truth);

    #[track_growth]
    #[derive(Default)]
    struct Store {
        map: hashbrown::HashMap<String, Vec<u8>>,
    }
    let (store, truth) = allocated_by(|| {
        let mut store = Store::default();
        for i in 0..100_000 {
            store.map.insert(key(i), vec![7u8; i % 65]);
        }
        store
    });
    assert_exact("c7 hashbrown running", Tracked::bytes(&store.map), truth);
}

/// c8: c1's map as an `IndexMap`: entries in a vector beside a table of indices, which
/// indexmap keeps at the same capacity.
#[test]
fn c8_indexmap() {
    let (map, truth) = allocated_by(|| {
        (0..100_000)
            .map(|i| (key(i), vec![7u8; i % 65]))
            .collect::<indexmap::IndexMap<String, Vec<u8>>>()
    });
    assert_exact("c8 indexmap", map.heap_size(), truth);
}

/// c9: small vectors, inline up to 4 and spilled past it: exact.
#[test]
fn c9_smallvec() {
    let (values, truth) = allocated_by(|| {
        (0..100_000u32)
            .map(|i| (0..i % 9).collect::<smallvec::SmallVec<[u32; 4]>>())
            .collect::<Vec<_>>()
    });
    assert_exact("c9 smallvec", values.heap_size(), truth);
}

/// c10: a JSON document as serde_json's `Value`: objects are B-trees (serde_json's
/// `preserve_order` makes them `IndexMap`s, which leakguard does not see).
#[test]
fn c10_serde_json_value() {
    let text = serde_json::to_string(
        &(0..2_000)
            .map(|i| {
                serde_json::json!({
                    "id": i,
                    "name": key(i),
                    "tags": ["a", "b", key(i)],
                    "nested": {"score": i * 2, "label": "x".repeat(i % 40)},
                })
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let (value, truth) = allocated_by(|| serde_json::from_str::<serde_json::Value>(&text).unwrap());
    assert_exact("c10 serde_json", value.heap_size(), truth);
}

/// c11: a foreign element type leakguard has no `HeapSize` for (http's `HeaderValue`,
/// which holds a copy of its bytes), measured with `#[heap_size(value = ..)]` and
/// `#[heap_size(each = ..)]`: exact when the function is.
#[test]
fn c11_foreign_elements_measured_by_a_function() {
    use axum::http::HeaderValue;

    fn header_bytes(value: &HeaderValue) -> usize {
        value.len()
    }

    #[track_growth]
    #[derive(Default)]
    struct Clients {
        #[heap_size(value = header_bytes)]
        agents: HashMap<String, HeaderValue>,
        #[heap_size(each = header_bytes)]
        recent: Vec<HeaderValue>,
    }
    warm_up_registry();
    let agent =
        |i: usize| HeaderValue::from_str(&format!("client/{i}.{}", "x".repeat(i % 50))).unwrap();
    let (mut clients, truth) = allocated_by(|| {
        let mut clients = Clients::default();
        for i in 0..100_000 {
            clients.agents.insert(key(i), agent(i));
            clients.recent.push(agent(i));
        }
        clients
    });
    assert_exact("c11 foreign deep", clients.heap_size(), truth);
    let measured = Tracked::measure(&mut clients.agents) + Tracked::measure(&mut clients.recent);
    assert_exact("c11 foreign measured", measured, truth);
}

/// bytes: `BytesMut` by its capacity, exactly; `Bytes` by its length, which is the whole
/// buffer for one made from a `Vec` of the same length.
#[test]
fn bytes_buffers_by_capacity_and_by_length() {
    let (buffer, truth) = allocated_by(|| bytes::BytesMut::with_capacity(64 * 1024));
    assert_exact("BytesMut", buffer.heap_size(), truth);
    let frozen = bytes::Bytes::from(vec![1u8; 4096]);
    assert_eq!(frozen.heap_size(), 4096);
    assert_eq!(bytes::Bytes::from_static(b"static").heap_size(), 6);
}

/// parking_lot's and tokio's locks are measured without blocking: a held lock counts
/// nothing rather than waiting.
#[test]
fn locks_of_other_crates_are_measured_without_blocking() {
    let lock = parking_lot::Mutex::new(vec![0u8; 100]);
    assert_eq!(lock.heap_size(), 100);
    let guard = lock.lock();
    assert_eq!(lock.heap_size(), 0);
    drop(guard);
    let lock = tokio::sync::RwLock::new(vec![0u8; 100]);
    assert_eq!(lock.heap_size(), 100);
    let guard = lock.try_write().unwrap();
    assert_eq!(lock.heap_size(), 0);
    drop(guard);
}
