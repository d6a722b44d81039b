//! Entries that hold far more than they use: the Rust form of "a substring keeps its whole
//! buffer alive".
//!
//! A reader reuses one 4 KiB line buffer and moves it into an index for each ~20-byte
//! record, then reserves a fresh one. Every entry keeps its 4 KiB: the index holds 4 MiB
//! for 18 KB of text. leakguard counts the spare capacity inside the entries as unused and
//! says so with one `INFO` event, `cause="entries"`. Shrinking the strings gives the memory
//! back; storing a copy (`line.clone()`, `Box<str>`) never takes it.
//!
//! ```text
//! cargo run --example oversized_entries
//! ```

use std::collections::HashMap;

use leakguard::{Tracked, track_growth};

#[track_growth]
#[derive(Default)]
struct Index {
    by_id: HashMap<u64, String>,
}

/// Reads the next record into `line`, as a line reader reusing its buffer does.
fn read_record(line: &mut String, id: u64) {
    use std::fmt::Write as _;
    line.clear();
    let _ = write!(line, "id={id:06} name=ada");
}

fn describe(index: &mut Index, when: &str) {
    // `measure` walks the entries: the figures are exact, not the running ones.
    Tracked::measure(&mut index.by_id);
    let report = leakguard::report();
    let group = report.group("Index.by_id").expect("the index is live");
    println!(
        "{when:<34} {:>5} entries, {:>9} bytes, {:>9} unused",
        group.len, group.bytes, group.unused_bytes,
    );
}

fn main() {
    tracing_subscriber::fmt().init();

    let mut index = Index::default();
    let mut line = String::with_capacity(4096);
    for id in 0..1_000 {
        read_record(&mut line, id);
        // Moves the whole 4 KiB buffer into the map.
        index.by_id.insert(id, std::mem::take(&mut line));
        line.reserve(4096);
    }
    describe(&mut index, "moved the read buffer in:");

    // The fix for what is already stored: shrink every entry in place.
    for text in index.by_id.values_mut() {
        text.shrink_to_fit();
    }
    describe(&mut index, "after shrinking every entry:");

    // The fix at the source: store a copy, which is exactly as long as its text.
    index = Index::default();
    for id in 0..1_000 {
        read_record(&mut line, id);
        index.by_id.insert(id, line.clone());
    }
    describe(&mut index, "stored line.clone() instead:");
}
