//! `assert_no_growth` in tests that run in parallel, as `cargo test` runs them, on one
//! process-wide collection: each check sees the growth its own scenario caused there. One
//! test grows a shared `static` once per iteration and must fail every round, naming it;
//! the other pushes and pops on the same static and must pass every round.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use leakguard::{testing, track_growth};
use leakguard_support::parallel;

#[track_growth]
static HISTORY: LazyLock<Mutex<Vec<u64>>> = LazyLock::new(Default::default);

const ROUNDS: usize = 50;

static GROWER_DONE: AtomicBool = AtomicBool::new(false);

/// The message `check` failed with, if it failed.
fn failure(check: impl FnOnce() + std::panic::UnwindSafe) -> Option<String> {
    let payload = std::panic::catch_unwind(check).err()?;
    Some(
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    )
}

#[test]
fn a_test_that_grows_a_shared_static_fails_every_round_beside_one_that_only_touches_it() {
    if !leakguard::ENABLED {
        return;
    }
    parallel::meet(2);
    let mut failed = 0;
    let mut named = 0;
    for _ in 0..ROUNDS {
        let message = failure(|| {
            testing::assert_no_growth(5, || {
                HISTORY.lock().unwrap().push(1);
                // The rest of the scenario's work, while the other test goes on.
                std::thread::sleep(Duration::from_micros(500));
            });
        });
        if let Some(message) = message {
            failed += 1;
            if message
                .contains("HISTORY grew on every one of 4 iterations after the first: +1 entries")
            {
                named += 1;
            }
        }
    }
    GROWER_DONE.store(true, SeqCst);
    assert_eq!(
        (failed, named),
        (ROUNDS, ROUNDS),
        "rounds failed, and rounds whose message named HISTORY's growth, of {ROUNDS}"
    );
}

#[test]
fn a_test_that_pushes_and_pops_on_a_shared_static_passes_beside_one_that_grows_it() {
    if !leakguard::ENABLED {
        return;
    }
    parallel::meet(2);
    let start = Instant::now();
    let mut rounds = 0;
    let mut failures = Vec::new();
    // At least as many rounds as the other test, and for as long as it runs.
    while rounds < ROUNDS
        || (!GROWER_DONE.load(SeqCst) && start.elapsed() < Duration::from_secs(20))
    {
        let message = failure(|| {
            testing::assert_no_growth(5, || {
                for _ in 0..100 {
                    let mut history = HISTORY.lock().unwrap();
                    history.push(2);
                    history.pop();
                }
            });
        });
        failures.extend(message);
        rounds += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {rounds} rounds failed, blamed for the other test's growth: {:?}",
        failures.len(),
        failures.first()
    );
}
