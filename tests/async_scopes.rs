//! Scopes that follow futures across the workers of a multi-thread runtime, and leak
//! assertions for async code. In its own binary: the subscriber is the process's.

use std::sync::Mutex;
use std::time::Duration;

use leakguard::testing::{assert_no_growth_async, assert_no_leaks_async};
use leakguard::{ScopeExt, track_growth};
use leakguard_support::capture::{self, Captured, Events};

fn events() -> &'static Events {
    capture::global()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// The outlived events about `collection`.
fn outlived(collection: &str) -> Vec<Captured> {
    events().about("outlived", collection)
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[track_growth(scoped)]
#[derive(Default)]
struct Upload {
    chunks: Vec<Vec<u8>>,
}

static KEPT_UPLOADS: Mutex<Vec<Upload>> = Mutex::new(Vec::new());

async fn upload(id: u64, keep: bool) {
    let mut upload = Upload::default();
    tokio::task::yield_now().await; // resumes on any worker
    upload.chunks.push(vec![0; 512]);
    tokio::task::yield_now().await;
    if keep && id % 4 == 0 {
        KEPT_UPLOADS.lock().unwrap().push(upload);
    }
}

#[test]
fn a_leak_scoped_handler_is_its_own_scope_on_any_worker() {
    let _ = events();
    let runtime = runtime();
    runtime.block_on(async {
        let handles: Vec<_> = (0..100)
            .map(|id| tokio::spawn(assert_send(upload(id, false).leak_scope("upload"))))
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    leakguard::check_now();
    assert_eq!(
        outlived("Upload.chunks"),
        vec![],
        "correct handlers are silent"
    );

    runtime.block_on(async {
        let handles: Vec<_> = (0..100)
            .map(|id| tokio::spawn(upload(id, true).leak_scope("upload")))
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    leakguard::check_now();
    let found = outlived("Upload.chunks");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field("scope"), Some("upload"));
    assert_eq!(found[0].field("instances"), Some("25"));
}

#[track_growth(scoped)]
#[derive(Default)]
struct Job {
    rows: Vec<u64>,
}

static KEPT_JOBS: Mutex<Vec<Job>> = Mutex::new(Vec::new());

async fn job(keep: bool) {
    let mut job = Job::default();
    for i in 0..10 {
        job.rows.push(i);
        tokio::task::yield_now().await; // the other branch runs in between
    }
    if keep {
        KEPT_JOBS.lock().unwrap().push(job);
    }
}

#[test]
fn futures_joined_in_one_task_each_keep_their_own_collections() {
    let _ = events();
    let runtime = runtime();
    runtime.block_on(async {
        tokio::join!(
            job(true).leak_scope("job_a"),
            job(false).leak_scope("job_b")
        );
    });
    leakguard::check_now();
    let found = outlived("Job.rows");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field("scope"), Some("job_a"), "no blame on job_b");
}

#[track_growth(scoped)]
#[derive(Default)]
struct Report {
    lines: Vec<String>,
}

static KEPT_REPORTS: Mutex<Vec<Report>> = Mutex::new(Vec::new());

#[test]
#[allow(clippy::async_yields_async)] // the request returns its task's handle, on purpose
fn a_task_spawned_with_the_adapter_belongs_to_its_parent_scope_until_it_finishes() {
    let _ = events();
    let runtime = runtime();
    let (release, hold) = tokio::sync::oneshot::channel::<()>();
    let task = runtime.block_on(
        async move {
            // The task builds a report and keeps it until released, then hands it to a
            // global: a leak of the request, found once the task and the request are done.
            tokio::spawn(
                async move {
                    let mut report = Report::default();
                    report.lines.push("total: 3".to_string());
                    let _ = hold.await;
                    KEPT_REPORTS.lock().unwrap().push(report);
                }
                .in_current_leak_scope(),
            )
        }
        .leak_scope("request"),
    );
    // The request returned; its task still runs and holds the report: not a leak yet.
    std::thread::sleep(Duration::from_millis(20));
    leakguard::check_now();
    assert_eq!(outlived("Report.lines"), vec![]);
    release.send(()).unwrap();
    runtime.block_on(task).unwrap();
    leakguard::check_now();
    let found = outlived("Report.lines");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field("scope"), Some("request"));
}

#[track_growth]
#[derive(Default)]
struct Cache {
    entries: Vec<String>,
}

static GLOBAL_CACHE: Mutex<Vec<Cache>> = Mutex::new(Vec::new());

async fn leaky_handler() {
    // The leak happens in a task the handler spawns, on another worker.
    tokio::spawn(
        async {
            let mut cache = Cache::default();
            cache.entries.push("kept".to_string());
            GLOBAL_CACHE.lock().unwrap().push(cache);
        }
        .in_current_leak_scope(),
    )
    .await
    .unwrap();
}

async fn tidy_handler() {
    tokio::spawn(
        async {
            let mut cache = Cache::default();
            cache.entries.push("dropped".to_string());
        }
        .in_current_leak_scope(),
    )
    .await
    .unwrap();
}

#[test]
fn assert_no_leaks_async_catches_a_leak_in_a_spawned_task_and_checks_stay_apart() {
    let _ = events();
    let runtime = runtime();
    runtime.block_on(async {
        // Both checks at once on one runtime: only the leaky one fails.
        let line = line!() + 1;
        let leaky = tokio::spawn(assert_send(assert_no_leaks_async(leaky_handler())));
        let tidy = tokio::spawn(assert_send(assert_no_leaks_async(tidy_handler())));
        let failure = leaky.await.unwrap_err();
        let message = failure.into_panic();
        let message = message.downcast_ref::<String>().expect("a panic message");
        // The panic is raised on a worker; its message names the test's line.
        let title = message.lines().next().unwrap();
        assert_eq!(
            title,
            format!(
                "assert_no_leaks_async failed at {}:{line}:46: 1 problem",
                file!()
            )
        );
        assert!(
            message.contains("Cache.entries outlived the future"),
            "{message}"
        );
        tidy.await.unwrap();
    });
}

static HISTORY: Mutex<Vec<Cache>> = Mutex::new(Vec::new());

#[test]
fn assert_no_growth_async_catches_what_grows_on_every_iteration() {
    let _ = events();
    let runtime = runtime();
    runtime.block_on(async {
        let line = line!() + 1;
        let grows = tokio::spawn(assert_no_growth_async(5, || async {
            let mut cache = Cache::default();
            tokio::task::yield_now().await;
            cache.entries.push("request".to_string());
            HISTORY.lock().unwrap().push(cache);
        }));
        let message = grows.await.unwrap_err().into_panic();
        let message = message.downcast_ref::<String>().unwrap();
        let called_at = format!("assert_no_growth_async failed at {}:{line}:34: ", file!());
        assert!(message.starts_with(&called_at), "{message}");
        assert!(
            message.contains("Cache.entries grew on every one of 4 iterations"),
            "{message}"
        );

        // The same without keeping anything passes.
        assert_no_growth_async(5, || async {
            let mut cache = Cache::default();
            tokio::task::yield_now().await;
            cache.entries.push("request".to_string());
        })
        .await;
    });
}

#[track_growth]
#[derive(Default)]
struct Request {
    headers: Vec<(String, String)>,
}

fn fake_request() -> u64 {
    7
}

async fn handle(id: u64) -> usize {
    let mut request = Request::default();
    tokio::task::yield_now().await;
    request.headers.push(("x-id".to_string(), id.to_string()));
    request.headers.len()
}

// The README's example, as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_handler_keeps_nothing() {
    let _ = events();
    leakguard::testing::assert_no_leaks_async(handle(fake_request())).await;
}
