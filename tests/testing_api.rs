//! `leakguard::testing`: leak assertions as a test suite uses them, with their exact
//! failure messages. Tests run in parallel here on purpose: each check sees only its own.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use leakguard::{testing, track_growth};

#[track_growth]
#[derive(Default)]
struct Inbox {
    #[budget(len = 3)]
    messages: Vec<String>,
    index: HashMap<u64, String>,
}

/// The message a check panicked with.
fn failure_of(check: impl FnOnce()) -> String {
    let panic = catch_unwind(AssertUnwindSafe(check)).expect_err("the check should fail");
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => panic
            .downcast::<&str>()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn a_clean_closure_passes() {
    testing::assert_no_leaks(|| {
        let mut inbox = Inbox::default();
        inbox.messages.push("hello".into());
        inbox.index.insert(1, "one".into());
    });
}

#[test]
fn a_collection_that_escapes_the_closure_fails_it_naming_the_collection() {
    let mut kept = Vec::new();
    let line = line!() + 4;
    let message = failure_of(|| {
        testing::assert_no_leaks(|| {
            let mut inbox = Inbox::default();
            inbox.messages.push("hello".to_string());
            kept.push(inbox);
        })
    });
    let bytes = 4 * 24 + 5;
    assert_eq!(
        message,
        format!(
            "assert_no_leaks failed: 1 problem\n  Inbox.messages outlived the closure: len 1, {bytes} B, first grown at {}:{line}",
            file!()
        )
    );
}

#[test]
fn going_over_budget_fails_even_if_nothing_escapes() {
    let line = line!() + 5;
    let message = failure_of(|| {
        testing::assert_no_leaks(|| {
            let mut inbox = Inbox::default();
            for i in 0..9 {
                inbox.messages.push(format!("m{i}"));
            }
        })
    });
    assert_eq!(
        message,
        format!(
            "assert_no_leaks failed: 1 problem\n  Inbox.messages went over its len budget: 7 entries > 2x 3, first grown at {}:{line}",
            file!()
        )
    );
}

#[test]
fn collections_alive_before_the_check_are_ignored() {
    let mut global = Inbox::default();
    global.index.insert(0, "before".into());
    testing::assert_no_leaks(|| {
        // Grows a collection that existed before: not the closure's.
        global.index.insert(1, "during".into());
    });
    assert_eq!(global.index.len(), 2);
}

#[test]
fn a_collection_handed_to_a_thread_that_keeps_it_is_a_leak() {
    let (send, receive) = std::sync::mpsc::channel();
    let message = failure_of(|| {
        testing::assert_no_leaks(|| {
            let mut inbox = Inbox::default();
            inbox.index.insert(7, "seven".into());
            let send = send.clone();
            std::thread::spawn(move || send.send(inbox).unwrap())
                .join()
                .unwrap();
        })
    });
    assert!(
        message.starts_with(
            "assert_no_leaks failed: 1 problem\n  Inbox.index outlived the closure: len 1, "
        ),
        "{message}"
    );
    drop(receive);
}

#[track_growth]
#[derive(Default)]
struct History {
    entries: Vec<u64>,
}

#[test]
fn a_collection_growing_at_every_iteration_fails_assert_no_growth() {
    let mut history: Option<History> = None;
    let line = line!() + 5;
    let message = failure_of(|| {
        testing::assert_no_growth(5, || {
            let history = history.get_or_insert_with(History::default);
            for i in 0..10 {
                history.entries.push(i);
            }
        })
    });
    // From 10 entries in a capacity of 16 (128 B) after the first iteration, to 50 in 64
    // (512 B) after the fifth: 96 B per iteration.
    let capacity_now = history.as_ref().unwrap().entries.capacity();
    assert_eq!(capacity_now, 64);
    assert_eq!(
        message,
        format!(
            "assert_no_growth failed: 1 problem\n  History.entries grew on every one of 4 iterations after the first: +10 entries, +96 B per iteration (1 instance, len 50, 512 B now), first grown at {}:{line}",
            file!()
        )
    );
}

/// The README's example: a server made before the checks, whose history grows with every
/// request it handles.
#[derive(Default)]
struct Server {
    history: History,
}

/// Where `handle` grows the history.
const HANDLE_LINE: u32 = line!() + 4;

impl Server {
    fn handle(&mut self, request: u64) {
        self.history.entries.push(request);
    }
}

#[test]
fn a_collection_made_before_the_check_that_grows_in_it_fails_assert_no_growth() {
    let mut server = Server::default(); // alive before the check
    server.handle(0);
    testing::assert_no_leaks(|| {
        server.handle(1); // grows, but was not made here: no leak of the closure
    });
    let message = failure_of(|| {
        testing::assert_no_growth(10, || {
            server.handle(2); // grows on every iteration
        })
    });
    assert!(
        message.starts_with(
            "assert_no_growth failed: 1 problem\n  History.entries grew on every one of 9 iterations after the first: +1 entries"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(&format!("first grown at {}:{HANDLE_LINE}", file!())),
        "{message}"
    );
}

#[test]
fn a_steady_scenario_passes_assert_no_growth() {
    let mut history = None;
    testing::assert_no_growth(5, || {
        let history: &mut History = history.get_or_insert_with(History::default);
        history.entries.clear();
        history.entries.extend(0..10);
    });
}

#[test]
#[should_panic(expected = "assert_no_growth failed: 1 problem\n  needs at least 3 iterations")]
fn assert_no_growth_needs_a_few_iterations() {
    testing::assert_no_growth(2, || {});
}

#[track_growth]
#[derive(Default)]
struct Memo {
    #[scoped_cache(max = 4)]
    hot: HashMap<u64, String>,
    #[scoped_cache(max = 4)]
    recent: Vec<u64>,
}

#[test]
fn scoped_caches_are_named_where_they_first_grew() {
    let mut kept = Vec::new();
    let line = line!() + 4;
    let message = failure_of(|| {
        testing::assert_no_leaks(|| {
            let mut memo = Memo::default();
            memo.hot.insert(1, "one".to_string());
            memo.recent.push(1);
            kept.push(memo);
        })
    });
    for (field, line) in [("Memo.hot", line), ("Memo.recent", line + 1)] {
        let expected = format!("first grown at {}:{line}", file!());
        let entry = message
            .lines()
            .find(|l| l.trim_start().starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in\n{message}"));
        assert!(entry.ends_with(&expected), "{entry}");
    }
}
