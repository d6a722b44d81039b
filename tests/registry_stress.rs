//! The registry of live collections stays bounded and never deadlocks: ten million create,
//! grow and drop cycles from several threads, scoped and not, while other threads read
//! reports and run checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use leakguard::track_growth;

#[track_growth]
#[derive(Default)]
struct Request {
    headers: Vec<u32>,
}

#[track_growth(scoped)]
#[derive(Default)]
struct Scoped {
    buffer: Vec<u8>,
}

const THREADS: usize = 4;
const CYCLES: usize = 10_000_000;

#[test]
fn ten_million_cycles_leave_the_registry_at_its_baseline() {
    // Warm up: the first chunk and every thread's stock of free slots.
    let warm_up = |cycles: usize| {
        let barrier = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in 0..cycles {
                        if i % 16 == 0 {
                            let _scope = leakguard::scope("cycle");
                            let mut s = Scoped::default();
                            s.buffer.push(t as u8);
                        } else {
                            let mut r = Request::default();
                            r.headers.push(i as u32);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
    };
    warm_up(10_000);
    let baseline = leakguard::report().registry_bytes;
    assert!(baseline > 0);

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut reports = 0;
            while !stop.load(Ordering::Relaxed) {
                let report = leakguard::report();
                assert!(report.groups.iter().all(|g| g.instances <= 2 * THREADS));
                leakguard::check_now();
                reports += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            reports
        })
    };
    warm_up(CYCLES / THREADS);
    stop.store(true, Ordering::Relaxed);
    let reports = reader.join().unwrap();
    assert!(reports > 0);

    let after = leakguard::report();
    assert_eq!(
        after.registry_bytes, baseline,
        "registry memory after {CYCLES} cycles"
    );
    assert!(
        after.group("Request.headers").is_none(),
        "every collection released"
    );
    assert!(after.group("Scoped.buffer").is_none());
}
