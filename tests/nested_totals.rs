//! Tracked structs nested in tracked collections: each row shows its own figure, and every
//! total (the report's, its footer, the pprof profile's, the flame graph's root, a diff's)
//! counts each byte once, as the counting allocator sees them. One test in its own binary:
//! totals are over every live collection of the process.

use leakguard::{HeapSize, track_growth};
use leakguard_support::alloc::{Counting, allocated_by, warm_up_registry};
use leakguard_support::pprof::go_pprof;

#[global_allocator]
static ALLOC: Counting = Counting;

#[track_growth]
#[derive(Default)]
struct Batch {
    items: Vec<u64>,
}

#[track_growth]
#[derive(Default)]
struct Queue {
    pending: Vec<Batch>,
}

/// The line of `go tool pprof -top -unit=B` that gives the total: `Showing nodes accounting
/// for 32416B, 100% of 32416B total`, as `32416`.
fn pprof_total(top: &str) -> usize {
    let line = top
        .lines()
        .find(|line| line.contains("% of ") && line.ends_with(" total"))
        .unwrap_or_else(|| panic!("no total in\n{top}"));
    let total = line.rsplit(" of ").next().unwrap();
    total
        .trim_end_matches(" total")
        .trim_end_matches('B')
        .parse()
        .unwrap()
}

#[test]
fn nested_tracked_structs_are_counted_once_in_every_total() {
    warm_up_registry();
    let earlier = leakguard::report();
    let (mut queue, allocated) = allocated_by(|| {
        let mut queue = Queue::default();
        for b in 0..4u64 {
            let mut batch = Batch::default();
            batch.items.extend(b * 1_000..(b + 1) * 1_000);
            queue.pending.push(batch);
        }
        queue
    });
    let true_bytes = usize::try_from(allocated).unwrap();
    assert_eq!(queue.heap_size(), true_bytes, "the allocator agrees");

    let report = leakguard::report();
    print!("{report}");
    // Each row shows its own figure: the queue's holds its batches' items.
    let pending = report.group("Queue.pending").unwrap();
    let items = report.group("Batch.items").unwrap();
    assert_eq!(pending.bytes, true_bytes);
    assert_eq!(items.bytes, 4 * 1_000 * 8);
    assert_eq!(items.instances, 4);
    assert_eq!(pending.nested_bytes, items.bytes);
    assert_eq!(items.nested_bytes, 0);
    // The totals count the items once.
    assert_eq!(report.total_bytes(), true_bytes);
    // `print!("{report}")` ends its last line: the table is whole lines.
    let table = report.to_string();
    assert!(table.ends_with('\n'), "{table:?}");
    assert_eq!(table.lines().count(), 4, "header, two rows, totals");
    let footer = table.lines().last().unwrap();
    let expected = format!(
        "5 collections in 2 groups, {} in all, counting once the {} that nested rows share with the rows holding them; registry ",
        kib(true_bytes),
        kib(items.bytes)
    );
    assert!(footer.starts_with(&expected), "{footer}\n{expected}");
    // The profile's total, read by the real `go tool pprof`.
    let profile = report.to_pprof();
    let top = go_pprof(&profile, &["-top", "-unit=B", "-sample_index=inuse_space"]);
    println!("{top}");
    assert_eq!(pprof_total(&top), true_bytes, "{top}");
    let flat = |collection: &str| -> usize {
        let line = top
            .lines()
            .find(|line| line.ends_with(collection))
            .unwrap_or_else(|| panic!("no line for {collection} in\n{top}"));
        let flat = line.split_whitespace().next().unwrap();
        flat.trim_end_matches('B').parse().unwrap()
    };
    assert_eq!(flat("Batch.items"), 32_000);
    assert_eq!(flat("Queue.pending"), true_bytes - 32_000);
    let traces = go_pprof(&profile, &["-traces"]);
    assert!(
        traces
            .lines()
            .any(|line| line.trim() == "nested_bytes:  31.25kB"),
        "{traces}"
    );
    // The flame graph's root is the sum of the folded lines.
    let folded: usize = report
        .folded()
        .lines()
        .map(|line| line.rsplit(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(folded, true_bytes, "{}", report.folded());
    // inferno titles the root frame `all (32,448 bytes, 100%)`.
    let svg = report.flamegraph_svg();
    let root = svg
        .split("all (")
        .nth(1)
        .and_then(|title| title.split(" bytes, 100%)").next())
        .expect("a root frame");
    assert_eq!(root.replace(',', "").parse::<usize>().unwrap(), true_bytes);
    // A diff from before the queue was made grew by the same.
    let grown = report.diff(&earlier);
    assert_eq!(grown.total_bytes, true_bytes as i64);
    let diff = grown.to_string();
    assert!(
        diff.lines()
            .last()
            .unwrap()
            .starts_with(&format!("+{} in all", kib(true_bytes))),
        "{diff}"
    );

    // A batch taken out of the queue counts on its own row only, and still once.
    let (batch, _) = allocated_by(|| queue.pending.pop().unwrap());
    let report = leakguard::report();
    assert_eq!(report.total_bytes(), queue.heap_size() + batch.heap_size());
    assert_eq!(
        report.group("Queue.pending").unwrap().nested_bytes,
        3 * 8_000
    );
    // A batch grown in place, through the queue: the totals follow the items' own rows.
    let (_, grown) = allocated_by(|| {
        for i in 0..1_000 {
            queue.pending[0].items.push(i);
        }
    });
    let report = leakguard::report();
    assert!(grown > 0);
    assert_eq!(report.total_bytes(), queue.heap_size() + batch.heap_size());
}

/// `bytes` as the report prints a figure of kibibytes: one decimal, none when it is whole.
fn kib(bytes: usize) -> String {
    let tenths = (bytes as f64 / 1024.0 * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0} KiB")
    } else {
        format!("{tenths:.1} KiB")
    }
}
