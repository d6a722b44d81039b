//! leakguard's own guarantees under load, faults and bad input: it never deadlocks, never
//! panics a second time, never loses accounting, and never leaks memory of its own.
//!
//! Each scenario is a function here; [`reliability_suite!`](crate::reliability_suite) makes
//! them the tests of a test binary, so that the root package runs the suite with
//! instrumentation on and the compiled-out package (`tests/compiled-out`) runs the very same
//! suite with instrumentation off, where it must pass with no event emitted. The figures
//! quoted in the closing notes (threads, operations, faults) are the constants below.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use leakguard::{HeapSize, LeakLayer, Tracked, track_growth};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The tests share the process-wide registry and its baseline: they run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts leakguard's events, and keeps their kinds.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn kinds(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Record(Seen);

impl<S: Subscriber> Layer<S> for Record {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "leakguard" {
            return;
        }
        struct Kind(String);
        impl tracing::field::Visit for Kind {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "kind" {
                    self.0 = value.to_string();
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut kind = Kind(String::new());
        event.record(&mut kind);
        (self.0)
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(kind.0);
    }
}

/// A subscriber with the leakguard layer, checking at once, and what it sees.
fn subscriber() -> (impl Subscriber + Send + Sync, Seen) {
    let seen = Seen::default();
    let layer = leakguard::layer()
        .grace_period(Duration::ZERO)
        .rate_limit(Duration::ZERO)
        .sample_interval(Duration::from_millis(10))
        .expect("valid interval")
        .growth_samples(3)
        .expect("valid samples");
    let subscriber = tracing_subscriber::registry()
        .with(Record(seen.clone()))
        .with(layer);
    (subscriber, seen)
}

/// With instrumentation compiled out there are no events at all.
fn assert_quiet_when_off(seen: &Seen) {
    if !leakguard::ENABLED {
        assert_eq!(
            seen.kinds(),
            Vec::<String>::new(),
            "no event with instrumentation off"
        );
    }
}

#[track_growth(scoped)]
#[derive(Default)]
struct Work {
    #[budget(len = 512)]
    items: Vec<u64>,
    names: HashMap<u64, String>,
    log: String,
}

#[track_growth]
#[derive(Default)]
struct Memo {
    #[scoped_cache(max = 64, ttl = "1s")]
    hot: HashMap<u64, String>,
}

pub const THREADS: usize = 8;
pub const ROUNDS: usize = 4_000;
/// Operations per round: create, three growths, a removal, a cache insert and lookup, a
/// move to another thread, a growth there, a drop.
pub const OPS_PER_ROUND: usize = 10;

/// `THREADS` threads creating, growing, moving between threads and dropping tracked structs
/// and caches, `rounds` each; every thread returns the structs it kept. What is alive at
/// once stays well inside the registry's first chunk of slots, thread stocks included, so
/// that its memory does not depend on how the threads happen to interleave.
fn churn(rounds: usize) -> Vec<Work> {
    let ops = Arc::new(AtomicUsize::new(0));
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::sync_channel::<Work>(4)).unzip();
    let (done, finished) = mpsc::channel();
    let mut workers = Vec::new();
    for (t, receiver) in receivers.into_iter().enumerate() {
        let next = senders[(t + 1) % THREADS].clone();
        let done = done.clone();
        let ops = ops.clone();
        workers.push(std::thread::spawn(move || {
            let mut kept: Vec<Work> = Vec::new();
            let mut memo = Memo::default();
            for r in 0..rounds {
                let _scope = leakguard::scope("round");
                let mut work = Work::default();
                for i in 0..(r % 7) as u64 {
                    work.items.push(i);
                }
                work.names.insert(r as u64, format!("work {r}"));
                work.log.push_str("started;");
                work.names.remove(&(r as u64 + 1));
                memo.hot.insert((r % 100) as u64, "hit".into());
                let _ = memo.hot.get(&((r % 50) as u64));
                // Hand every other one over; keep what comes back, within a bound.
                if r % 2 == 0 {
                    let _ = next.try_send(work);
                } else {
                    kept.push(work);
                }
                while let Ok(mut arrived) = receiver.try_recv() {
                    arrived.log.push_str("moved;");
                    kept.push(arrived);
                }
                if kept.len() > 8 {
                    kept.drain(..4);
                }
                ops.fetch_add(OPS_PER_ROUND, Ordering::Relaxed);
            }
            let _ = done.send((t, kept));
        }));
    }
    drop(done);
    drop(senders);
    let mut all = Vec::new();
    for _ in 0..THREADS {
        // A deadlock shows as a timeout here rather than a hung test run.
        let (_, kept) = finished
            .recv_timeout(Duration::from_secs(120))
            .expect("every worker finishes: no deadlock");
        all.extend(kept);
    }
    // Each worker drops what is left in its channel, and hands its free registry slots
    // back, as it exits: wait for that, so that the figures that follow are settled.
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    assert_eq!(
        ops.load(Ordering::Relaxed),
        THREADS * rounds * OPS_PER_ROUND
    );
    all
}

pub fn concurrent_churn_neither_deadlocks_nor_loses_figures_nor_grows_the_registry() {
    let _serial = serial();
    let (subscriber, seen) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);

    drop(churn(ROUNDS / 10));
    let baseline = leakguard::report().registry_bytes;

    let mut kept = churn(ROUNDS);
    assert!(!kept.is_empty());
    // The figures add up: each group of the report is the sum of its live collections.
    for work in &mut kept {
        Tracked::measure(&mut work.items);
        Tracked::measure(&mut work.names);
        Tracked::measure(&mut work.log);
    }
    let report = leakguard::report();
    for (group, bytes, live) in [
        (
            "Work.items",
            kept.iter().map(|w| Tracked::bytes(&w.items)).sum::<usize>(),
            kept.iter().filter(|w| w.items.heap_size() > 0).count(),
        ),
        (
            "Work.names",
            kept.iter().map(|w| Tracked::bytes(&w.names)).sum(),
            kept.iter().filter(|w| w.names.heap_size() > 0).count(),
        ),
        (
            "Work.log",
            kept.iter().map(|w| Tracked::bytes(&w.log)).sum(),
            kept.iter().filter(|w| w.log.heap_size() > 0).count(),
        ),
    ] {
        match (report.group(group), leakguard::ENABLED) {
            (Some(g), true) => {
                assert_eq!(g.bytes, bytes, "{group}");
                assert_eq!(g.instances, live, "{group}");
            }
            (None, false) => {}
            (found, enabled) => panic!(
                "{group}: {} in the report with instrumentation {}",
                if found.is_some() { "present" } else { "absent" },
                if enabled { "on" } else { "off" }
            ),
        }
    }
    drop(kept);
    let after = leakguard::report();
    assert!(after.group("Work.items").is_none());
    assert_eq!(
        after.registry_bytes, baseline,
        "registry memory back at its baseline"
    );
    assert_quiet_when_off(&seen);
}

#[track_growth]
#[derive(Default)]
struct Inbox {
    messages: Vec<String>,
    index: HashMap<u64, String>,
}

/// Accounting is whole: the running figure of each field is its measured size.
fn assert_whole(inbox: &Inbox) {
    assert_eq!(Tracked::bytes(&inbox.messages), inbox.messages.heap_size());
    assert_eq!(Tracked::bytes(&inbox.index), inbox.index.heap_size());
}

/// Faults injected by this suite, for the closing notes.
pub const FAULTS: [&str; 7] = [
    "a panic in a `retain` predicate, mid-retain",
    "a panic while a field is borrowed mutably through `DerefMut`",
    "a panic in an element's `Drop` during `clear`",
    "every lock inside leakguard poisoned",
    "the subscriber dropped while the sampler runs",
    "the layer installed after collections exist",
    "a panic inside the closure of `testing::assert_no_leaks`",
];

pub fn a_panic_in_user_code_mid_operation_loses_no_accounting() {
    let _serial = serial();
    let mut inbox = Inbox::default();
    for i in 0..100 {
        inbox.messages.push(format!("message {i}"));
        inbox.index.insert(i, "x".repeat(i as usize));
    }
    let mut checked = 0;
    let result = catch_unwind(AssertUnwindSafe(|| {
        inbox.messages.retain(|m| {
            checked += 1;
            assert!(checked < 50, "boom in a retain predicate");
            !m.ends_with('3')
        });
    }));
    assert!(result.is_err());
    assert_whole(&inbox);

    let result = catch_unwind(AssertUnwindSafe(|| {
        let raw: &mut HashMap<u64, String> = &mut inbox.index;
        raw.insert(1_000, "grown through &mut".repeat(10));
        panic!("boom while borrowed mutably");
    }));
    assert!(result.is_err());
    // A change made through `&mut` is picked up when the field is next measured.
    Tracked::measure(&mut inbox.index);
    assert_whole(&inbox);
    inbox.messages.push("still usable".into());
    assert_whole(&inbox);
}

/// An element whose drop panics once.
struct Grenade(bool, String);

impl HeapSize for Grenade {
    fn heap_size(&self) -> usize {
        self.1.heap_size()
    }
}

impl Drop for Grenade {
    fn drop(&mut self) {
        if self.0 {
            panic!("boom in Drop");
        }
    }
}

#[track_growth]
#[derive(Default)]
struct Armory {
    grenades: Vec<Grenade>,
}

pub fn a_panic_in_an_element_drop_during_clear_loses_no_accounting() {
    let _serial = serial();
    let mut armory = Armory::default();
    for i in 0..10 {
        armory.grenades.push(Grenade(i == 4, "pin".repeat(i)));
    }
    let result = catch_unwind(AssertUnwindSafe(|| armory.grenades.clear()));
    assert!(result.is_err());
    assert_eq!(
        Tracked::bytes(&armory.grenades),
        armory.grenades.heap_size()
    );
    armory.grenades.push(Grenade(false, "safe".into()));
    assert_eq!(
        Tracked::bytes(&armory.grenades),
        armory.grenades.heap_size()
    );
}

pub fn poisoned_locks_inside_leakguard_cause_no_second_panic() {
    let _serial = serial();
    let (subscriber, seen) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    leakguard::__hooks::poison_internal_locks();

    // Registration, figures, scopes, checks, reports and test checks all carry on.
    let kept = {
        let _scope = leakguard::scope("poisoned");
        let mut work = Work::default();
        work.items.extend(0..600);
        work
    };
    leakguard::check_now();
    let report = leakguard::report();
    leakguard::testing::assert_no_leaks(|| {
        let mut inbox = Inbox::default();
        inbox.messages.push("fine".into());
    });
    if leakguard::ENABLED {
        assert_eq!(report.group("Work.items").map(|g| g.len), Some(600));
        let kinds = seen.kinds();
        assert!(kinds.contains(&"over_budget".to_string()), "{kinds:?}");
        assert!(kinds.contains(&"outlived".to_string()), "{kinds:?}");
    }
    assert_eq!(kept.items.len(), 600);
    assert_quiet_when_off(&seen);
}

pub fn a_dropped_subscriber_leaves_the_sampler_and_checks_harmless() {
    let _serial = serial();
    let kept;
    {
        let (subscriber, _seen) = subscriber();
        let _guard = tracing::subscriber::set_default(subscriber);
        kept = {
            let _scope = leakguard::scope("dropped");
            let mut work = Work::default();
            work.items.push(1);
            work
        };
    }
    // The subscriber is gone; the sampler ticks every 10 ms and checks run.
    std::thread::sleep(Duration::from_millis(50));
    leakguard::check_now();
    drop(kept);
}

pub fn a_layer_installed_after_collections_exist_sees_them() {
    let _serial = serial();
    #[track_growth]
    #[derive(Default)]
    struct Early {
        rows: Vec<u64>,
    }
    let mut early = Early::default();
    early.rows.extend(0..10);

    let (subscriber, seen) = subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let report = leakguard::report();
    // Growth that started before the layer is seen by its sampler.
    let mut grew = false;
    let tries = if leakguard::ENABLED { 400 } else { 5 };
    for _ in 0..tries {
        early.rows.extend(0..64);
        std::thread::sleep(Duration::from_millis(5));
        if seen.kinds().contains(&"suspected_leak".to_string()) {
            grew = true;
            break;
        }
    }
    if leakguard::ENABLED {
        assert_eq!(report.group("Early.rows").map(|g| g.len), Some(10));
        assert!(grew, "the sampler saw the growth");
    } else {
        assert!(report.groups.is_empty());
    }
    assert_quiet_when_off(&seen);
}

pub fn a_panic_inside_a_test_check_leaves_no_check_behind() {
    let _serial = serial();
    let result = catch_unwind(|| {
        leakguard::testing::assert_no_leaks(|| panic!("boom in the checked closure"));
    });
    assert!(result.is_err());
    // The check unwound: a collection created now is nobody's.
    let mut inbox = Inbox::default();
    inbox.messages.push("after".into());
    leakguard::testing::assert_no_leaks(|| {});
}

pub fn bad_runtime_configuration_is_an_error_naming_the_setting() {
    let _serial = serial();
    for (variable, value, reason) in [
        ("LEAKGUARD_GRACE_PERIOD", "soon", "not a duration"),
        ("LEAKGUARD_SAMPLE_INTERVAL", "0s", "must be at least 1 ms"),
        ("LEAKGUARD_SAMPLE_INTERVAL", "1ns", "must be at least 1 ms"),
        ("LEAKGUARD_SAMPLE_INTERVAL", "5", "not a duration"),
        ("LEAKGUARD_GROWTH_SAMPLES", "1", "must be at least 2"),
        ("LEAKGUARD_GROWTH_SAMPLES", "many", "not a whole number"),
        (
            "LEAKGUARD_GROWTH_SAMPLES",
            "4294967296",
            "too large: at most 4294967295",
        ),
        ("LEAKGUARD_RATE_LIMIT", "-1s", "not a duration"),
        ("LEAKGUARD_REPORT_EVERY", "0ms", "must be longer than zero"),
    ] {
        let error = LeakLayer::from_vars(|name| (name == variable).then(|| value.to_string()))
            .expect_err(variable);
        assert_eq!(error.setting(), variable);
        let text = error.to_string();
        assert!(
            text.starts_with(&format!(
                "invalid environment variable {variable}={value:?}: {reason}"
            )),
            "{text}"
        );
    }
    // A megabyte of garbage is named, not repeated.
    let huge = "9".repeat(1 << 20);
    let error =
        LeakLayer::from_vars(|name| (name == "LEAKGUARD_GRACE_PERIOD").then(|| format!("{huge}x")))
            .expect_err("not a duration");
    let text = error.to_string();
    assert!(text.len() < 400, "{} bytes: {}", text.len(), &text[..200]);
    assert!(
        text.starts_with(&format!(
            "invalid environment variable LEAKGUARD_GRACE_PERIOD=\"{}… (1048577 bytes)\": not a duration",
            &huge[..64]
        )),
        "{text}"
    );
    let fine = LeakLayer::from_vars(|name| match name {
        "LEAKGUARD_GRACE_PERIOD" => Some("250ms".into()),
        "LEAKGUARD_GROWTH_SAMPLES" => Some(" 7 ".into()),
        _ => None,
    });
    assert!(fine.is_ok());
    for (built, setting) in [
        (
            leakguard::layer().sample_interval(Duration::ZERO).err(),
            "sample_interval",
        ),
        (
            leakguard::layer().report_every(Duration::ZERO).err(),
            "report_every",
        ),
        (leakguard::layer().growth_samples(0).err(), "growth_samples"),
        (
            leakguard::layer().hoarded_capacity(4, 0).err(),
            "hoarded_capacity",
        ),
    ] {
        assert_eq!(built.map(|e| e.setting()), Some(setting));
    }
    let cache = leakguard::ScopedCache::builder().max(0).build::<u64, u64>();
    assert_eq!(cache.err().map(|e| e.setting()), Some("max"));
}

/// The reliability suite as the tests of the test binary that invokes it.
#[macro_export]
macro_rules! reliability_suite {
    () => {
        #[test]
        fn concurrent_churn_neither_deadlocks_nor_loses_figures_nor_grows_the_registry() {
            $crate::reliability::concurrent_churn_neither_deadlocks_nor_loses_figures_nor_grows_the_registry();
        }

        #[test]
        fn a_panic_in_user_code_mid_operation_loses_no_accounting() {
            $crate::reliability::a_panic_in_user_code_mid_operation_loses_no_accounting();
        }

        #[test]
        fn a_panic_in_an_element_drop_during_clear_loses_no_accounting() {
            $crate::reliability::a_panic_in_an_element_drop_during_clear_loses_no_accounting();
        }

        #[test]
        fn poisoned_locks_inside_leakguard_cause_no_second_panic() {
            $crate::reliability::poisoned_locks_inside_leakguard_cause_no_second_panic();
        }

        #[test]
        fn a_dropped_subscriber_leaves_the_sampler_and_checks_harmless() {
            $crate::reliability::a_dropped_subscriber_leaves_the_sampler_and_checks_harmless();
        }

        #[test]
        fn a_layer_installed_after_collections_exist_sees_them() {
            $crate::reliability::a_layer_installed_after_collections_exist_sees_them();
        }

        #[test]
        fn a_panic_inside_a_test_check_leaves_no_check_behind() {
            $crate::reliability::a_panic_inside_a_test_check_leaves_no_check_behind();
        }

        #[test]
        fn bad_runtime_configuration_is_an_error_naming_the_setting() {
            $crate::reliability::bad_runtime_configuration_is_an_error_naming_the_setting();
        }
    };
}
