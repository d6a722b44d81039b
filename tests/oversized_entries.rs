//! Entries that hold far more than they use: a short string that kept a 4 KiB read buffer,
//! a pooled 64 KiB buffer holding a short message. leakguard's `unused` figure counts the
//! spare capacity inside entries, at any depth, and the hoarded-capacity detector names it.
//!
//! The truth is the counting allocator: the unused bytes of a value are exactly what
//! shrinking everything in it to fit gives back.

use std::collections::HashMap;
use std::time::Duration;

use leakguard::{HeapSize, HeapUsage, Measurement, Tracked, track_growth};
use leakguard_support::alloc::{Counting, allocated_by, live_bytes, warm_up_registry};
use leakguard_support::capture::{self, Events};
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `shrink` and returns the bytes it gave back to the allocator.
fn freed_by(shrink: impl FnOnce()) -> usize {
    let before = live_bytes();
    shrink();
    usize::try_from(before - live_bytes()).expect("shrinking allocated")
}

/// `n` bytes of text in a buffer of `capacity`, as a reused read buffer leaves it.
fn text_in(n: usize, capacity: usize) -> String {
    let mut s = String::with_capacity(capacity);
    s.extend(std::iter::repeat_n('x', n));
    s
}

#[test]
fn a_string_and_a_byte_vector_report_as_unused_what_shrinking_frees() {
    let (mut line, truth) = allocated_by(|| text_in(20, 4096));
    let usage = line.heap_usage();
    assert_eq!(usage.bytes as isize, truth);
    assert_eq!(usage.unused, freed_by(|| line.shrink_to_fit()));
    assert_eq!(line.heap_usage(), HeapUsage::used(20));

    let (mut buffer, truth) = allocated_by(|| {
        let mut buffer = Vec::<u8>::with_capacity(64 * 1024);
        buffer.extend_from_slice(b"GET /health HTTP/1.1\r\n\r\n");
        buffer
    });
    let usage = buffer.heap_usage();
    assert_eq!(usage.bytes as isize, truth);
    assert_eq!(usage.unused, 64 * 1024 - 24);
    assert_eq!(usage.unused, freed_by(|| buffer.shrink_to_fit()));
    assert_eq!(buffer.heap_usage().unused, 0);
}

#[track_growth]
#[derive(Default)]
struct Index {
    by_id: HashMap<u64, Vec<String>>,
}

/// Shrinks every vector and string in the map's values, in place.
fn shrink_values(map: &mut HashMap<u64, Vec<String>>) {
    for tags in map.values_mut() {
        for tag in tags.iter_mut() {
            tag.shrink_to_fit();
        }
        tags.shrink_to_fit();
    }
}

/// The group's published figures, within the 0.1% step they are published in.
fn assert_published(collection: &str, bytes: usize, unused: usize) {
    let report = leakguard::report();
    let group = report.group(collection).expect("the collection is live");
    for (what, published, truth) in [
        ("bytes", group.bytes, bytes),
        ("unused", group.unused_bytes, unused),
    ] {
        let ratio = published as f64 / truth as f64;
        assert!(
            (0.995..=1.005).contains(&ratio),
            "{collection} {what}: published {published}, truth {truth}"
        );
    }
}

#[test]
fn strings_nested_in_a_map_count_their_spare_capacity_as_they_go_in_and_after_a_walk() {
    warm_up_registry();
    let (mut index, truth) = allocated_by(|| {
        let mut index = Index::default();
        for id in 0..2_000u64 {
            let mut tags = Vec::with_capacity(8);
            tags.push(text_in(12, 256));
            tags.push(text_in(30, 64));
            index.by_id.insert(id, tags);
        }
        index
    });
    let storage_unused = index.by_id.footprint().unwrap().unused_bytes();
    let deep = index.by_id.heap_usage();
    assert_eq!(deep.bytes as isize, truth);

    // The running figures, kept as each entry went in, without a walk.
    assert_published("Index.by_id", deep.bytes, deep.unused);

    // Replacing half of the values with tight ones takes their spare capacity out.
    for id in 0..1_000u64 {
        index.by_id.insert(id, vec!["tight".to_string()]);
    }
    let deep = index.by_id.heap_usage();
    assert_published("Index.by_id", deep.bytes, deep.unused);

    // What the entries do not use is exactly what shrinking them frees; the table's own
    // spare room is what stays unused.
    let entries_unused = deep.unused - storage_unused;
    assert!(entries_unused > 2_000 * 200, "{deep:?}");
    assert_eq!(freed_by(|| shrink_values(&mut index.by_id)), entries_unused);

    // Changed through `&mut`, the figures catch up on a later access; `measure` makes them
    // exact at once.
    let bytes = Tracked::measure(&mut index.by_id);
    assert_eq!(bytes, index.by_id.heap_size());
    let report = leakguard::report();
    let group = report.group("Index.by_id").unwrap();
    assert_eq!(group.bytes, bytes);
    assert_eq!(group.unused_bytes, storage_unused);
}

/// A value type of the service, measured by the derive.
#[derive(HeapSize)]
struct Message {
    topic: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    #[heap_size(skip)]
    _retries: u32,
}

#[track_growth]
#[derive(Default)]
struct Outbox {
    pending: Vec<Message>,
}

#[test]
fn a_derived_value_type_reports_the_spare_capacity_of_its_fields() {
    warm_up_registry();
    let (mut outbox, truth) = allocated_by(|| {
        let mut outbox = Outbox::default();
        for i in 0..500 {
            let mut body = Vec::with_capacity(64 * 1024);
            body.extend_from_slice(format!("payload {i}").as_bytes());
            outbox.pending.push(Message {
                topic: "orders".to_string(),
                body,
                headers: vec![(text_in(4, 128), "1".to_string())],
                _retries: 0,
            });
        }
        outbox
    });
    let deep = outbox.pending.heap_usage();
    assert_eq!(deep.bytes as isize, truth);
    assert_published("Outbox.pending", deep.bytes, deep.unused);

    let storage_unused = outbox.pending.footprint().unwrap().unused_bytes();
    let freed = freed_by(|| {
        for message in outbox.pending.iter_mut() {
            message.body.shrink_to_fit();
            for (name, _) in message.headers.iter_mut() {
                name.shrink_to_fit();
            }
        }
    });
    assert_eq!(freed, deep.unused - storage_unused);
    Tracked::measure(&mut outbox.pending);
    let report = leakguard::report();
    assert_eq!(
        report.group("Outbox.pending").unwrap().unused_bytes,
        storage_unused
    );
}

/// A value type whose `HeapSize` was written by hand before `heap_usage_in` existed.
struct Legacy {
    blob: Box<[u8]>,
}

impl HeapSize for Legacy {
    fn heap_size(&self) -> usize {
        self.blob.len()
    }
}

#[test]
fn an_impl_written_before_unused_bytes_existed_still_counts_every_byte_as_used() {
    let legacy = vec![Legacy {
        blob: vec![1; 100].into_boxed_slice(),
    }];
    let usage = legacy.heap_usage_in(&mut Measurement::new());
    assert_eq!(usage.bytes, size_of::<Legacy>() + 100);
    assert_eq!(usage.unused, 0);
}

/// A subscriber recording every event, with the leakguard layer and no rate limit.
fn subscriber() -> (impl tracing::Subscriber + Send + Sync, Events) {
    let (capture, events) = capture::layer();
    let layer = leakguard::layer().rate_limit(Duration::ZERO);
    (
        tracing_subscriber::registry().with(capture).with(layer),
        events,
    )
}

/// The length of every record [`read_record`] reads.
const RECORD: usize = "id=000000 name=ada".len();

/// Fills `line` with a record of 18 bytes, as a reader reusing its buffer does.
fn read_record(line: &mut String, id: u64) {
    line.clear();
    line.push_str(&format!("id={id:06} name=ada"));
}

#[track_growth]
#[derive(Default)]
struct ByLine {
    by_id: HashMap<u64, String>,
}

#[test]
fn strings_that_kept_their_read_buffer_are_reported_as_entries_hoarding() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut index = ByLine::default();
    let mut line = String::with_capacity(4096);
    for id in 0..1_000 {
        read_record(&mut line, id);
        index.by_id.insert(id, std::mem::take(&mut line));
        line.reserve(4096);
    }
    let hoarded = events.of_kind("hoarded_capacity");
    assert_eq!(hoarded.len(), 1, "{hoarded:#?}");
    let event = &hoarded[0];
    assert_eq!(event.field("cause"), Some("\"entries\""));
    let len: usize = event.field("len").unwrap().parse().unwrap();
    let unused: usize = event.field("unused_bytes").unwrap().parse().unwrap();
    // Reported as the entries cross 1 MiB unused: some 256 of them.
    assert!((1 << 20..(1 << 20) + 8192).contains(&unused), "{event:#?}");
    assert_eq!(unused, len * (4096 - RECORD), "{event:#?}");
    assert_eq!(
        event.message,
        format!(
            "ByLine.by_id: {len} entries hold 1 MiB they do not use: their strings or buffers \
             were built with a larger capacity than they need; shrink them or copy them before \
             storing"
        )
    );

    // The whole map: 1,000 entries, 3.9 MiB of it unused.
    Tracked::measure(&mut index.by_id);
    let report = leakguard::report();
    let group = report.group("ByLine.by_id").unwrap();
    let storage_unused = index.by_id.footprint().unwrap().unused_bytes();
    assert_eq!(group.unused_bytes, 1_000 * (4096 - RECORD) + storage_unused);
}

#[test]
fn strings_copied_before_storing_hold_nothing_unused_and_are_not_reported() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    #[track_growth]
    #[derive(Default)]
    struct Copied {
        by_id: HashMap<u64, String>,
    }
    let mut index = Copied::default();
    let mut line = String::with_capacity(4096);
    for id in 0..1_000 {
        read_record(&mut line, id);
        index.by_id.insert(id, line.clone());
    }
    assert_eq!(events.of_kind("hoarded_capacity"), vec![]);
    let report = leakguard::report();
    let group = report.group("Copied.by_id").unwrap();
    assert_eq!(
        group.unused_bytes,
        index.by_id.footprint().unwrap().unused_bytes()
    );
}

#[track_growth]
#[derive(Default)]
struct Responses {
    #[scoped_cache(max = 100)]
    by_path: HashMap<u64, String>,
}

#[test]
fn a_scoped_cache_counts_the_spare_capacity_of_the_entries_it_holds_not_of_those_it_evicted() {
    let mut responses = Responses::default();
    for path in 0..1_000 {
        responses.by_path.insert(path, text_in(100, 1024));
    }
    assert_eq!(responses.by_path.len(), 100);
    let deep = responses.by_path.heap_usage();
    let storage_unused = responses.by_path.footprint().unwrap().unused_bytes();
    assert_eq!(deep.unused, 100 * (1024 - 100) + storage_unused);
    let report = leakguard::report();
    let group = report.group("Responses.by_path").unwrap();
    assert_eq!(group.unused_bytes, deep.unused);
    assert_eq!(group.bytes, deep.bytes);
}

#[test]
fn entries_using_more_than_a_quarter_of_what_they_hold_are_not_reported() {
    let (subscriber, events) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    #[track_growth]
    #[derive(Default)]
    struct HalfFull {
        by_id: HashMap<u64, String>,
    }
    let mut index = HalfFull::default();
    // 3 MiB unused, but each entry uses 300 of its 1,024 bytes: less than 4x.
    for id in 0..4_000 {
        index.by_id.insert(id, text_in(300, 1024));
    }
    Tracked::measure(&mut index.by_id);
    let report = leakguard::report();
    assert!(report.group("HalfFull.by_id").unwrap().unused_bytes > 2 << 20);
    assert_eq!(events.of_kind("hoarded_capacity"), vec![]);

    // Under a quarter: 200 of 1,024 bytes.
    for id in 0..4_000 {
        index.by_id.insert(id, text_in(200, 1024));
    }
    let hoarded = events.of_kind("hoarded_capacity");
    assert_eq!(hoarded.len(), 1, "{hoarded:#?}");
    assert_eq!(hoarded[0].field("cause"), Some("\"entries\""));
}
