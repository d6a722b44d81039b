//! A request-scoped buffer captured by a spawned thread that outlives the request.
//!
//! Each request fills a buffer inside its `handle_request` span. For one request in three
//! a background "audit" job captures the buffer and keeps it long after the request ended:
//! the classic leak through a closure. leakguard reports it once the grace period is over,
//! as one leak with a count rather than once per instance.
//!
//! ```text
//! cargo run --example escaped_closure
//! ```

use std::thread;
use std::time::Duration;

use leakguard::track_growth;
use tracing_subscriber::prelude::*;

#[track_growth(scoped)]
#[derive(Default)]
struct RequestBuffer {
    chunks: Vec<Vec<u8>>,
}

fn handle_request(id: u32, audits: &mut Vec<thread::JoinHandle<usize>>) {
    let span = tracing::info_span!("handle_request", id);
    let _entered = span.enter();
    let mut buffer = RequestBuffer::default();
    buffer.chunks.push(vec![0; 16 * 1024]);
    tracing::info!(bytes = 16 * 1024, "request handled");
    if id % 3 == 0 {
        // The bug: the audit job owns the buffer, and takes its time.
        audits.push(thread::spawn(move || {
            thread::sleep(Duration::from_millis(800));
            buffer.chunks.len()
        }));
    }
}

fn main() {
    let leakguard = leakguard::layer().grace_period(Duration::from_millis(200));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(leakguard)
        .init();

    let mut audits = Vec::new();
    for id in 0..9 {
        handle_request(id, &mut audits);
    }
    // Past the grace period the audits still hold three buffers.
    thread::sleep(Duration::from_millis(400));
    leakguard::check_now();

    let audited: usize = audits.into_iter().map(|a| a.join().unwrap_or(0)).sum();
    println!("{audited} buffers audited");
}
