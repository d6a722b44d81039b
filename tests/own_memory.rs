//! leakguard's own memory follows what is live, not time: a scenario repeated many times
//! leaves no more behind than a stated constant. Measured with a counting allocator over the
//! whole process, in its own binary and in one test, so that nothing else allocates
//! meanwhile.

use std::time::Duration;

use leakguard::track_growth;
use leakguard_support::alloc::{Counting, process_live_bytes};
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static ALLOC: Counting = Counting;

#[track_growth(scoped)]
#[derive(Default)]
struct Request {
    body: Vec<u8>,
}

#[track_growth]
#[derive(Default)]
struct Job {
    rows: Vec<u64>,
}

/// Bytes the process keeps after `scenario`, which runs after one warm-up round.
fn retained(name: &str, mut scenario: impl FnMut()) -> isize {
    scenario();
    let before = process_live_bytes();
    scenario();
    let kept = process_live_bytes() - before;
    eprintln!("{name}: {kept} B retained");
    kept
}

/// A request in an explicit scope, growing a scoped collection and dropping it.
fn request() {
    let _scope = leakguard::scope("request");
    let mut request = Request::default();
    request.body.extend_from_slice(b"GET / HTTP/1.1");
}

#[test]
fn leakguards_own_memory_is_bounded_by_what_is_live() {
    // 100,000 scope guards without a layer: once 85 B each, forever.
    let scopes = retained("100,000 scope guards", || {
        for _ in 0..100_000 {
            request();
            let _empty = leakguard::scope("nothing scoped");
        }
    });
    assert!(scopes <= 4 * 1024, "{scopes} B retained by 100,000 scopes");

    // 10,000 subscribers with the layer, each used once and dropped: once 687 B each.
    let subscribers = retained("10,000 subscribers", || {
        for _ in 0..10_000 {
            let subscriber = tracing_subscriber::registry().with(leakguard::layer());
            tracing::subscriber::with_default(subscriber, request);
        }
    });
    assert!(
        subscribers <= 16 * 1024,
        "{subscribers} B retained by 10,000 subscribers"
    );

    // 20,000 threads, 100 at a time, each registering a collection: once a stock of 32
    // slots each, never returned.
    let threads = retained("20,000 threads", || {
        for _ in 0..200 {
            let batch: Vec<_> = (0..100)
                .map(|_| {
                    std::thread::spawn(|| {
                        let mut job = Job::default();
                        job.rows.push(1);
                    })
                })
                .collect();
            for thread in batch {
                thread.join().unwrap();
            }
        }
    });
    assert!(
        threads <= 16 * 1024,
        "{threads} B retained by 20,000 threads"
    );

    // 20,000 distinct leaks, each its own fingerprint, in one subscriber's rate table: the
    // table keeps 4,096 at most, with scope names of 128 bytes at most, and what does not
    // fit is counted, not emitted: once, past 4,096 the table was cleared and every leak of
    // every round was emitted again.
    let (capture, events) = leakguard_support::capture::layer();
    // The sampler's table follows the 40,000 collections this keeps alive: it samples once
    // an hour here, so that what is measured is the check's alone.
    let layer = leakguard::layer()
        .grace_period(Duration::ZERO)
        .sample_interval(Duration::from_secs(3600))
        .unwrap();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture).with(layer));
    let mut kept = Vec::with_capacity(2 * 20_000);
    let mut checks = Vec::new();
    for round in 0..2 {
        for i in 0..20_000 {
            let name = format!("request-{round}-{i}-{}", "x".repeat(200));
            let _scope = leakguard::scope(name);
            let mut request = Request::default();
            request.body.push(1);
            kept.push(request);
        }
        // The collections and their scopes are the test's: measure the check alone.
        let before = process_live_bytes();
        leakguard::check_now();
        let emitted = events.of_kind("outlived").len();
        events.clear(); // what the capture keeps is the test's
        checks.push((process_live_bytes() - before, emitted));
    }
    eprintln!("20,000 fingerprints, twice: {checks:?} (bytes kept by the check, events)");
    assert!(
        checks[0].0 <= 3 << 20,
        "{} B kept by the first check",
        checks[0].0
    );
    assert!(
        checks[1].0 <= 4 * 1024,
        "{} B kept by the second check",
        checks[1].0
    );
    assert_eq!(checks[0].1, 4096, "the table's worth of leaks is emitted");
    assert_eq!(checks[1].1, 0, "within the window, nothing more");
    assert_eq!(kept.len(), 40_000);
}
