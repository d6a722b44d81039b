//! A tracked field carries three words beside its collection, and a collection that never
//! changes takes nothing else: no registry slot, no row in the report. What a collection
//! needs once it changes lives in the registry slot it takes then, and goes back with it.
//!
//! One test: the registry's size is read before and after, and another test of this binary
//! taking slots meanwhile would move it.

use std::collections::HashMap;
use std::mem::size_of;

use leakguard::track_growth;

#[track_growth]
#[derive(Default)]
struct Request {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

#[allow(dead_code)]
#[derive(Default)]
struct PlainRequest {
    headers: Vec<(String, String)>,
    params: HashMap<String, String>,
    body: String,
}

/// The registry's own memory, which grows by whole chunks of slots as more collections
/// hold one at once.
fn registry_bytes() -> usize {
    leakguard::report().registry_bytes
}

#[test]
fn untouched_collections_cost_three_words_each_and_no_slot() {
    // Moving the struct copies three collections and three words a field, not the figures.
    let words = if leakguard::ENABLED { 3 } else { 0 };
    assert!(
        size_of::<Request>() <= size_of::<PlainRequest>() + 3 * words * size_of::<usize>(),
        "{} B for a struct of {} B plain",
        size_of::<Request>(),
        size_of::<PlainRequest>()
    );

    // 20,000 collections alive at once that never change: more than a chunk of slots, yet
    // the registry does not grow, and no row appears for them.
    let before = registry_bytes();
    let untouched: Vec<Request> = (0..20_000).map(|_| Request::default()).collect();
    assert_eq!(registry_bytes(), before, "untouched collections took slots");
    assert!(leakguard::report().group("Request.body").is_none());

    // Handed out through `&mut` and read, but left empty: a slot for the state, and still
    // no row, since the collection holds nothing.
    let mut touched: Vec<Request> = (0..2_000).map(|_| Request::default()).collect();
    for request in &mut touched {
        let body: &mut String = &mut request.body;
        assert!(body.is_empty());
        assert!(request.body.is_empty());
    }
    assert!(leakguard::report().group("Request.body").is_none());

    // Filled through that `&mut`: registered at the next read, with what it holds.
    for request in &mut touched {
        let body: &mut String = &mut request.body;
        body.push_str("GET /");
        assert_eq!(request.body.len(), 5);
    }
    if leakguard::ENABLED {
        let report = leakguard::report();
        let body = report
            .group("Request.body")
            .expect("filled bodies registered");
        assert_eq!(body.instances, 2_000);
        assert!(body.bytes >= 2_000 * 5, "{} B", body.bytes);
    }

    // Slots go back as collections are dropped, registered or not: the same scenario again
    // takes no more of them.
    drop(touched);
    assert!(leakguard::report().group("Request.body").is_none());
    let scenario = || {
        let mut again: Vec<Request> = (0..2_000).map(|_| Request::default()).collect();
        for request in &mut again {
            let _ = &mut *request.headers;
            request.params.insert("k".to_string(), "v".to_string());
        }
        drop(again);
    };
    scenario();
    let after_one = registry_bytes();
    for _ in 0..3 {
        scenario();
    }
    assert_eq!(registry_bytes(), after_one, "slots given back were reused");
    drop(untouched);
}
