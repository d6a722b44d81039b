//! The debug page of the axum example, loaded over TCP in a real headless Chromium (Debian's
//! `chromium`, which `.ci/run` installs): what a person sees, not what the server sent.

#[allow(dead_code)]
#[path = "../examples/debug_endpoint.rs"]
mod example;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;

/// The example's leaking collections, and the bounded cache that is its largest and does not
/// leak.
const LEAKS: [&str; 3] = ["Scratch.body", "Shared.sessions", "Shared.events"];
const BOUNDED: &str = "Shared.avatars";

/// Runs headless Chromium with `args` then `url`, failing the test after 60 s.
fn chromium(args: &[&str], url: &str) -> Output {
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            // Let the page's script run before the DOM is dumped.
            "--virtual-time-budget=5000",
        ])
        .args(args)
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("`chromium` runs: this test loads the page in a real browser; install it (`apt-get install chromium`), as .ci/run does");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The DOM Chromium built from `url`, after its scripts ran.
fn dom(url: &str) -> String {
    String::from_utf8(chromium(&["--dump-dom"], url).stdout).unwrap()
}

/// The text of each cell of each row of the table `id`, in the order the browser shows them.
fn rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let table = dom
        .split(&format!("<table id=\"{id}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no table {id}: {dom}"));
    let body = table.split("<tbody>").nth(1).unwrap();
    let body = body.split("</tbody>").next().unwrap();
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let inner = &cell[cell.find('>').unwrap() + 1..];
                    inner.split("</td>").next().unwrap().to_string()
                })
                .collect()
        })
        .collect()
}

fn serve() -> SocketAddr {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        runtime.block_on(async move { axum::serve(listener, example::router()).await })
    });
    address
}

#[test]
fn a_person_sees_the_leak_at_the_top_with_its_trend_and_a_flame_graph_a_click_away() {
    tracing_subscriber::registry()
        .with(
            leakguard::layer()
                .sample_interval(Duration::from_millis(50))
                .unwrap(),
        )
        .init();
    example::steady_workload(3_000, Duration::from_millis(2));
    let address = serve();
    // 20 samples of history, so every row has a trend to draw.
    let deadline = Instant::now() + Duration::from_secs(30);
    while LEAKS.iter().any(|leak| {
        leakguard::report()
            .group(leak)
            .is_none_or(|g| g.history.len() < 20)
    }) {
        assert!(Instant::now() < deadline, "20 samples in 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }

    let page = format!("http://{address}/debug/leakguard/");
    let dom = dom(&page);
    let html = dom[dom.find("<html").expect("an html element")..]
        .split('>')
        .next()
        .unwrap();
    assert!(
        html.contains("data-ready=\"1\"") && !html.contains("data-error"),
        "the page's script ran to its end with no uncaught error: {html}"
    );

    let collections = rows(&dom, "collections");
    let names: Vec<&str> = collections.iter().map(|row| row[0].as_str()).collect();
    assert!(
        LEAKS.contains(&names[0]),
        "a leaking collection at the top, not {}: {names:?}",
        names[0]
    );
    let bounded = names.iter().position(|n| *n == BOUNDED).unwrap();
    assert!(
        LEAKS
            .iter()
            .all(|leak| names.iter().position(|n| n == leak).unwrap() < bounded),
        "the bounded cache, the largest collection, below every leak: {names:?}"
    );
    let bounded_bytes = leakguard::report().group(BOUNDED).unwrap().bytes;
    assert!(
        LEAKS
            .iter()
            .all(|leak| leakguard::report().group(leak).unwrap().bytes < bounded_bytes),
        "the example's cache holds the most bytes, so the order is by growth"
    );
    for row in &collections {
        assert!(
            row.last().unwrap().contains("<polyline points=\""),
            "a sparkline drawn for {}: {row:?}",
            row[0]
        );
    }

    // With the example's `leakguard::Alloc`, the whole heap: the summary says how much is
    // live, and the scopes table puts first the handler whose ended requests retain memory
    // (the buffers the audit job keeps), with its trend.
    let summary = dom.split("<p id=\"summary\">").nth(1).unwrap();
    assert!(summary.starts_with("heap "), "{summary}");
    let scopes = rows(&dom, "scopes");
    assert_eq!(scopes[0][0], "handle_request", "{scopes:?}");
    assert_ne!(scopes[0][3], "0 B", "retained bytes: {scopes:?}");
    assert!(scopes[0][5].contains("<polyline points=\""), "{scopes:?}");

    // The flame graph link opens an SVG.
    let href = dom
        .split("<a href=\"")
        .skip(1)
        .find(|link| link.contains(">flame graph<"))
        .and_then(|link| link.split('"').next())
        .expect("a link to the flame graph");
    let svg = self::dom(&format!("http://{address}{href}"));
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("Scratch.body"), "{svg}");

    // What a person sees, kept for the README.
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("leakguard-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,720",
        ],
        &page,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[1..4], b"PNG");
    assert!(png.len() > 10_000, "a screenshot with something on it");
}
