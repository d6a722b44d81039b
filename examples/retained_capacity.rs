//! Maps keep their capacity after deletes: the Rust form of "map buckets never shrink".
//!
//! A session index fills up during a busy hour, then nearly all sessions end. The map now
//! holds a few entries in storage sized for two hundred thousand, and leakguard says so
//! with one `INFO` event. `shrink_to_fit` gives the memory back.
//!
//! ```text
//! cargo run --example retained_capacity
//! ```

use std::collections::HashMap;

use leakguard::{Tracked, track_growth};

#[track_growth]
#[derive(Default)]
struct SessionIndex {
    by_id: HashMap<u64, [u8; 32]>,
}

fn describe(index: &SessionIndex, when: &str) {
    println!(
        "{when:<24} {:>7} sessions, capacity {:>7}, {:>9} bytes",
        index.by_id.len(),
        index.by_id.capacity(),
        Tracked::bytes(&index.by_id),
    );
}

fn main() {
    tracing_subscriber::fmt().init();

    let mut index = SessionIndex::default();
    for id in 0..200_000 {
        index.by_id.insert(id, [7; 32]);
    }
    describe(&index, "busy hour:");

    // Nearly every session ends.
    for id in 0..199_000 {
        index.by_id.remove(&id);
    }
    describe(&index, "after the sessions end:");

    index.by_id.shrink_to_fit();
    describe(&index, "after shrink_to_fit:");
}
