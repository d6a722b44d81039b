//! Heap profiles where people already look: pprof (read back by the real `go tool pprof`),
//! folded stacks and flame graphs (read by inferno), diffs between snapshots, and the debug
//! endpoint's routes.

use std::collections::HashMap;

use leakguard::http::{self, HttpError};
use leakguard::track_growth;

#[track_growth]
#[derive(Default)]
struct Inbox {
    messages: Vec<String>,
    by_sender: HashMap<String, u64>,
}

/// An inbox with `n` messages of 100 bytes, made at one line.
fn inbox(n: usize) -> Inbox {
    let mut inbox = Inbox::default();
    for i in 0..n {
        inbox.messages.push("m".repeat(100));
        inbox.by_sender.insert(format!("sender-{i}"), i as u64);
    }
    inbox
}

/// Runs `go tool pprof` with `args` on a profile of `report`, returning what it printed.
fn go_pprof(report: &leakguard::Report, args: &[&str]) -> String {
    leakguard_support::pprof::go_pprof(&report.to_pprof(), args)
}

#[test]
fn go_tool_pprof_reads_the_profile_with_names_and_byte_figures() {
    let inboxes: Vec<Inbox> = (0..3).map(|_| inbox(1_000)).collect();
    let report = leakguard::report();
    let messages = report.group("Inbox.messages").unwrap();
    let by_sender = report.group("Inbox.by_sender").unwrap();

    let top = go_pprof(&report, &["-top", "-sample_index=inuse_space"]);
    // `top` lists each function with its flat bytes, exact: `-unit=B` keeps pprof from
    // rounding.
    let exact = go_pprof(&report, &["-top", "-unit=B", "-sample_index=inuse_space"]);
    for group in [messages, by_sender] {
        assert!(top.contains(group.collection), "{top}");
        let line = exact
            .lines()
            .find(|line| line.ends_with(group.collection))
            .unwrap_or_else(|| panic!("no line for {} in\n{exact}", group.collection));
        assert!(
            line.trim_start().starts_with(&format!("{}B", group.bytes)),
            "{} holds {} B: {line}",
            group.collection,
            group.bytes
        );
    }
    assert!(top.contains("Type: inuse_space"), "{top}");

    // The traces show the creation site under the module, and the labels.
    let traces = go_pprof(&report, &["-traces"]);
    let label = |key: &str, value: &str| {
        traces.lines().any(|line| {
            let line = line.trim();
            line.starts_with(&format!("{key}:")) && line.ends_with(&format!(" {value}"))
        })
    };
    assert!(label("collection", "Inbox.messages"), "{traces}");
    assert!(label("module", "export"), "{traces}");
    // Each trace is the collection's frame over its module's.
    let frames: Vec<&str> = traces.lines().map(str::trim).collect();
    let leaf = frames
        .iter()
        .position(|line| line.ends_with("   Inbox.messages") || *line == "Inbox.messages")
        .or_else(|| {
            frames
                .iter()
                .position(|line| line.ends_with(" Inbox.messages"))
        })
        .expect("a trace of the messages");
    assert_eq!(frames[leaf + 1], "export", "{traces}");
    // With `-lines`, the frame is the creation site.
    let lines = go_pprof(&report, &["-traces", "-lines"]);
    assert!(lines.contains("tests/export.rs:"), "{lines}");

    // The other sample types: collections and entries.
    let counts = go_pprof(&report, &["-top", "-sample_index=entries"]);
    assert!(counts.contains("Type: entries"), "{counts}");
    let instances = go_pprof(&report, &["-top", "-sample_index=collections"]);
    let line = instances
        .lines()
        .find(|line| line.ends_with("Inbox.messages"))
        .unwrap();
    // Every live `Inbox` of the binary, this test's three and any a test beside it holds:
    // the profile counts what the report saw.
    let count: usize = line.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(count, messages.instances, "{line}");
    assert!(count >= 3, "{line}");
    drop(inboxes);
}

#[test]
fn two_profiles_diff_with_go_tool_pprof_diff_base() {
    let earlier = leakguard::report();
    let dir = std::env::temp_dir().join(format!("leakguard-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("base.pb.gz");
    std::fs::write(&base, earlier.to_pprof()).unwrap();
    #[track_growth]
    #[derive(Default)]
    struct Grown {
        log: Vec<u64>,
    }
    let mut grown = Grown::default();
    grown.log.extend(0..10_000);
    let later = leakguard::report();
    let bytes = later.group("Grown.log").unwrap().bytes;
    let diff = go_pprof(
        &later,
        &["-top", "-unit=B", &format!("-diff_base={}", base.display())],
    );
    let line = diff.lines().find(|l| l.ends_with("Grown.log")).unwrap();
    assert!(
        line.trim_start().starts_with(&format!("{bytes}B")),
        "{diff}"
    );
}

#[test]
fn folded_stacks_render_through_inferno_with_every_collection() {
    let kept = inbox(500);
    let report = leakguard::report();
    let folded = report.folded();
    let line = folded
        .lines()
        .find(|line| line.contains(";Inbox.messages;"))
        .expect("a line for the messages");
    let (stack, bytes) = line.rsplit_once(' ').unwrap();
    let frames: Vec<&str> = stack.split(';').collect();
    assert_eq!(frames[0], "export");
    assert_eq!(frames[1], "Inbox.messages");
    assert!(frames[2].starts_with("tests/export.rs:"), "{line}");
    let messages = report.group("Inbox.messages").unwrap();
    assert_eq!(bytes.parse::<usize>().unwrap(), messages.sites[0].bytes);

    let svg = report.flamegraph_svg();
    assert!(svg.starts_with("<?xml"), "{}", &svg[..100.min(svg.len())]);
    assert!(svg.contains("Inbox.messages"), "inferno drew the frame");
    assert!(svg.contains("bytes"), "counted in bytes");
    drop(kept);
}

#[test]
fn a_diff_shows_what_grew_the_most_first() {
    #[track_growth]
    #[derive(Default)]
    struct Sessions {
        live: Vec<String>,
        idle: Vec<String>,
    }
    let mut sessions = Sessions::default();
    sessions.idle.push("x".repeat(1000));
    let earlier = leakguard::report();
    for i in 0..100 {
        sessions.live.push(format!("session-{i}"));
    }
    sessions.idle.clear();
    sessions.idle.shrink_to_fit();
    let diff = leakguard::report().diff(&earlier);
    let live = diff
        .groups
        .iter()
        .position(|g| g.collection == "Sessions.live")
        .unwrap();
    let idle = diff
        .groups
        .iter()
        .position(|g| g.collection == "Sessions.idle")
        .unwrap();
    assert!(live < idle, "the most grown first");
    assert_eq!(diff.groups[live].len, 100);
    assert!(diff.groups[idle].bytes < 0);
    let table = diff.to_string();
    let first = table.lines().position(|l| l.starts_with("Sessions.live"));
    let second = table.lines().position(|l| l.starts_with("Sessions.idle"));
    assert!(first < second, "{table}");
    assert!(table.lines().next().unwrap().starts_with("collection"));
}

#[test]
fn every_route_answers_and_misuse_is_an_error_value() {
    let _kept = inbox(10);
    let (kind, body) = http::respond("/debug/leakguard/heap", "").unwrap();
    assert_eq!(kind, "application/octet-stream");
    assert_eq!(&body[..2], [0x1f, 0x8b], "gzip");
    let (kind, body) = http::respond("/debug/leakguard/heap", "debug=1").unwrap();
    assert!(kind.starts_with("text/plain"));
    assert!(String::from_utf8(body).unwrap().contains("Inbox.messages"));
    let (_, body) = http::respond("/debug/leakguard/report", "").unwrap();
    assert!(String::from_utf8(body).unwrap().starts_with("collection"));
    let (kind, body) = http::respond("/debug/leakguard/report.json", "").unwrap();
    assert_eq!(kind, "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        json["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["collection"] == "Inbox.messages")
    );
    let (_, body) = http::respond("/debug/leakguard/folded", "").unwrap();
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains(";Inbox.messages;")
    );
    let (kind, body) = http::respond("/debug/leakguard/flamegraph.svg", "").unwrap();
    assert_eq!(kind, "image/svg+xml");
    assert!(String::from_utf8(body).unwrap().contains("Inbox.messages"));

    // Go's CPU profile is not served: leakguard profiles memory.
    let missing = http::respond("/debug/pprof/profile", "").unwrap_err();
    assert_eq!(missing.status(), 404);
    assert!(missing.to_string().contains("/debug/leakguard/heap"));
    let bad = http::respond("/debug/leakguard/heap", "seconds=30").unwrap_err();
    assert_eq!(
        bad,
        HttpError::BadQuery {
            parameter: "seconds=30".to_string(),
            expected: "`debug=0` (the profile) or `debug=1` (the text table)",
        }
    );
    assert_eq!(bad.status(), 400);
    let long = "x".repeat(10_000);
    let bad = http::respond("/debug/leakguard/folded", &long).unwrap_err();
    assert!(
        bad.to_string().len() < 200,
        "a hostile query is not echoed whole"
    );
}

#[test]
fn without_the_allocator_the_heap_profile_is_valid_and_empty() {
    // This binary does not install `leakguard::Alloc`.
    let _kept = inbox(10);
    let profile = leakguard::heap_profile();
    assert_eq!(&profile[..2], [0x1f, 0x8b], "gzip");
    let raw = leakguard_support::pprof::go_pprof(&profile, &["-raw"]);
    assert!(
        raw.contains(
            "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]"
        ),
        "{raw}"
    );
    assert!(raw.contains("Period: 524288"), "{raw}");
    let samples = raw
        .split("Samples:")
        .nth(1)
        .and_then(|rest| rest.split("Locations").next())
        .unwrap_or_default();
    assert_eq!(
        samples.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "only the header:\n{raw}"
    );
    let (kind, body) = http::respond("/debug/pprof/heap", "").unwrap();
    assert_eq!(kind, "application/octet-stream");
    assert_eq!(&body[..2], [0x1f, 0x8b]);
    let (kind, body) = http::respond("/debug/pprof/allocs", "gc=1&debug=1").unwrap();
    assert!(kind.starts_with("text/plain"));
    assert!(
        String::from_utf8(body)
            .unwrap()
            .starts_with("heap profile: 0: 0 [0: 0] @ heap/524288")
    );
    let bad = http::respond("/debug/pprof/heap", "seconds=30").unwrap_err();
    assert_eq!(bad.status(), 400);
    assert!(bad.to_string().contains("`debug=1`"), "{bad}");
}

#[test]
fn a_hostile_path_or_query_is_cut_and_never_echoes_control_characters() {
    // A 10 MB path, with a forged header after a line break and a terminal escape, as a
    // client may send one; and the same as a query parameter.
    let start = "/debug/\r\nSet-Cookie: x=1\u{1b}[2J\0";
    let hostile = format!("{start}{}", "p".repeat(10 << 20));
    // The first 64 characters, escaped as `{:?}` writes them, and a mark that it was cut.
    let expected = format!(
        "/debug/\\r\\nSet-Cookie: x=1\\u{{1b}}[2J\\0{}…",
        "p".repeat(64 - start.chars().count())
    );
    let missing = http::respond(&hostile, "").unwrap_err();
    assert_eq!(missing, HttpError::NotFound(expected.clone()));
    let bad = http::respond("/debug/leakguard/heap", &hostile).unwrap_err();
    assert_eq!(
        bad,
        HttpError::BadQuery {
            parameter: expected,
            expected: "`debug=0` (the profile) or `debug=1` (the text table)",
        }
    );
    for error in [missing, bad] {
        let message = error.to_string();
        assert!(
            message.len() < 400,
            "{} bytes in the message",
            message.len()
        );
        assert!(!message.contains(char::is_control), "{message:?}");
    }
    // A short, printable path is echoed as written.
    let missing = http::respond("/debug/pprof/profile", "").unwrap_err();
    assert_eq!(
        missing,
        HttpError::NotFound("/debug/pprof/profile".to_string())
    );
}
