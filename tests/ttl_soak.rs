//! TTL soak: caches written to for a long time give their memory back once entries expire,
//! down to the empty baseline, as a counting allocator sees it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use leakguard::{HeapSize, ManualClock, Tracked, track_growth};
use leakguard_support::alloc::{Counting, live_bytes, warm_up_registry};

#[global_allocator]
static ALLOC: Counting = Counting;

#[track_growth]
#[derive(Default)]
struct Service {
    #[scoped_cache(max = 5_000, ttl = "50ms")]
    sessions: HashMap<String, Vec<u8>>,
    #[scoped_cache(ttl = "50ms")]
    seen: HashSet<u64>,
    #[scoped_cache(ttl = "50ms")]
    events: VecDeque<String>,
}

#[test]
fn live_bytes_return_to_the_empty_baseline_on_a_manual_clock() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    warm_up_registry();
    let baseline = live_bytes();
    let mut service = Service::default();
    let empty = live_bytes() - baseline;
    assert_eq!(empty, 0, "an empty service allocates nothing");

    let mut peak = 0;
    for i in 0..200_000u64 {
        service
            .sessions
            .insert(format!("session-{}", i % 20_000), vec![0; 64]);
        service.seen.insert(i);
        service.events.push_back(format!("event {i}"));
        if i % 100 == 0 {
            clock.advance(Duration::from_millis(1));
        }
        peak = peak.max(live_bytes() - baseline);
        // Bounded while written to: about 50 ms worth of entries.
        assert!(
            service.seen.len() <= 5_100,
            "{} values held",
            service.seen.len()
        );
        assert!(service.sessions.len() <= 5_000);
    }
    let held = live_bytes() - baseline;
    assert_eq!(
        held as usize,
        service.heap_size(),
        "accounting is exact while written to"
    );
    assert!(held > 0 && peak < 64 << 20, "peak {peak}");

    clock.advance(Duration::from_millis(60));
    // `contains` reads through `&self`, like `HashSet::contains`: it releases nothing.
    assert!(!service.seen.contains(&1));
    // Past the idle period, each operation on a field releases a bounded share of what
    // expired (a 512th of its store, eight entries at the least): within a thousand
    // operations the service is back to its empty baseline. A lookup releases before it
    // looks, and leaves what it finds due to the operation after it.
    assert!(service.sessions.get("session-1").is_none());
    assert_eq!(service.sessions.len(), service.sessions.expired_len());
    let mut operations = 1;
    while !service.sessions.is_empty() || !service.seen.is_empty() || !service.events.is_empty() {
        assert!(service.sessions.get("session-2").is_none());
        assert!(!service.seen.remove(&1));
        service.events.pop_front();
        operations += 1;
        assert!(
            operations <= 1_000,
            "still {} sessions",
            service.sessions.len()
        );
    }
    assert_eq!(live_bytes() - baseline, 0, "back to the empty baseline");
    assert_eq!(service.heap_size(), 0);
    assert_eq!(Tracked::bytes(&service.sessions), 0);
    assert_eq!(
        service.sessions.stats().expirations + service.sessions.stats().evictions,
        200_000
    );
}

#[test]
fn live_bytes_return_to_the_empty_baseline_on_the_system_clock() {
    warm_up_registry();
    let baseline = live_bytes();
    let mut service = Service::default();
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < Duration::from_millis(300) {
        service.sessions.insert(format!("session-{i}"), vec![0; 64]);
        service.seen.insert(i);
        i += 1;
        // About 50 ms worth of entries at most, plus what a sweep has yet to release.
        assert!(service.sessions.len() <= 5_000);
    }
    assert!(live_bytes() - baseline > 0);
    std::thread::sleep(Duration::from_millis(200));
    service.sessions.insert("after".into(), vec![0; 64]);
    service.seen.insert(u64::MAX);
    std::thread::sleep(Duration::from_millis(400));
    let mut operations = 0;
    while !service.sessions.is_empty() {
        assert!(service.sessions.get("after").is_none());
        operations += 1;
        assert!(
            operations <= 1_000,
            "still {} sessions",
            service.sessions.len()
        );
    }
    assert!(!service.seen.contains(&u64::MAX));
    service.seen.purge_expired();
    assert_eq!(service.sessions.len(), 0);
    assert_eq!(service.seen.len(), 0);
    assert_eq!(
        live_bytes() - baseline,
        0,
        "back to the empty baseline after {i} writes"
    );
}
