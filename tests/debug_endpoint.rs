//! The debug endpoint as the example mounts it in axum, fetched over a real TCP connection.

#[allow(dead_code)]
#[path = "../examples/debug_endpoint.rs"]
mod example;

use std::io::{Read, Write};
use std::net::TcpStream;

/// A plain HTTP/1.1 GET over TCP: the status code, the headers and the body.
fn get(address: std::net::SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

/// The body of a chunked response.
fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line = chunked.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&chunked[..line]).unwrap(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunked[line + 2..line + 2 + size]);
        chunked = &chunked[line + 2 + size + 2..];
    }
}

#[test]
fn each_route_is_served_over_tcp_by_the_axum_example() {
    example::workload(3_000).join().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, example::router()).await });

    let (status, head, body) = get(address, "/debug/leakguard/heap");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("application/octet-stream"), "{head}");
    assert_eq!(&body[..2], [0x1f, 0x8b], "a gzipped profile");

    let (status, _, body) = get(address, "/debug/leakguard/report");
    assert_eq!(status, 200);
    let table = String::from_utf8(body).unwrap();
    for leak in ["Shared.sessions", "Shared.events", "Scratch.body"] {
        assert!(table.contains(leak), "{table}");
    }

    let (status, _, body) = get(address, "/debug/leakguard/report.json");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json["groups"].is_array());

    let (status, _, body) = get(address, "/debug/leakguard/folded");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains(";Shared.sessions;")
    );

    let (status, head, body) = get(address, "/debug/leakguard/flamegraph.svg");
    assert_eq!(status, 200);
    assert!(head.contains("image/svg+xml"), "{head}");
    assert!(String::from_utf8(body).unwrap().contains("Shared.sessions"));

    let (status, _, body) = get(address, "/debug/leakguard/nothing");
    assert_eq!(status, 404);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("no leakguard route")
    );
    let (status, _, _) = get(address, "/debug/leakguard/heap?seconds=30");
    assert_eq!(status, 400);
}
