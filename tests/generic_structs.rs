//! A generic `#[track_growth]` struct: each instantiation is a collection of its own, named
//! as the type is written, with its own row and budget warnings; `Default` and `Clone`
//! derive without a `HeapSize` bound written on the struct.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use leakguard::{Tracked, track_growth};
use leakguard_support::capture;

#[track_growth]
#[derive(Clone, Debug, Default)]
struct Registry<K: Eq + Hash, V> {
    #[budget(len = 100)]
    map: HashMap<K, V>,
}

#[track_growth]
#[derive(Default)]
struct Ring<T, const N: usize> {
    items: Vec<T>,
}

/// `Default` derived above `#[track_growth]`, where it sees the fields before they are
/// tracked.
#[derive(Default)]
#[track_growth]
struct Pool<T> {
    free: Vec<T>,
}

/// A service's state, shared between its handlers.
#[derive(Default)]
struct State {
    ids: RwLock<Registry<u64, String>>,
    blobs: RwLock<Registry<String, Vec<u8>>>,
}

#[test]
fn each_instantiation_has_its_own_row_and_budget_warning() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = Arc::new(State::default());
    for i in 0..150u64 {
        state.ids.write().unwrap().map.insert(i, format!("id-{i}"));
        state
            .blobs
            .write()
            .unwrap()
            .map
            .insert(format!("blob-{i}"), vec![0; 16]);
    }
    assert_eq!(
        events.leakguard_messages(),
        [
            "Registry<u64, String>.map over len budget: 101 entries > 100",
            "Registry<String, Vec<u8>>.map over len budget: 101 entries > 100",
        ]
    );
    assert_eq!(
        Tracked::name(&state.ids.read().unwrap().map),
        "Registry<u64, String>.map"
    );

    let report = leakguard::report();
    print!("{report}");
    for name in ["Registry<u64, String>.map", "Registry<String, Vec<u8>>.map"] {
        let group = report
            .group(name)
            .unwrap_or_else(|| panic!("no row {name}"));
        assert_eq!((group.instances, group.len, group.over_budget), (1, 150, 1));
    }
    assert!(report.group("Registry.map").is_none());
    let ids = report.group("Registry<u64, String>.map").unwrap();
    let blobs = report.group("Registry<String, Vec<u8>>.map").unwrap();
    assert_eq!(ids.bytes, Tracked::bytes(&state.ids.read().unwrap().map));
    assert_eq!(
        blobs.bytes,
        Tracked::bytes(&state.blobs.read().unwrap().map)
    );
}

#[test]
fn a_clone_is_tracked_as_the_same_instantiation() {
    let mut names = Registry::<u32, String>::default();
    names.map.insert(1, "one".to_string());
    let copy = names.clone();
    assert_eq!(copy.map.get(&1).map(String::as_str), Some("one"));
    let report = leakguard::report();
    let group = report.group("Registry<u32, String>.map").unwrap();
    assert_eq!((group.instances, group.len), (2, 2));
}

#[test]
fn const_parameters_name_the_instantiation_too() {
    let mut small = Ring::<u8, 4>::default();
    small.items.push(1);
    let mut large = Ring::<u8, 64>::default();
    large.items.push(2);
    assert_eq!(Tracked::name(&small.items), "Ring<u8, 4>.items");
    assert_eq!(Tracked::name(&large.items), "Ring<u8, 64>.items");
}

#[test]
fn default_derives_above_the_attribute_without_a_bound() {
    let mut pool = Pool::<Vec<u8>>::default();
    pool.free.push(vec![0; 100]);
    assert_eq!(Tracked::name(&pool.free), "Pool<Vec<u8>>.free");
    assert_eq!(
        Tracked::bytes(&pool.free),
        pool.free.capacity() * size_of::<Vec<u8>>() + 100
    );
}
