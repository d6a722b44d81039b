//! Changes made inside entries through `&mut` access (`values_mut`, `iter_mut`, `get_mut`,
//! `entry`, `last_mut`, indexing, a helper taking `&mut HashMap`): the next access of any
//! kind sees exact figures, against the counting allocator, and warns there.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};

use leakguard::{HeapSize, Tracked, track_growth};
use leakguard_support::alloc::{Counting, allocated_by, live_bytes, warm_up_registry};
use leakguard_support::capture;

#[global_allocator]
static ALLOC: Counting = Counting;

/// The over-budget warnings so far, as `(collection, bytes)`.
fn over_budget(events: &capture::Events) -> Vec<(String, String)> {
    events
        .of_kind("over_budget")
        .iter()
        .map(|e| {
            (
                e.field("collection")
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string(),
                e.field("bytes").unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The field's figure next to what the allocator saw, printed for the record.
fn assert_exact(case: &str, figure: usize, truth: isize) {
    eprintln!("{case}: leakguard {figure} B, allocator {truth} B");
    assert_eq!(figure as isize, truth, "{case}");
}

#[test]
fn growth_through_values_mut_warns_at_the_next_get_with_exact_bytes() {
    #[track_growth]
    #[derive(Default)]
    struct Sessions {
        #[budget(bytes = "64 KiB")]
        history: HashMap<u64, Vec<u8>>,
    }

    warm_up_registry();
    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let before = live_bytes();
    let mut sessions = Sessions::default();
    for id in 0..500 {
        sessions.history.insert(id, vec![0; 16]);
    }
    assert!(
        over_budget(&events).is_empty(),
        "500 entries of 16 B are under 64 KiB"
    );

    for history in sessions.history.values_mut() {
        history.extend_from_slice(&[1; 200]);
    }
    assert!(
        over_budget(&events).is_empty(),
        "nothing has read the field yet"
    );
    let truth = live_bytes() - before;

    assert_eq!(sessions.history.get(&7).map(Vec::len), Some(216));
    let warnings = over_budget(&events);
    assert_eq!(
        warnings,
        [("Sessions.history".to_string(), truth.to_string())],
        "one warning, at the first get, with the exact bytes"
    );
    assert_exact("values_mut", Tracked::bytes(&sessions.history), truth);
    for id in 0..100 {
        assert!(sessions.history.get(&id).is_some());
    }
    assert_eq!(over_budget(&events).len(), 1, "warns once per crossing");
}

/// A helper written against the plain map, as users write them.
fn fill(map: &mut hashbrown::HashMap<u64, String>, from: u64, to: u64) {
    for id in from..to {
        map.insert(id, format!("user-{id:020}"));
    }
    for name in map.values_mut() {
        name.push_str("-verified");
    }
}

#[test]
fn a_map_filled_through_a_helper_taking_mut_is_exact_at_the_next_access() {
    #[track_growth]
    #[derive(Default)]
    struct Directory {
        names: hashbrown::HashMap<u64, String>,
    }

    warm_up_registry();
    let (mut directory, truth) = allocated_by(|| {
        let mut directory = Directory::default();
        fill(&mut directory.names, 0, 600);
        directory
    });
    assert_exact("helper", Tracked::bytes(&directory.names), truth);
    assert_eq!(directory.names.heap_size() as isize, truth);

    // A second helper call, then a read: exact again.
    let before = live_bytes() - truth;
    fill(&mut directory.names, 600, 700);
    let truth = live_bytes() - before;
    assert!(directory.names.contains_key(&650));
    assert_exact("helper again", Tracked::bytes(&directory.names), truth);
}

#[test]
fn entry_level_access_is_measured_at_the_next_access_of_any_kind() {
    #[track_growth]
    #[derive(Default)]
    struct Board {
        by_id: HashMap<u64, String>,
        ranked: BTreeMap<u64, Vec<u32>>,
        recent: Vec<String>,
        queue: VecDeque<Vec<u8>>,
        counts: HashMap<String, Vec<u64>>,
    }

    warm_up_registry();
    let before = live_bytes();
    let mut board = Board::default();
    for id in 0..200u64 {
        board.by_id.insert(id, String::new());
        // Up to 11 entries a B-tree's node bytes are exact rather than estimated.
        if id < 10 {
            board.ranked.insert(id, Vec::new());
        }
        board.recent.push(String::new());
        board.queue.push_back(Vec::new());
    }
    let figures = |board: &Board| {
        Tracked::bytes(&board.by_id)
            + Tracked::bytes(&board.ranked)
            + Tracked::bytes(&board.recent)
            + Tracked::bytes(&board.queue)
            + Tracked::bytes(&board.counts)
    };
    // Each kind of entry-level `&mut`, each followed by a read of another kind.
    board.by_id.get_mut(&3).unwrap().push_str("three");
    assert_eq!(board.by_id.len(), 200);
    board.ranked.get_mut(&4).unwrap().extend([1, 2, 3]);
    assert!(board.ranked.contains_key(&4));
    board.recent.last_mut().unwrap().push_str("last");
    board.recent[10].push_str("tenth");
    board.recent.get_mut(11).unwrap().push_str("eleventh");
    assert_eq!(board.recent[10], "tenth");
    board.queue.front_mut().unwrap().extend([9; 40]);
    board.queue[5].extend([8; 50]);
    assert_eq!(board.queue.len(), 200);
    for word in ["a", "b", "a", "c", "a"] {
        board
            .counts
            .entry(word.to_string())
            .or_insert_with(Vec::new)
            .push(1);
    }
    board
        .counts
        .entry("b".to_string())
        .and_modify(|v| v.extend([2; 30]));
    assert_eq!(board.counts["a"].len(), 3);
    // Each field's running figure against a walk of it.
    macro_rules! walked {
        ($($field:ident),*) => {$(
            assert_eq!(
                Tracked::bytes(&board.$field),
                board.$field.heap_size(),
                stringify!($field)
            );
        )*};
    }
    walked!(by_id, ranked, recent, queue, counts);
    assert_exact("entry level", figures(&board), live_bytes() - before);
}

#[test]
fn iter_mut_on_a_vec_behind_an_rwlock_is_exact_at_the_next_read() {
    #[track_growth]
    #[derive(Clone, Default)]
    struct Feed {
        #[budget(bytes = "16 KiB")]
        items: Arc<RwLock<Vec<String>>>,
    }

    warm_up_registry();
    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let feed = Feed::default();
    let before = live_bytes();
    for i in 0..100 {
        feed.items.write().unwrap().push(format!("item {i}"));
    }
    for item in feed.items.write().unwrap().iter_mut() {
        item.push_str(&"x".repeat(200));
    }
    let truth = live_bytes() - before;
    let len = feed.items.read().unwrap().len();
    assert_eq!(len, 100);
    assert_eq!(
        over_budget(&events),
        [("Feed.items".to_string(), truth.to_string())]
    );
}

#[test]
fn a_counter_map_filled_through_entry_warns_at_the_next_access() {
    #[track_growth]
    #[derive(Default)]
    struct Hits {
        #[budget(len = 10)]
        by_path: HashMap<u64, u64>,
    }

    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut hits = Hits::default();
    for path in [1, 2, 3, 1, 4, 5, 6, 7, 8, 9, 10, 10, 11] {
        *hits.by_path.entry(path).or_insert(0) += 1;
    }
    assert!(
        events.of_kind("over_budget").is_empty(),
        "the 11th key came in through the last access"
    );
    // The next access, of any kind, warns.
    *hits.by_path.get_mut(&1).unwrap() += 1;
    let warnings = events.of_kind("over_budget");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].field("len"), Some("11"));
    // Counting in place changes no figure and warns no more.
    for path in 1..=11 {
        *hits.by_path.get_mut(&path).unwrap() += 1;
    }
    assert_eq!(hits.by_path.len(), 11);
    assert_eq!(events.of_kind("over_budget").len(), 1);
}
