//! Closures run on other threads in the caller's scope: `spawn_blocking` and
//! `std::thread::spawn` through `leakguard::with_current_leak_scope`. In its own binary: the
//! subscriber is the process's, since the closures run on threads a `set_default` would not
//! reach, and the `no_scope` warning is said once per process.

use std::sync::Mutex;

use leakguard::testing::assert_no_leaks;
use leakguard::{ScopeExt, track_growth, with_current_leak_scope};
use leakguard_support::capture::{self, Events};

fn events() -> &'static Events {
    capture::global()
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[track_growth(scoped)]
#[derive(Default)]
struct Decoded {
    rows: Vec<String>,
}

static KEPT_DECODED: Mutex<Vec<Decoded>> = Mutex::new(Vec::new());

/// A handler that decodes its body on the blocking pool, and keeps the result of one
/// request in four past its end.
async fn handle(id: u64) -> usize {
    let body = format!("{id},{id},{id}");
    tokio::task::spawn_blocking(assert_send(with_current_leak_scope(move || {
        let mut decoded = Decoded::default();
        decoded.rows.extend(body.split(',').map(str::to_string));
        let rows = decoded.rows.len();
        if id % 4 == 0 {
            KEPT_DECODED.lock().unwrap().push(decoded);
        }
        rows
    })))
    .await
    .unwrap()
}

#[test]
fn spawn_blocking_through_the_adapter_runs_in_the_handlers_scope() {
    let _ = events();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let rows = runtime.block_on(async {
        let handles: Vec<_> = (0..40)
            .map(|id| tokio::spawn(handle(id).leak_scope("handle_request")))
            .collect();
        let mut rows = 0;
        for handle in handles {
            rows += handle.await.unwrap();
        }
        rows
    });
    assert_eq!(rows, 120);
    leakguard::check_now();
    let found = events().about("outlived", "Decoded.rows");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field("scope"), Some("handle_request"));
    assert_eq!(found[0].field("instances"), Some("10"));
    assert_eq!(
        events().of_kind("no_scope"),
        vec![],
        "every value had a scope"
    );
}

#[track_growth(scoped)]
#[derive(Default)]
struct Imported {
    lines: Vec<u64>,
}

static KEPT_IMPORTED: Mutex<Vec<Imported>> = Mutex::new(Vec::new());

#[test]
fn a_plain_thread_through_the_adapter_runs_in_the_spawning_scope() {
    let _ = events();
    {
        let _span = tracing::info_span!("import").entered();
        let worker = std::thread::spawn(with_current_leak_scope(|| {
            let mut imported = Imported::default();
            imported.lines.extend(0..100);
            KEPT_IMPORTED.lock().unwrap().push(imported);
        }));
        worker.join().unwrap();
        // The thread has finished, the span has not: its value is not a leak yet.
        leakguard::check_now();
        assert_eq!(events().about("outlived", "Imported.lines"), vec![]);
    }
    leakguard::check_now();
    let found = events().about("outlived", "Imported.lines");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field("scope"), Some("import"));
    assert_eq!(
        events().of_kind("no_scope"),
        vec![],
        "every value had a scope"
    );
}

#[track_growth]
#[derive(Default)]
struct Scratch {
    buffer: Vec<u8>,
}

static KEPT_SCRATCH: Mutex<Vec<Scratch>> = Mutex::new(Vec::new());

#[test]
fn a_closure_through_the_adapter_belongs_to_the_test_check() {
    let _ = events();
    let failure = std::panic::catch_unwind(|| {
        assert_no_leaks(|| {
            std::thread::spawn(with_current_leak_scope(|| {
                let mut scratch = Scratch::default();
                scratch
                    .buffer
                    .extend_from_slice(b"kept by the thread's caller");
                KEPT_SCRATCH.lock().unwrap().push(scratch);
            }))
            .join()
            .unwrap();
        });
    })
    .expect_err("the value the thread made escaped the check");
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("Scratch.buffer outlived the closure: len 27"),
        "{message}"
    );
}
