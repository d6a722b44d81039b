//! A collection's first change, which registers it: what it publishes and warns of then is
//! what a later evaluation of the same collection finds, whether it went the short way (under
//! its budget, hoarding nothing) or the general one.

use leakguard::{Tracked, track_growth};
use leakguard_support::capture;

/// What a report says of a group: `(instances, len, bytes, unused bytes, peak len, peak
/// bytes, over budget)`.
type Figures = (usize, usize, usize, usize, usize, usize, usize);

/// The published figures of the collections `collection` names, from a report.
fn published(collection: &str) -> Figures {
    let report = leakguard::report();
    let group = report
        .group(collection)
        .expect("registered at its first change");
    (
        group.instances,
        group.len,
        group.bytes,
        group.unused_bytes,
        group.peak_len,
        group.peak_bytes,
        group.over_budget,
    )
}

#[test]
fn a_first_push_publishes_what_a_full_measurement_finds() {
    #[track_growth]
    #[derive(Default)]
    struct FirstPush {
        #[budget(len = 100)]
        items: Vec<u64>,
    }

    let mut first = FirstPush::default();
    let pushed_at = line!() + 1;
    first.items.push(7);
    let capacity = first.items.capacity();
    assert!(
        capacity > 1,
        "room for more than the one entry: some of it unused"
    );
    let at_first = published("FirstPush.items");
    assert_eq!(
        at_first,
        (1, 1, 8 * capacity, 8 * (capacity - 1), 1, 8 * capacity, 0)
    );
    let report = leakguard::report();
    let site = &report.group("FirstPush.items").unwrap().sites[0];
    assert_eq!(site.file, Some(file!()));
    assert_eq!(site.line, pushed_at, "where it first grew: the push");

    // Walked and evaluated in full: nothing moves.
    assert_eq!(Tracked::measure(&mut first.items), 8 * capacity);
    assert_eq!(published("FirstPush.items"), at_first);
}

#[test]
fn a_first_change_over_the_len_budget_warns_in_that_change() {
    #[track_growth]
    #[derive(Default)]
    struct FirstOver {
        #[budget(len = 2)]
        items: Vec<u64>,
    }

    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut first = FirstOver::default();
    first.items.extend([1, 2, 3]);
    let warnings = events.all();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(
        warnings[0].message,
        "FirstOver.items over len budget: 3 entries > 2"
    );
    assert_eq!(published("FirstOver.items").6, 1, "flagged over budget");
}

#[test]
fn a_first_reserve_past_the_hoard_floor_reports_hoarded_capacity() {
    #[track_growth]
    #[derive(Default)]
    struct FirstReserve {
        items: Vec<u64>,
    }

    let (subscriber, events) = capture::subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut first = FirstReserve::default();
    // 2 MiB of storage for no entry: past the default floor of 1 MiB.
    first.items.reserve(1 << 18);
    let hoarded = events.of_kind("hoarded_capacity");
    assert_eq!(hoarded.len(), 1, "{hoarded:#?}");
    assert_eq!(hoarded[0].field("cause"), Some("\"storage\""));
    let (_, len, bytes, unused, ..) = published("FirstReserve.items");
    assert_eq!((len, bytes, unused), (0, 8 << 18, 8 << 18));
}

/// The published figures and nested bytes of `collection`.
fn constructed(collection: &str) -> (Figures, usize) {
    let report = leakguard::report();
    let group = report.group(collection).expect("registered as constructed");
    (published(collection), group.nested_bytes)
}

#[test]
fn a_collection_constructed_with_content_publishes_what_a_full_measurement_finds() {
    #[track_growth]
    #[derive(serde::Deserialize, Default)]
    struct ParsedPart {
        values: Vec<u64>,
    }

    #[track_growth(scoped)]
    #[derive(serde::Deserialize, Default)]
    struct Parsed {
        lines: Vec<String>,
        parts: Vec<ParsedPart>,
    }

    let _scope = leakguard::scope("parse");
    let mut parsed: Parsed = serde_json::from_str(
        r#"{"lines": ["one", "two", "three"], "parts": [{"values": [1, 2, 3]}, {"values": [4]}]}"#,
    )
    .unwrap();
    let (lines, lines_nested) = constructed("Parsed.lines");
    let (parts, parts_nested) = constructed("Parsed.parts");
    assert_eq!(lines.0, 1, "one instance");
    assert_eq!(lines.1, 3);
    assert_eq!((lines.4, lines.5), (lines.1, lines.2), "its peaks: itself");
    assert_eq!(lines_nested, 0);
    assert_eq!(parts.1, 2);
    let values = leakguard::report()
        .group("ParsedPart.values")
        .expect("nested rows of their own")
        .bytes;
    assert!(values > 0);
    assert_eq!(
        parts_nested, values,
        "the nested vectors' bytes, on their rows"
    );
    let report = leakguard::report();
    let site = &report.group("Parsed.lines").unwrap().sites[0];
    assert_eq!(site.file, None, "serde's code, not the user's");
    assert_eq!(site.origin.as_deref(), Some("deserialized as `Parsed`"));

    // Walked and evaluated in full: nothing moves.
    assert_eq!(Tracked::measure(&mut parsed.lines), lines.2);
    assert_eq!(constructed("Parsed.lines"), (lines, lines_nested));
    assert_eq!(Tracked::measure(&mut parsed.parts), parts.2);
    assert_eq!(constructed("Parsed.parts"), (parts, parts_nested));
}
