//! W3 accuracy: each tool's heap figure over the bytes a counting allocator saw requested
//! and not freed, for the five cases of shared/BENCHMARKS.md, all tools in one run.
//!
//! `cargo bench -p leakguard-bench --bench w3_accuracy`

use std::collections::HashMap;
use std::mem::size_of_val;
use std::sync::Arc;

use deepsize::DeepSizeOf;
use get_size2::{GetSize, StandardTracker};
use leakguard::HeapSize;
use leakguard_bench::alloc::{Counting, allocated_by};
use leakguard_bench::print_table;
use leakguard_bench::w3::{key, small_maps, string_keyed_map};
use mem_dbg::{MemSize, SizeFlags};

#[global_allocator]
static ALLOC: Counting = Counting;

/// A value every tool of the table can measure through its std impls.
trait Measurable: HeapSize + MemSize + GetSize + DeepSizeOf {}

impl<T: HeapSize + MemSize + GetSize + DeepSizeOf> Measurable for T {}

/// One tool's heap bytes for a value, and the figure of its other documented mode where
/// that mode changes how shared pointees are counted.
struct Reading {
    bytes: usize,
    other_mode: Option<(&'static str, usize)>,
}

impl Reading {
    fn of(bytes: usize) -> Self {
        Self {
            bytes,
            other_mode: None,
        }
    }

    /// Keeps the other mode's figure only where it differs, so the table shows it where
    /// choosing the mode matters.
    fn or_with(bytes: usize, mode: &'static str, other: usize) -> Self {
        Self {
            bytes,
            other_mode: (other != bytes).then_some((mode, other)),
        }
    }

    fn cell(&self, truth: isize) -> String {
        let ratio = |bytes: usize| format!("{:.3}", bytes as f64 / truth as f64);
        match self.other_mode {
            None => ratio(self.bytes),
            Some((mode, other)) => format!("{} ({mode}: {})", ratio(self.bytes), ratio(other)),
        }
    }
}

/// The row of one case: each tool's estimate over `truth`, in the order of `HEADER`.
///
/// Every tool is compared on heap bytes. mem_dbg's `mem_size` and deepsize's
/// `deep_size_of` include the value's inline `size_of_val`, so it is subtracted
/// from theirs; leakguard's `heap_size` and get-size2's `get_heap_size` exclude it already.
fn row<T: Measurable>(case: &str, truth: isize, value: &T) -> Vec<String> {
    let inline = size_of_val(value);
    let mem_dbg = |flags| value.mem_size(flags) - inline;
    let readings = [
        Reading::of(value.heap_size()),
        // An `Arc`'s pointee is counted only with `FOLLOW_RCS`, which is not the default.
        Reading::or_with(
            mem_dbg(SizeFlags::CAPACITY),
            "+`FOLLOW_RCS`",
            mem_dbg(SizeFlags::CAPACITY | SizeFlags::FOLLOW_RCS),
        ),
        // `get_heap_size` counts an `Arc`'s pointee at every clone; deduplication needs a
        // tracker passed in.
        Reading::or_with(
            value.get_heap_size(),
            "`StandardTracker`",
            value.get_heap_size_with_tracker(StandardTracker::new()).0,
        ),
        Reading::of(value.deep_size_of() - inline),
    ];
    let mut row = vec![case.to_string(), truth.to_string()];
    row.extend(readings.iter().map(|r| r.cell(truth)));
    row
}

const HEADER: [&str; 6] = [
    "case",
    "true bytes",
    "leakguard",
    "mem_dbg 0.4 `CAPACITY`",
    "get-size2 0.11",
    "deepsize 0.2",
];

fn main() {
    let mut rows = Vec::new();

    let (map, truth) = allocated_by(|| string_keyed_map(100_000));
    rows.push(row("c1 `HashMap<String, Vec<u8>>`, 100k", truth, &map));
    drop(map);

    let (lines, truth) = allocated_by(|| {
        let mut lines = Vec::new();
        for i in 0..100_000 {
            lines.push(key(i));
        }
        lines.truncate(10_000);
        lines
    });
    rows.push(row(
        "c2 `Vec<String>`, 100k truncated to 10k",
        truth,
        &lines,
    ));
    drop(lines);

    let (mut ids, truth) = allocated_by(|| {
        let mut ids = HashMap::new();
        for i in 0..1_000_000u64 {
            ids.insert(i, i);
        }
        ids
    });
    rows.push(row("c3 `HashMap<u64, u64>`, 1M", truth, &ids));
    let ((), freed) = allocated_by(|| {
        for i in 0..900_000u64 {
            ids.remove(&i);
        }
    });
    rows.push(row("c3 the same after removing 90%", truth + freed, &ids));
    drop(ids);

    let (maps, truth) = allocated_by(small_maps);
    let entries: usize = maps.iter().map(HashMap::len).sum();
    rows.push(row(
        &format!("c4 `Vec<HashMap<String, String>>`, 1,000 maps, {entries} entries"),
        truth,
        &maps,
    ));
    drop(maps);

    let (blobs, truth) = allocated_by(|| {
        let shared = Arc::new(vec![1u8; 1 << 20]);
        let mut blobs = Vec::with_capacity(1000);
        for _ in 0..1000 {
            blobs.push(Arc::clone(&shared));
        }
        blobs
    });
    rows.push(row(
        "c5 `Vec<Arc<Vec<u8>>>`, 1,000 clones of 1 MiB",
        truth,
        &blobs,
    ));

    rows.push(c6::row());

    print_table(
        "W3 accuracy: estimated heap bytes / true requested bytes",
        &HEADER,
        &rows,
    );
    println!();
    for note in NOTES {
        println!("- {note}");
    }
    println!();
    ecosystem::table();
}

mod ecosystem {
    //! The types of leakguard's ecosystem features against the counting allocator, with
    //! get-size2, the peer that measures the same crates, where it does.

    use get_size2::GetSize;
    use leakguard::HeapSize;
    use leakguard_bench::alloc::allocated_by;
    use leakguard_bench::print_table;
    use leakguard_bench::w3::key;

    fn ratio(bytes: usize, truth: isize) -> String {
        format!("{:.3}", bytes as f64 / truth as f64)
    }

    pub(super) fn table() {
        let mut rows = Vec::new();
        let (map, truth) = allocated_by(|| {
            (0..100_000)
                .map(|i| (key(i), vec![7u8; i % 65]))
                .collect::<hashbrown::HashMap<String, Vec<u8>>>()
        });
        rows.push(vec![
            "c7 `hashbrown::HashMap<String, Vec<u8>>`, 100k".to_string(),
            truth.to_string(),
            ratio(map.heap_size(), truth),
            ratio(map.get_heap_size(), truth),
        ]);
        drop(map);

        let (map, truth) = allocated_by(|| {
            (0..100_000)
                .map(|i| (key(i), vec![7u8; i % 65]))
                .collect::<indexmap::IndexMap<String, Vec<u8>>>()
        });
        rows.push(vec![
            "c8 `indexmap::IndexMap<String, Vec<u8>>`, 100k".to_string(),
            truth.to_string(),
            ratio(map.heap_size(), truth),
            ratio(map.get_heap_size(), truth),
        ]);
        drop(map);

        let (values, truth) = allocated_by(|| {
            (0..100_000u32)
                .map(|i| (0..i % 9).collect::<smallvec::SmallVec<[u32; 4]>>())
                .collect::<Vec<_>>()
        });
        rows.push(vec![
            "c9 `Vec<SmallVec<[u32; 4]>>`, 100k of 0 to 8 entries".to_string(),
            truth.to_string(),
            ratio(values.heap_size(), truth),
            ratio(values.get_heap_size(), truth),
        ]);
        drop(values);

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
        let (value, truth) =
            allocated_by(|| serde_json::from_str::<serde_json::Value>(&text).unwrap());
        rows.push(vec![
            "c10 `serde_json::Value`, 2,000 objects".to_string(),
            truth.to_string(),
            ratio(value.heap_size(), truth),
            "n/a".to_string(),
        ]);

        print_table(
            "W3 accuracy, ecosystem types: estimated heap bytes / true requested bytes",
            &["case", "true bytes", "leakguard", "get-size2 0.11"],
            &rows,
        );
    }
}

mod c6 {
    //! Tracked structs nested in a tracked collection: 1,000 sessions, each with tracked and
    //! untracked fields, in a `Vec` beside an index. leakguard measures the
    //! `#[track_growth]` structs; the peers measure plain twins with their own derives, built
    //! from the same data.

    use std::collections::HashMap;

    use deepsize::DeepSizeOf;
    use get_size2::GetSize;
    use leakguard::HeapSize;
    use leakguard_bench::alloc::allocated_by;
    use leakguard_bench::w3::key;
    use mem_dbg::{MemSize, SizeFlags};

    #[leakguard::track_growth]
    #[derive(Default)]
    struct Session {
        tags: Vec<String>,
        user: String,
        #[track(skip)]
        scratch: Vec<u8>,
        token: Option<String>,
        id: u64,
    }

    #[leakguard::track_growth]
    #[derive(Default)]
    struct Sessions {
        live: Vec<Session>,
        by_user: HashMap<String, u64>,
    }

    #[derive(Default, MemSize, GetSize, DeepSizeOf)]
    struct PlainSession {
        tags: Vec<String>,
        user: String,
        scratch: Vec<u8>,
        token: Option<String>,
        id: u64,
    }

    #[derive(Default, MemSize, GetSize, DeepSizeOf)]
    struct PlainSessions {
        live: Vec<PlainSession>,
        by_user: HashMap<String, u64>,
    }

    /// Fills either shape with the same data.
    macro_rules! fill {
        ($sessions:ty, $session:ty) => {{
            let mut sessions = <$sessions>::default();
            for i in 0..1_000u64 {
                let mut session = <$session>::default();
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
        }};
    }

    pub(super) fn row() -> Vec<String> {
        // Let the registry make room for the 2,000 collections first: its chunks are
        // leakguard's own memory, not the sessions'.
        drop(fill!(Sessions, Session));
        let (tracked, tracked_truth) = allocated_by(|| fill!(Sessions, Session));
        let (plain, truth) = allocated_by(|| fill!(PlainSessions, PlainSession));
        let inline = size_of_val(&plain);
        let ratio = |bytes: usize, truth: isize| format!("{:.3}", bytes as f64 / truth as f64);
        vec![
            "c6 1,000 `#[track_growth]` structs in a tracked `Vec`, with an index".to_string(),
            truth.to_string(),
            ratio(tracked.heap_size(), tracked_truth),
            ratio(plain.mem_size(SizeFlags::CAPACITY) - inline, truth),
            ratio(plain.get_heap_size(), truth),
            ratio(plain.deep_size_of() - inline, truth),
        ]
    }
}

/// Why the peers read what they read, from their sources.
const NOTES: [&str; 4] = [
    "get-size2 and deepsize count a hash map as `capacity() * size_of::<(K, V)>()`: \
     no spare buckets, no control bytes.",
    "deepsize and get-size2 (with a tracker) count an `Arc`'s pointee once but not its two \
     reference counts; mem_dbg counts them with `FOLLOW_RCS`.",
    "mem_dbg and deepsize figures include the value's inline size, subtracted here.",
    "size-of, the other exact peer of BENCHMARKS.md, is not measured: its latest release \
     (0.1.5) does not build on rustc 1.95 (E0570 in its function-pointer impls).",
];
