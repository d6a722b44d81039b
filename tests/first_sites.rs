//! Where a collection's first entries came from (issue 19, item 4): a map filled by
//! `entry(..).or_insert_with(..)` and a body made by `Deserialize` said "first grown at never
//! grown" in `outlived` and `suspected_leak` events and in the report. Every way content
//! comes in names the user's line, or, where std or serde stands between (and passes no line
//! on), how it came: "deserialized as `Body`", "filled by collect()".

use std::collections::HashMap;
use std::time::Duration;

use leakguard::{Tracked, track_growth};
use leakguard_support::capture::{self, Captured, Events};
use serde::Deserialize;

fn subscriber() -> (tracing::subscriber::DefaultGuard, Events) {
    let (subscriber, events) = capture::sampling();
    (tracing::subscriber::set_default(subscriber), events)
}

fn of(events: &Events, kind: &str, collection: &str) -> Vec<Captured> {
    let quoted = format!("{collection:?}");
    events
        .of_kind(kind)
        .into_iter()
        .filter(|e| e.field("collection") == Some(quoted.as_str()))
        .collect()
}

#[track_growth(scoped)]
#[derive(Default)]
struct Sessions {
    by_user: HashMap<u64, String>,
}

/// The cache idiom: get or make, through `entry`.
/// (A chain split over lines is at the line where its receiver starts.)
fn session(s: &mut Sessions, user: u64) -> &str {
    s.by_user.entry(user).or_insert_with(|| user.to_string()) // ENTRY
}

fn line_of(marker: &str) -> u32 {
    let source = include_str!("first_sites.rs");
    let at = source
        .lines()
        .position(|line| line.ends_with(marker) && !line.contains("line_of"))
        .expect("marked line");
    at as u32 + 1
}

#[test]
fn a_map_filled_through_entry_names_the_line_of_the_entry_call() {
    let (_guard, events) = subscriber();
    let mut kept = Vec::new();
    for _ in 0..2 {
        let _scope = leakguard::scope("request");
        let mut sessions = Sessions::default();
        for user in 0..10 {
            session(&mut sessions, user);
        }
        // Read elsewhere first: the read is not where it grew.
        assert_eq!(sessions.by_user.get(&3).map(String::as_str), Some("3"));
        kept.push(sessions);
    }
    leakguard::check_now();
    let outlived = of(&events, "outlived", "Sessions.by_user");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    let site = format!("{}:{}", file!(), line_of("// ENTRY"));
    eprintln!("WARN leakguard: {}", outlived[0].message);
    assert_eq!(
        outlived[0].field("site"),
        Some(format!("{site:?}").as_str())
    );
    assert!(
        outlived[0]
            .message
            .ends_with(&format!("first grown at {site} (2 instances)")),
        "{}",
        outlived[0].message
    );
    let report = leakguard::report();
    let group = report.group("Sessions.by_user").unwrap();
    let line = line_of("// ENTRY");
    assert!(
        group
            .sites
            .iter()
            .any(|s| s.file == Some(file!()) && s.line == line && s.instances >= 2),
        "{:#?}",
        group.sites
    );
}

#[track_growth]
#[derive(Default)]
struct Journal {
    by_day: HashMap<u64, Vec<u64>>,
}

#[test]
fn a_suspected_leak_filled_through_entry_names_the_line_of_the_entry_call() {
    let (_guard, events) = subscriber();
    let mut journal = Journal::default();
    let start = std::time::Instant::now();
    let mut day = 0;
    while of(&events, "suspected_leak", "Journal.by_day").is_empty() {
        for _ in 0..50 {
            journal.by_day.entry(day).or_default().push(day); // JOURNAL
            day += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
        assert!(start.elapsed() < Duration::from_secs(20), "never reported");
    }
    let suspected = &of(&events, "suspected_leak", "Journal.by_day")[0];
    eprintln!("WARN leakguard: {}", suspected.message);
    let site = format!("{}:{}", file!(), line_of("// JOURNAL"));
    assert!(
        suspected
            .message
            .ends_with(&format!("first grown at {site}")),
        "{}",
        suspected.message
    );
    assert_eq!(suspected.field("site"), Some(format!("{site:?}").as_str()));
}

#[track_growth(scoped)]
#[derive(Deserialize)]
struct Body {
    items: Vec<String>,
}

#[test]
fn a_deserialized_body_says_so_in_events_and_in_the_report() {
    let (_guard, events) = subscriber();
    let mut kept = Vec::new();
    {
        let _scope = leakguard::scope("handle");
        let body: Body = serde_json::from_str(r#"{"items": ["a", "b", "c"]}"#).unwrap();
        assert_eq!(body.items.len(), 3);
        kept.push(body);
    }
    leakguard::check_now();
    let outlived = of(&events, "outlived", "Body.items");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    eprintln!("WARN leakguard: {}", outlived[0].message);
    assert_eq!(
        outlived[0].field("site"),
        Some("\"deserialized as `Body`\"")
    );
    assert!(
        outlived[0].message.ends_with(", deserialized as `Body`"),
        "{}",
        outlived[0].message
    );
    let report = leakguard::report();
    let sites = &report.group("Body.items").unwrap().sites;
    assert!(
        sites
            .iter()
            .any(|s| s.origin.as_deref() == Some("deserialized as `Body`") && s.file.is_none()),
        "{sites:#?}"
    );
    // The body grows later in the user's code: its first entries still came from serde.
    kept[0].items.push("d".to_string());
    let report = leakguard::report();
    let sites = &report.group("Body.items").unwrap().sites;
    assert!(sites.iter().all(|s| s.file.is_none()), "{sites:#?}");
}

#[track_growth]
#[derive(Default, Clone)]
struct Ways {
    items: Vec<u64>,
}

/// The sites the report shows for `Ways.items`: a line of this file, or how they came.
fn ways_sites() -> Vec<String> {
    let report = leakguard::report();
    let mut sites: Vec<String> = report
        .group("Ways.items")
        .map(|g| &g.sites[..])
        .unwrap_or_default()
        .iter()
        .map(|s| match (s.file, &s.origin) {
            (Some(file), _) => format!("{file}:{}", s.line),
            (None, Some(origin)) => origin.clone(),
            (None, None) => "never grown".to_string(),
        })
        .collect();
    sites.sort();
    sites
}

#[test]
fn every_way_in_names_the_line_or_how_it_came() {
    let here = |marker| format!("{}:{}", file!(), line_of(marker));
    let mut pushed = Ways::default();
    pushed.items.push(1); // PUSH
    let mut extended = Ways::default();
    extended.items.extend([1, 2]); // EXTEND
    let mut through_mut = Ways::default();
    let raw: &mut Vec<u64> = &mut through_mut.items; // MUT
    raw.push(1);
    // Seen at the next access, which is not where it grew.
    assert_eq!(through_mut.items.len(), 1);
    let converted = Ways {
        items: Tracked::from(vec![1, 2]), // FROM
    };
    let collected = Ways {
        items: Tracked::from_iter(0..3), // FROM_ITER
    };
    let cloned = Ways {
        items: pushed.items.clone(), // CLONE
    };
    let into = Ways {
        items: vec![1, 2].into(), // INTO
    };
    let collect = Ways {
        items: (0..3).collect(),
    };
    // Cloned by std's `Vec::clone`, through the derived `Clone` of `Ways`: its line.
    let clones = vec![pushed.clone()].clone();
    let sites = ways_sites();
    for (expected, how) in [
        (here("// PUSH"), "push"),
        (here("// EXTEND"), "extend"),
        (here("// MUT"), "&mut"),
        (here("// FROM"), "Tracked::from"),
        (here("// FROM_ITER"), "Tracked::from_iter"),
        (here("// CLONE"), "clone"),
        (here("// INTO"), "into(), which passes its caller's line on"),
        (here("#[derive(Default, Clone)]"), "a derived Clone"),
        // std's `collect` passes no line on: how it came is what is known.
        ("collect()".to_string(), "collect() through std"),
    ] {
        assert!(
            sites.contains(&expected),
            "{how}: {expected} not in {sites:#?}"
        );
    }
    assert!(!sites.iter().any(|s| s == "never grown"), "{sites:#?}");
    drop((
        pushed,
        extended,
        through_mut,
        converted,
        collected,
        cloned,
        into,
        collect,
        clones,
    ));
}

#[track_growth]
#[derive(Default)]
struct AppState {
    #[scoped_cache(max = 100, shared)]
    sessions: HashMap<u64, String>,
    #[scoped_cache(max = 100)]
    pages: HashMap<u64, String>,
}

#[test]
fn caches_name_the_line_of_their_first_insert() {
    let state = std::sync::Arc::new(std::sync::RwLock::new(AppState::default()));
    state.read().unwrap().sessions.insert(1, "one".to_string()); // SHARED
    state.write().unwrap().pages.insert(1, "one".to_string()); // SCOPED
    let report = leakguard::report();
    for (collection, marker) in [
        ("AppState.sessions", "// SHARED"),
        ("AppState.pages", "// SCOPED"),
    ] {
        let sites = &report.group(collection).unwrap().sites;
        assert!(
            sites
                .iter()
                .any(|s| s.file == Some(file!()) && s.line == line_of(marker)),
            "{collection}: {sites:#?}"
        );
    }
}
