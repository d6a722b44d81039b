//! `leakguard::testing` as a test suite uses it: failures point at the test's own line, and
//! the `check_` forms hand back the findings as an error instead of panicking, sync and on
//! a multi-thread runtime. In its own binary: it installs a panic hook.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::ThreadId;

use leakguard::testing::{self, Failure};
use leakguard::track_growth;

/// Where each thread last panicked, as the panic hook saw it.
fn panic_sites() -> &'static Mutex<HashMap<ThreadId, String>> {
    static SITES: OnceLock<Mutex<HashMap<ThreadId, String>>> = OnceLock::new();
    SITES.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location() {
                let site = format!("{}:{}", at.file(), at.line());
                let mut sites = panic_sites().lock().unwrap_or_else(|e| e.into_inner());
                sites.insert(std::thread::current().id(), site);
            }
            default(info);
        }));
        Mutex::new(HashMap::new())
    })
}

/// Where `check` panicked on this thread, and its message.
fn panic_of(check: impl FnOnce()) -> (String, String) {
    let _ = panic_sites();
    let panic = catch_unwind(AssertUnwindSafe(check)).expect_err("the check should fail");
    let message = panic.downcast::<String>().map(|m| *m).unwrap_or_default();
    let site = panic_sites()
        .lock()
        .unwrap()
        .remove(&std::thread::current().id())
        .expect("the hook saw the panic");
    (site, message)
}

/// `file:line` of this file at `line`.
fn here(line: u32) -> String {
    format!("{}:{line}", file!())
}

#[track_growth]
#[derive(Default)]
struct Session {
    #[budget(len = 3)]
    events: Vec<String>,
}

#[derive(Default)]
struct Server {
    sessions: Vec<Session>,
}

impl Server {
    fn handle(&mut self, keep: bool) {
        let mut session = Session::default();
        session.events.push("login".to_string());
        if keep {
            self.sessions.push(session);
        }
    }
}

#[test]
fn assert_no_leaks_fails_at_the_tests_line() {
    let mut server = Server::default();
    let (site, message) = panic_of(|| testing::assert_no_leaks(|| server.handle(true)));
    assert_eq!(site, here(line!() - 1));
    assert!(
        message.starts_with(
            "assert_no_leaks failed: 1 problem\n  Session.events outlived the closure: len 1"
        ),
        "{message}"
    );
}

#[test]
fn assert_no_growth_fails_at_the_tests_line() {
    let mut server = Server::default();
    let (site, message) = panic_of(|| testing::assert_no_growth(4, || server.handle(true)));
    assert_eq!(site, here(line!() - 1));
    assert!(
        message.contains("Session.events grew on every one of 3 iterations after the first"),
        "{message}"
    );

    let (site, message) = panic_of(|| testing::assert_no_growth(2, || server.handle(false)));
    assert_eq!(site, here(line!() - 1));
    assert_eq!(
        message,
        "assert_no_growth failed: 1 problem\n  needs at least 3 iterations: the first warms up, and growth shows over two more, got 2"
    );
}

#[test]
fn check_no_leaks_returns_the_findings_instead_of_panicking() {
    let mut server = Server::default();
    assert_eq!(testing::check_no_leaks(|| server.handle(false)), Ok(()));

    let line = line!() + 4;
    let failure: Failure = testing::check_no_leaks(|| {
        let mut session = Session::default();
        for i in 0..4 {
            session.events.push(format!("event {i}"));
        }
        server.sessions.push(session);
    })
    .unwrap_err();
    let kept = &server.sessions[0].events;
    let bytes =
        kept.capacity() * size_of::<String>() + kept.iter().map(String::capacity).sum::<usize>();
    assert_eq!(
        failure.to_string(),
        format!(
            "check_no_leaks failed: 2 problems\n  Session.events went over its len budget: 4 entries > 3, first grown at {site}\n  Session.events outlived the closure: len 4, {bytes} B, first grown at {site}",
            site = here(line)
        )
    );
    assert_eq!(failure.problems().len(), 2);
    // `.unwrap()` on it prints the same report, not an escaped string.
    assert_eq!(format!("{failure:?}"), failure.to_string());
}

#[test]
fn check_no_growth_returns_what_grew_or_the_mistake() {
    let server = Arc::new(RwLock::new(Server::default()));
    let steady = testing::check_no_growth(5, || server.write().unwrap().handle(false));
    assert_eq!(steady, Ok(()));

    let failure = testing::check_no_growth(5, || server.write().unwrap().handle(true))
        .expect_err("the sessions grow on every request");
    assert_eq!(failure.problems().len(), 1, "{failure}");
    assert!(
        failure.to_string().starts_with(
            "check_no_growth failed: 1 problem\n  Session.events grew on every one of 4 iterations after the first: +1 entries"
        ),
        "{failure}"
    );

    let mistake = testing::check_no_growth(1, || {}).unwrap_err();
    assert_eq!(
        mistake.to_string(),
        "check_no_growth failed: 1 problem\n  needs at least 3 iterations: the first warms up, and growth shows over two more, got 1"
    );
}

#[track_growth]
#[derive(Default, serde::Deserialize)]
struct Upload {
    parts: Vec<String>,
}

static KEPT_UPLOADS: Mutex<Vec<Upload>> = Mutex::new(Vec::new());

async fn upload(body: &str, keep: bool) -> usize {
    let upload: Upload = serde_json::from_str(body).unwrap();
    tokio::task::yield_now().await; // resumes on any worker
    let parts = upload.parts.len();
    if keep {
        KEPT_UPLOADS.lock().unwrap().push(upload);
    }
    parts
}

#[test]
fn the_async_checks_return_the_findings_and_name_the_calling_line() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let body = r#"{"parts": ["a", "b", "c"]}"#;
    runtime.block_on(async {
        let clean = tokio::spawn(testing::check_no_leaks_async(upload(body, false)));
        assert_eq!(clean.await.unwrap(), Ok(3));

        let line = line!() + 1;
        let leaky = tokio::spawn(testing::check_no_leaks_async(upload(body, true)));
        let failure = leaky.await.unwrap().unwrap_err();
        let message = failure.to_string();
        let title = format!(
            "check_no_leaks_async failed at {}:34: 1 problem",
            here(line)
        );
        assert!(message.starts_with(&title), "{message}");
        assert!(
            message.contains("\n  Upload.parts outlived the future: len 3"),
            "{message}"
        );

        let steady = testing::check_no_growth_async(4, || async {
            upload(body, false).await;
        });
        assert_eq!(steady.await, Ok(()));
        let grows = testing::check_no_growth_async(4, || async {
            upload(body, true).await;
        });
        let failure = grows.await.unwrap_err();
        assert!(
            failure
                .to_string()
                .contains("Upload.parts grew on every one of 3 iterations after the first"),
            "{failure}"
        );
    });
}
