//! The debug page, `/debug/leakguard/`, as served: self-contained, small, readable without
//! JavaScript, and holding the history the sampler keeps.

use std::time::{Duration, Instant};

use leakguard::{NamedRing, ScopedRing};
use tracing_subscriber::prelude::*;

/// 100 groups, as 100 named rings that keep growing, so every sample of every sparkline
/// differs: the largest page 100 groups make.
fn hundred_groups() -> Vec<NamedRing<String>> {
    (0..100)
        .map(|n| {
            ScopedRing::builder()
                .name(&format!("Ring<String, Vec<u8>>.entries-{n:03}"))
                .max(100_000)
                .build_ring()
                .expect("a valid bound")
        })
        .collect()
}

/// Waits, growing every ring, until each group has `samples` samples of history.
fn grow_until_sampled(rings: &mut [NamedRing<String>], samples: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0u64;
    loop {
        for ring in rings.iter_mut() {
            ring.push(format!("entry {i} of a ring that grows"));
        }
        i += 1;
        let report = leakguard::report();
        let sampled = report
            .groups
            .iter()
            .filter(|g| g.collection.starts_with("Ring<"))
            .map(|g| g.history.len())
            .min()
            .unwrap_or(0);
        if sampled >= samples {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the sampler kept {sampled} samples of {samples} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn the_page_is_self_contained_small_and_readable_without_javascript() {
    tracing_subscriber::registry()
        .with(
            leakguard::layer()
                .sample_interval(Duration::from_millis(5))
                .unwrap(),
        )
        .init();
    let mut rings = hundred_groups();
    // The default history: 120 samples a group.
    grow_until_sampled(&mut rings, 120);
    let report = leakguard::report();
    let group = report.group("Ring<String, Vec<u8>>.entries-000").unwrap();
    assert_eq!(group.history.len(), 120, "the default history");
    assert!(
        group.history.windows(2).all(|w| w[0] <= w[1]) && group.history[0] < group.bytes,
        "a growing ring's history rises, oldest first: {:?}",
        group.history
    );

    let (content_type, body) = leakguard::http::respond("/debug/leakguard/", "").unwrap();
    assert_eq!(content_type, "text/html; charset=utf-8");
    let page = String::from_utf8(body).unwrap();
    assert!(page.starts_with("<!doctype html>"), "{page}");
    assert!(
        page.len() <= 50_000,
        "100 groups with full histories make a page of {} bytes",
        page.len()
    );

    // No external asset: nothing to fetch but the page itself.
    let lower = page.to_ascii_lowercase();
    for external in [
        "<script src",
        "<link",
        "src=\"http",
        "src=\"//",
        "href=\"http",
        "href=\"//",
        "url(",
        "@import",
    ] {
        assert!(!lower.contains(external), "`{external}` in the page");
    }

    // With JavaScript off the rows are there: every group, named as everywhere else, its
    // name escaped, each with a sparkline of 30 points.
    let rows = page.matches("<tr").count() - 1;
    assert_eq!(rows, report.groups.len(), "one row a group");
    for n in 0..100 {
        let name = format!("<td>Ring&lt;String, Vec&lt;u8&gt;&gt;.entries-{n:03}</td>");
        let row = page
            .lines()
            .find(|line| line.contains(&name))
            .unwrap_or_else(|| panic!("no row {name}"));
        let points = row
            .split("<polyline points=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no sparkline in {row}"));
        assert_eq!(points.split(' ').count(), 30, "{row}");
    }
    for link in [
        "/debug/leakguard/flamegraph.svg",
        "/debug/leakguard/folded",
        "/debug/leakguard/heap",
        "/debug/leakguard/report.json",
    ] {
        assert!(
            page.contains(&format!("href=\"{link}\"")),
            "no link to {link}"
        );
        let route = link.split('?').next().unwrap();
        assert!(
            leakguard::http::respond(route, "").is_ok(),
            "the page links to {route}, which is served"
        );
    }
    // Both names of the page serve it.
    for path in ["/debug/leakguard", "/debug/leakguard/index.html"] {
        let (content_type, _) = leakguard::http::respond(path, "").unwrap();
        assert_eq!(content_type, "text/html; charset=utf-8", "{path}");
    }

    // The JSON report carries the same history.
    let (_, json) = leakguard::http::respond("/debug/leakguard/report.json", "").unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let group = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["collection"] == "Ring<String, Vec<u8>>.entries-000")
        .unwrap();
    assert_eq!(group["history"].as_array().unwrap().len(), 120);
    drop(rings);
}

#[test]
fn history_is_a_setting_bounded_by_what_it_costs() {
    assert!(leakguard::layer().history(0).is_ok(), "0 keeps none");
    assert!(leakguard::layer().history(10_000).is_ok());
    let error = leakguard::layer().history(10_001).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid leakguard setting `history`: it must be at most 10000 samples"
    );
}
