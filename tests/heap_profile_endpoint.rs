//! The heap profile example's endpoint over real TCP, as scrapers and `go tool pprof` fetch
//! it: HTTP 200, a gzipped profile, `inuse_space` present and Go's sample types, read from
//! the URL by the real `go tool pprof`. The example installs `Alloc` in this binary.

#[path = "../examples/heap_profile.rs"]
mod example;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// A GET of `path` on `addr`, HTTP/1.1 over a plain socket: the status line, the head and
/// the body.
fn get(addr: std::net::SocketAddr, path: &str) -> (String, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, head, response[end + 4..].to_vec())
}

fn go_pprof(args: &[&str]) -> String {
    let output = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .output()
        .expect("`go` runs (apt-get install golang-go, as .ci/run does)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "go tool pprof {args:?}: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_endpoint_serves_go_s_heap_profile_to_scrapers_and_go_tool_pprof() {
    if !leakguard::ENABLED {
        return;
    }
    // Before the runtime: every worker's first countdown is drawn at this rate.
    leakguard::set_heap_sample_rate(4096);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, example::router()).await });
        let served = example::traffic(Duration::from_millis(1500)).await.unwrap();
        assert!(served > 20, "served {served}");
        addr
    });

    let (status, head, body) = get(addr, "/debug/pprof/heap");
    assert_eq!(status, "HTTP/1.1 200 OK", "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert_eq!(&body[..2], [0x1f, 0x8b], "gzipped");

    // What scrapers read: Go's sample types, in Go's order, and the period.
    let url = format!("http://{addr}/debug/pprof/heap");
    let raw = go_pprof(&["-raw", &url]);
    assert!(raw.contains("PeriodType: space bytes"), "{raw}");
    assert!(raw.contains("Period: 4096"), "{raw}");
    assert!(
        raw.contains(
            "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]"
        ),
        "{raw}"
    );
    // The user's command, on the URL: the upload handler's retained bytes, under its scope.
    let top = go_pprof(&["-top", "-tagroot=leak_scope", &url]);
    assert!(top.contains("Type: inuse_space"), "{top}");
    assert!(
        top.contains("example::service::upload::{{closure}}"),
        "{top}"
    );
    let upload = top
        .lines()
        .find(|line| line.trim_end().ends_with(" upload"))
        .unwrap_or_else(|| panic!("no scope `upload` at the root:\n{top}"));
    // 300 bytes kept per upload: some kB, not bytes.
    let cum = upload.split_whitespace().nth(3).unwrap_or_default();
    assert!(cum.ends_with("kB") || cum.ends_with("MB"), "{upload}");

    // `/debug/pprof/allocs` carries the same four types, alloc_space by default.
    let allocs = go_pprof(&["-raw", &format!("http://{addr}/debug/pprof/allocs")]);
    assert!(
        allocs.contains(
            "alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count inuse_space/bytes"
        ),
        "{allocs}"
    );
    // Go's text form.
    let (status, _, text) = get(addr, "/debug/pprof/heap?debug=1");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("heap profile: "), "{text}");
    assert!(text.contains("# leak_scope: upload"), "{text}");
    assert!(
        text.contains("example::service::upload::{{closure}}"),
        "{text}"
    );
    let (status, _, _) = get(addr, "/debug/pprof/heap?seconds=30");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    leakguard::set_heap_sample_rate(524_288);
}
