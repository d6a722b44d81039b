//! Leak assertions for tests: a leak caught by a failing test never reaches production.
//!
//! [`assert_no_leaks`] fails if a tracked collection created inside its closure outlives
//! the closure or goes over its budget. [`assert_no_growth`] runs a scenario repeatedly
//! and fails if a tracked collection grows on every iteration. Both:
//!
//! - look only at collections of the calling thread, so that tests running in parallel do
//!   not see each other's collections: [`assert_no_leaks`] at those created while it runs
//!   (one alive before the check is no leak of the closure), [`assert_no_growth`] at those
//!   and at older ones the scenario changes on this thread, such as the history of a server
//!   made before the check, and in those only at what the scenario changed, whatever other
//!   threads do to them;
//! - need no subscriber: they read leakguard's registry directly;
//! - fail with a panic whose message names each collection as `Type.field`, where it first
//!   grew, its length and its bytes. The panic is at the line of the test that called the
//!   synchronous forms; the message of the async forms names that line, as their panic is
//!   raised wherever the future is polled.
//!
//! [`check_no_leaks`], [`check_no_growth`] and their async forms check the same and return
//! the findings as a [`Failure`] instead of panicking, for tests that expect a leak.
//!
//! They check what instrumentation records, so with instrumentation compiled out they run
//! the closure and check nothing: the assertions pass and the `check_` forms return `Ok`.
//! A test that expects a finding reads [`ENABLED`](crate::ENABLED) rather than being
//! `#[should_panic]`, which fails a release test run:
//!
//! ```
//! use leakguard::{testing, track_growth};
//!
//! #[track_growth]
//! #[derive(Default)]
//! struct Inbox {
//!     messages: Vec<String>,
//! }
//!
//! let mut kept = Vec::new();
//! let result = testing::check_no_leaks(|| {
//!     let mut inbox = Inbox::default();
//!     inbox.messages.push("hello".to_string());
//!     kept.push(inbox);
//! });
//! if leakguard::ENABLED {
//!     let failure = result.unwrap_err();
//!     assert!(failure.to_string().contains("Inbox.messages outlived the closure"));
//! } else {
//!     assert!(result.is_ok()); // compiled out: nothing to check
//! }
//! ```
//!
//! A `cfg` cannot say the same: the features that decide it are leakguard's, which the
//! test's crate does not see (`debug_assertions` is wrong under the feature `release`).
//!
//! With [`Alloc`](crate::Alloc) installed as the global allocator, [`assert_no_leaks`] and
//! [`assert_no_leaks_async`] also fail when memory allocated inside the check, on its
//! thread, in scopes it opens or in tasks it spawns with
//! [`in_current_leak_scope`](crate::ScopeExt::in_current_leak_scope), is still live at its
//! end: `300 B in 1 block allocated inside the check is still live`. Checks running at
//! once each see their own. A check that ends with memory live waits up to 50 ms for it to
//! be freed, as a task's storage is, on the worker that ran it, a moment after the task
//! ended. leakguard's own memory (its registry, names, events, report history) is never
//! the check's.
//!
//! What a one-shot check cannot tell from a leak is memory kept on purpose and made on
//! first use inside it: a lazily initialized static, or a buffer a runtime keeps per worker
//! (tokio's list of yielded tasks is one). goleak and Netty keep ignore lists for these.
//! Here the growth checks avoid them by design: [`assert_no_growth`] and
//! [`assert_no_growth_async`] run the scenario several times, the first run warms up, and
//! only what grows at every run after it fails them, for the heap as for collections
//! (`the heap allocated inside the check grew on every one of 4 iterations after the first:
//! +100 B, +1 blocks per iteration (500 B in 5 blocks live now)`). What remains: a one-shot
//! [`assert_no_leaks`] of code that makes such a static reports its memory; run the code
//! once before the check, or check it with the growth form.
//!
//! A collection counts once it has held memory: one that never grew retains nothing. A
//! collection created on a thread the closure spawns is not the closure's, unless the
//! thread runs its closure through [`with_current_leak_scope`](crate::with_current_leak_scope);
//! one created by the closure and handed to such a thread is.
//!
//! ```should_panic
//! use leakguard::{testing, track_growth};
//!
//! #[track_growth]
//! #[derive(Default)]
//! struct Inbox {
//!     messages: Vec<String>,
//! }
//!
//! let mut kept = Vec::new();
//! testing::assert_no_leaks(|| {
//!     let mut inbox = Inbox::default();
//!     inbox.messages.push("hello".to_string());
//!     kept.push(inbox); // escapes the closure: the assertion fails
//! });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::Location;

use crate::harness::CheckGuard;
use crate::meta::FieldKey;
use crate::registry::{self, Site};
use crate::task::LeakScoped;
use crate::units::ByteSize;

mod growth;

pub use growth::{
    assert_no_growth, assert_no_growth_async, check_no_growth, check_no_growth_async,
};

/// One live collection made under a check, or changed by its thread.
struct Live {
    key: FieldKey,
    collection: &'static str,
    site: Site,
    len: usize,
    bytes: usize,
    /// What the check grew it by: all of it for one made under the check, and for one made
    /// outside it, what the check's thread changed in it, whatever other threads did.
    grown: Grown,
}

/// Growth that a check's scenario caused, in entries and bytes.
#[derive(Clone, Copy, Default)]
struct Grown {
    len: i64,
    bytes: i64,
}

/// Live collections made under `check`, and with `changed`, those made outside it that its
/// thread changed, with their figures.
fn live(check: &CheckGuard, changed: bool) -> Vec<Live> {
    let changes = if changed {
        check.changes()
    } else {
        HashMap::new()
    };
    let mut live = Vec::new();
    registry::for_each_live(|slot, seen| {
        let grown = if seen.test == check.check.tag {
            Grown {
                len: seen.len as i64,
                bytes: seen.bytes as i64,
            }
        } else if let Some(change) = changes.get(&slot.instance()) {
            Grown {
                len: change.len,
                bytes: change.bytes,
            }
        } else {
            return;
        };
        live.push(Live {
            key: seen.meta.key(),
            collection: seen.meta.name,
            site: seen.site,
            len: seen.len,
            bytes: seen.bytes,
            grown,
        });
    });
    live.sort_by(|a, b| a.collection.cmp(b.collection).then(a.site.cmp(&b.site)));
    live
}

/// `, first grown at tests/x.rs:12`, `, deserialized as `Body``, or nothing if unknown.
struct FirstGrown(Site);

impl fmt::Display for FirstGrown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_known() {
            write!(f, ", {}", self.0.phrase())?;
        }
        Ok(())
    }
}

/// What a failed check found: the error of [`check_no_leaks`], [`check_no_growth`] and
/// their async forms, and the message the assertions panic with.
///
/// It displays a title line, then one line per problem:
///
/// ```text
/// check_no_leaks failed: 1 problem
///   Inbox.messages outlived the closure: len 3, 96 B, first grown at tests/inbox.rs:20
/// ```
///
/// The async forms name the line they were called from, as `.. failed at tests/x.rs:12:5: 1
/// problem`.
#[derive(Clone, PartialEq, Eq)]
pub struct Failure {
    check: &'static str,
    called_at: Option<&'static Location<'static>>,
    problems: Vec<String>,
}

impl Failure {
    /// `Err` with what `check` found, if anything.
    fn of(
        check: &'static str,
        called_at: Option<&'static Location<'static>>,
        problems: Vec<String>,
    ) -> Result<(), Failure> {
        if problems.is_empty() {
            return Ok(());
        }
        Err(Failure {
            check,
            called_at,
            problems,
        })
    }

    /// One line per problem, as displayed after the title.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.check)?;
        if let Some(at) = self.called_at {
            write!(f, " at {at}")?;
        }
        match self.problems.len() {
            1 => write!(f, ": 1 problem")?,
            n => write!(f, ": {n} problems")?,
        }
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// As displayed, so that `.unwrap()` on a check prints the findings readably.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

/// Panics with `failure`'s text, at the caller of the `#[track_caller]` assertion.
#[track_caller]
fn fail_on<T>(result: Result<T, Failure>) -> T {
    match result {
        Ok(value) => value,
        Err(failure) => panic!("{failure}"),
    }
}

/// Runs `f` and fails if a tracked collection it created outlived it or went over its
/// budget.
///
/// The panic message names each collection:
///
/// ```text
/// assert_no_leaks failed: 2 problems
///   Inbox.index went over its bytes budget: 65.1 KiB > 64 KiB, first grown at tests/inbox.rs:25
///   Inbox.messages outlived the closure: len 3, 96 B, first grown at tests/inbox.rs:20
/// ```
///
/// The panic is at the caller's line. See the [module documentation](self) for what counts;
/// [`check_no_leaks`] returns the findings instead.
#[track_caller]
pub fn assert_no_leaks(f: impl FnOnce()) {
    fail_on(no_leaks("assert_no_leaks", f));
}

/// [`assert_no_leaks`] without the panic: `Err` with what it found, `Ok` if nothing (and
/// always with instrumentation compiled out).
pub fn check_no_leaks(f: impl FnOnce()) -> Result<(), Failure> {
    no_leaks("check_no_leaks", f)
}

fn no_leaks(name: &'static str, f: impl FnOnce()) -> Result<(), Failure> {
    let check = CheckGuard::start();
    f();
    for _ in 0..SETTLE_STEPS {
        if check.heap_held().1 == 0 {
            break;
        }
        std::thread::sleep(SETTLE_STEP);
    }
    let problems = leaks(&check, "closure");
    drop(check);
    Failure::of(name, None, problems)
}

/// [`assert_no_leaks`] for a future, on any runtime: what `future` creates, on whichever
/// worker polls it, and what the tasks it spawns with
/// [`in_current_leak_scope`](crate::ScopeExt::in_current_leak_scope) create, must not
/// outlive it or go over budget. Returns the future's output; fails with a panic like the
/// synchronous check, whose message names the line that called it (the panic itself is
/// raised where the future is polled).
///
/// Each check follows its own future, so tests running in parallel, on one runtime or
/// several, do not see each other's collections. The returned future is `Send` when
/// `future` is. A task still running when `future` completes holds what it made: await it
/// (or its `JoinHandle`) inside `future`.
///
/// ```
/// # use leakguard::track_growth;
/// #[track_growth]
/// #[derive(Default)]
/// struct Request {
///     body: Vec<u8>,
/// }
///
/// async fn handle() -> usize {
///     let mut request = Request::default();
///     request.body.extend_from_slice(b"GET /");
///     request.body.len()
/// }
///
/// # let waker = std::task::Waker::noop();
/// # let mut cx = std::task::Context::from_waker(&waker);
/// let check = leakguard::testing::assert_no_leaks_async(handle());
/// # let mut check = std::pin::pin!(check);
/// # assert_eq!(check.as_mut().poll(&mut cx), std::task::Poll::Ready(5));
/// ```
#[track_caller]
pub fn assert_no_leaks_async<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let called_at = Location::caller();
    async move { fail_on(no_leaks_async("assert_no_leaks_async", called_at, future).await) }
}

/// [`assert_no_leaks_async`] without the panic: the future's output, or `Err` with what it
/// found (and the line that called it); always `Ok` with instrumentation compiled out.
#[track_caller]
pub fn check_no_leaks_async<F: Future>(
    future: F,
) -> impl Future<Output = Result<F::Output, Failure>> {
    no_leaks_async("check_no_leaks_async", Location::caller(), future)
}

async fn no_leaks_async<F: Future>(
    name: &'static str,
    called_at: &'static Location<'static>,
    future: F,
) -> Result<F::Output, Failure> {
    let check = CheckGuard::detached();
    let output = LeakScoped::checked(future, check.check).await;
    let settling = std::time::Instant::now();
    while check.heap_held().1 != 0 && settling.elapsed() < SETTLE_STEP * SETTLE_STEPS {
        YieldNow(false).await;
    }
    let problems = leaks(&check, "future");
    drop(check);
    Failure::of(name, Some(called_at), problems).map(|()| output)
}

/// How long a check with memory still live waits for other threads to free it: a task's
/// storage, or a message in a channel, goes back a moment after the check's code saw the
/// task end, on the worker that ran it.
const SETTLE_STEP: std::time::Duration = std::time::Duration::from_millis(1);
const SETTLE_STEPS: u32 = 50;

/// Yields to the executor once, to let other tasks and workers run.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// What a check found: budgets crossed, and collections alive that it made; `checked` is
/// what they outlived, the closure or the future.
fn leaks(check: &CheckGuard, checked: &str) -> Vec<String> {
    let mut problems: Vec<String> = check
        .crossings()
        .into_iter()
        .map(|c| {
            format!(
                "{} went over its {} budget: {}{}",
                c.collection,
                c.crossing.limit,
                c.crossing,
                FirstGrown(c.site)
            )
        })
        .collect();
    let (bytes, blocks) = check.heap_held();
    if blocks > 0 {
        problems.push(format!(
            "{} in {blocks} {} allocated inside the check {} still live",
            ByteSize(bytes as usize),
            if blocks == 1 { "block" } else { "blocks" },
            if blocks == 1 { "is" } else { "are" },
        ));
    }
    problems.extend(live(check, false).into_iter().map(|live| {
        format!(
            "{} outlived the {checked}: len {}, {}{}",
            live.collection,
            live.len,
            ByteSize(live.bytes),
            FirstGrown(live.site)
        )
    }));
    problems
}
