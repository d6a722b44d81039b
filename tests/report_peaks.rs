//! The `peak bytes` column is a high-water mark: what a collection reached, even when it was
//! filled and emptied between two samples, checked against the counting allocator.

use leakguard::track_growth;
use leakguard_support::alloc::{Counting, allocated_by, warm_up_registry};

#[global_allocator]
static ALLOC: Counting = Counting;

#[track_growth]
#[derive(Default)]
struct Scratch {
    lines: Vec<String>,
}

#[track_growth]
#[derive(Default)]
struct Burst {
    lines: Vec<String>,
}

/// Fills the tracked field `$lines` with 1,000 lines of 32 bytes, as the service does;
/// what that allocated.
macro_rules! fill {
    ($lines:expr) => {{
        let ((), allocated) = allocated_by(|| {
            for i in 0..1_000 {
                $lines.push(format!("{i:>32}"));
            }
        });
        usize::try_from(allocated).unwrap()
    }};
}

#[test]
fn a_collection_emptied_between_two_reports_keeps_its_peak() {
    warm_up_registry();
    let mut scratch = Scratch::default();
    let ((), first) = allocated_by(|| scratch.lines.push("first".to_string()));
    let before = leakguard::report();
    assert!(before.group("Scratch.lines").unwrap().peak_bytes < 1_024);

    let filled = usize::try_from(first).unwrap() + fill!(scratch.lines);
    let filled_len = scratch.lines.len();
    scratch.lines.clear();
    scratch.lines.shrink_to_fit();
    scratch.lines.push("after".to_string());

    let report = leakguard::report();
    print!("{report}");
    let group = report.group("Scratch.lines").unwrap();
    assert!(group.bytes < 1_024, "emptied: {} B", group.bytes);
    assert_eq!(group.peak_len, filled_len);
    // The figures are published within 0.1%; the allocator saw the storage and the lines.
    assert!(
        group.peak_bytes <= filled && group.peak_bytes >= filled - filled / 1024,
        "peak {} B, the allocator saw {filled} B",
        group.peak_bytes
    );
    // It stays while the collection lives.
    let later = leakguard::report();
    assert_eq!(
        later.group("Scratch.lines").unwrap().peak_bytes,
        group.peak_bytes
    );
}

#[test]
fn a_group_peak_adds_what_each_live_collection_reached() {
    warm_up_registry();
    let mut bursts: Vec<Burst> = (0..3).map(|_| Burst::default()).collect();
    let mut reached = 0;
    for burst in &mut bursts {
        reached += fill!(burst.lines);
        burst.lines.clear();
        burst.lines.shrink_to_fit();
    }
    let report = leakguard::report();
    let group = report.group("Burst.lines");
    // Emptied collections hold no memory and leave the report; filled again, each brings
    // back its own mark.
    assert!(group.is_none_or(|g| g.bytes == 0));
    for burst in &mut bursts {
        burst.lines.push("again".to_string());
    }
    let report = leakguard::report();
    let group = report.group("Burst.lines").unwrap();
    assert_eq!(group.instances, 3);
    assert_eq!(group.peak_len, 3 * 1_000);
    assert!(
        group.peak_bytes <= reached && group.peak_bytes >= reached - reached / 1024,
        "peak {} B, the allocator saw {reached} B",
        group.peak_bytes
    );
}
