//! The axum example's `/metrics`, scraped by a real Prometheus server (Debian's `prometheus`,
//! which `.ci/run` installs) on 127.0.0.1, and the README's queries and alerting rule asked
//! of what it scraped.

#[allow(dead_code)]
#[path = "../examples/debug_endpoint.rs"]
mod example;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;

/// The alerting rule the README shows, as a file `promtool` checks.
const RULES: &str = include_str!("../docs/leakguard-rules.yml");

/// A Prometheus server, killed when dropped, whatever the test did.
struct Prometheus {
    child: Child,
    address: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn start_prometheus(dir: &Path, target: SocketAddr) -> Prometheus {
    let config = dir.join("prometheus.yml");
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: service\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let address = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={address}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("`prometheus` runs: this test scrapes the example with a real Prometheus; install it (`apt-get install prometheus`), as .ci/run does");
    Prometheus { child, address }
}

/// A plain HTTP/1.1 GET over TCP: the status and the body.
fn get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks Prometheus for `query` now: each series' labels and value.
fn query(prometheus: &Prometheus, query: &str) -> Vec<(serde_json::Value, f64)> {
    let Some((200, body)) = get(
        prometheus.address,
        &format!("/api/v1/query?query={}", encode(query)),
    ) else {
        return Vec::new();
    };
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|series| {
            let value = series["value"][1].as_str().unwrap().parse().unwrap();
            (series["metric"].clone(), value)
        })
        .collect()
}

/// Waits until `check` holds, for at most `secs`.
fn eventually<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scratch_dir() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_readme_rule_passes_promtool() {
    let dir = scratch_dir();
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("`promtool` runs (Debian's `prometheus` package)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("SUCCESS: 1 rules found"));
}

#[test]
fn a_real_prometheus_scrapes_the_growing_collection_and_the_readme_queries_find_it() {
    let metrics = example::prometheus();
    tracing_subscriber::registry()
        .with(
            leakguard::layer()
                .sample_interval(Duration::from_millis(100))
                .unwrap(),
        )
        .init();
    example::steady_workload(2_000, Duration::from_millis(5));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let service = listener.local_addr().unwrap();
    runtime
        .spawn(async move { axum::serve(listener, example::router_with_metrics(metrics)).await });

    // Scraped once the burst is over and the bounded cache is full, as a service that has
    // run a while: the cache's gauge is flat from the first scrape on.
    eventually(60, "the burst handled and the cache full", || {
        let report = leakguard::report();
        let full = report.group("Shared.avatars").is_some_and(|g| g.len == 500);
        let served = report.group("Shared.events").is_some_and(|g| g.len > 2_000);
        (full && served).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let prometheus = start_prometheus(&scratch_dir(), service);
    let events = "leakguard_collection_bytes{collection=\"Shared.events\"}";
    let first = eventually(60, "a first scrape of Shared.events", || {
        query(&prometheus, events).first().map(|(_, v)| *v)
    });
    let second = eventually(30, "Shared.events grown at a later scrape", || {
        query(&prometheus, events)
            .first()
            .map(|(_, v)| *v)
            .filter(|v| *v > first)
    });
    assert!(second > first, "{first} -> {second}");
    println!("{events}: {first} at one scrape, {second} at a later one");

    // Bounded label sets: the collection and module from the code, Prometheus's own job and
    // instance, nothing per instance or per request.
    let series = query(&prometheus, "leakguard_collection_bytes");
    assert!(series.len() >= 4, "{series:?}");
    for (labels, _) in &series {
        let mut keys: Vec<&str> = labels
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["__name__", "collection", "instance", "job", "module"],
            "{labels}"
        );
    }

    // The README's query for the fastest-growing collections: the leaks, not the cache.
    let growing = eventually(30, "three growing collections", || {
        let top = query(
            &prometheus,
            "topk(3, deriv(leakguard_collection_bytes[1m]))",
        );
        (top.len() == 3 && top.iter().all(|(_, rate)| *rate > 0.0)).then_some(top)
    });
    println!("topk(3, deriv(leakguard_collection_bytes[1m])):");
    for (labels, rate) in &growing {
        println!("  {} {rate:.0} B/s", labels["collection"]);
    }
    let names: Vec<&str> = growing
        .iter()
        .map(|(labels, _)| labels["collection"].as_str().unwrap())
        .collect();
    for leak in ["Scratch.body", "Shared.sessions", "Shared.events"] {
        assert!(names.contains(&leak), "{leak} among {names:?}");
    }

    // The README's query for bytes per scope, with the example's `leakguard::Alloc`: the
    // request handler's scope among them, holding what the audit job keeps.
    let per_scope = eventually(30, "bytes per scope", || {
        let found = query(&prometheus, "sum by (scope) (leakguard_heap_bytes)");
        found
            .iter()
            .any(|(labels, bytes)| labels["scope"] == "handle_request" && *bytes > 0.0)
            .then_some(found)
    });
    println!("sum by (scope) (leakguard_heap_bytes):");
    for (labels, bytes) in &per_scope {
        println!("  {} {bytes:.0} B", labels["scope"]);
    }

    // The alerting rule, evaluated once against what was scraped: its expression finds the
    // leaks and not the bounded cache; Prometheus evaluates the rule without error.
    let expression = RULES
        .lines()
        .find_map(|line| line.trim().strip_prefix("expr: "))
        .expect("the rule's expression");
    let firing: Vec<String> = eventually(30, "the rule's expression over scraped data", || {
        let found = query(&prometheus, expression);
        (found.len() >= 3).then_some(found)
    })
    .iter()
    .map(|(labels, _)| labels["collection"].as_str().unwrap().to_string())
    .collect();
    println!("{expression}: {firing:?}");
    assert!(firing.iter().any(|c| c == "Shared.events"), "{firing:?}");
    assert!(!firing.iter().any(|c| c == "Shared.avatars"), "{firing:?}");
    // Growing collections hold the alert pending until they have grown for 30 minutes.
    let rules = eventually(30, "the rule pending, evaluated without error", || {
        let (status, body) = get(prometheus.address, "/api/v1/rules")?;
        (status == 200
            && body.contains("\"health\":\"ok\"")
            && body.contains("\"state\":\"pending\""))
        .then_some(body)
    });
    assert!(rules.contains("LeakguardCollectionGrowing"), "{rules}");
    assert!(
        rules.contains("\"collection\":\"Shared.events\""),
        "{rules}"
    );
    assert!(
        !rules.contains("\"collection\":\"Shared.avatars\""),
        "{rules}"
    );
}
