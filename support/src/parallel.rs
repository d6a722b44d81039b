//! Tests that must run beside each other, as `cargo test` runs the tests of a binary.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Waits, up to five seconds, until `parties` tests of this binary have called it, so that
/// they overlap; with fewer test threads than that, each goes on alone after the wait.
pub fn meet(parties: usize) {
    static ARRIVED: AtomicUsize = AtomicUsize::new(0);
    ARRIVED.fetch_add(1, SeqCst);
    let start = Instant::now();
    while ARRIVED.load(SeqCst) < parties && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
}
