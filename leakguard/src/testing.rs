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
//!   made before the check;
//! - need no subscriber: they read leakguard's registry directly;
//! - fail with a panic whose message names each collection as `Type.field`, where it first
//!   grew, its length and its bytes.
//!
//! They check what instrumentation records, so with instrumentation compiled out they run
//! the closure and check nothing.
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
//! What a check cannot tell from a leak is memory kept on purpose and made on first use
//! inside it: a lazily initialized static, or a buffer a runtime keeps per worker (tokio's
//! list of yielded tasks is one). goleak and Netty keep ignore lists for these; here, run
//! the code once before the check (a warm-up), so that what it makes once already exists.
//!
//! A collection counts once it has held memory: one that never grew retains nothing. A
//! collection created on a thread the closure spawns is not the closure's; one created by
//! the closure and handed to such a thread is.
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

use crate::harness::CheckGuard;
use crate::meta::FieldKey;
use crate::registry::{self, Site};
use crate::task::LeakScoped;
use crate::units::{ByteSize, SignedBytes};

/// One live collection made under a check.
struct Live {
    key: FieldKey,
    collection: &'static str,
    site: Site,
    len: usize,
    bytes: usize,
}

/// Live collections made under `check`, and with `touched`, those its thread changed, with
/// their figures.
fn live(check: &CheckGuard, touched: bool) -> Vec<Live> {
    let mut live = Vec::new();
    registry::for_each_live(|_, seen| {
        if seen.test == check.check.tag || (touched && seen.touched == check.check.tag) {
            live.push(Live {
                key: seen.meta.key(),
                collection: seen.meta.name,
                site: seen.site,
                len: seen.len,
                bytes: seen.bytes,
            });
        }
    });
    live.sort_by(|a, b| a.collection.cmp(b.collection).then(a.site.cmp(&b.site)));
    live
}

/// `, first grown at tests/x.rs:12`, or nothing if unknown.
struct FirstGrown(Site);

impl fmt::Display for FirstGrown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_known() {
            write!(f, ", first grown at {}", self.0)?;
        }
        Ok(())
    }
}

/// The message of a failed assertion: a title line, then one line per problem.
fn failure(assertion: &str, problems: &[String]) -> String {
    let count = match problems.len() {
        1 => "1 problem".to_string(),
        n => format!("{n} problems"),
    };
    let mut message = format!("{assertion} failed: {count}");
    for problem in problems {
        message.push_str("\n  ");
        message.push_str(problem);
    }
    message
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
/// See the [module documentation](self) for what counts.
#[track_caller]
pub fn assert_no_leaks(f: impl FnOnce()) {
    let check = CheckGuard::start();
    f();
    for _ in 0..SETTLE_STEPS {
        if check.heap_held().1 == 0 {
            break;
        }
        std::thread::sleep(SETTLE_STEP);
    }
    let problems = leaks(&check);
    drop(check);
    if !problems.is_empty() {
        panic!("{}", failure("assert_no_leaks", &problems));
    }
}

/// [`assert_no_leaks`] for a future, on any runtime: what `future` creates, on whichever
/// worker polls it, and what the tasks it spawns with
/// [`in_current_leak_scope`](crate::ScopeExt::in_current_leak_scope) create, must not
/// outlive it or go over budget. Returns the future's output; fails with a panic like the
/// synchronous check.
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
pub async fn assert_no_leaks_async<F: Future>(future: F) -> F::Output {
    let check = CheckGuard::detached();
    let output = LeakScoped::checked(future, check.check).await;
    let settling = std::time::Instant::now();
    while check.heap_held().1 != 0 && settling.elapsed() < SETTLE_STEP * SETTLE_STEPS {
        YieldNow(false).await;
    }
    let problems = leaks(&check);
    drop(check);
    if !problems.is_empty() {
        panic!("{}", failure("assert_no_leaks_async", &problems));
    }
    output
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

/// What a check found: budgets crossed, and collections alive that it made.
fn leaks(check: &CheckGuard) -> Vec<String> {
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
            "{} outlived the closure: len {}, {}{}",
            live.collection,
            live.len,
            ByteSize(live.bytes),
            FirstGrown(live.site)
        )
    }));
    problems
}

/// A `Type.field`'s live collections under a check, after one iteration.
#[derive(Clone, Copy, Default)]
struct Totals {
    instances: usize,
    len: usize,
    bytes: usize,
}

/// Runs `scenario` `iterations` times and fails if some tracked collection grew on every
/// iteration after the first, which warms up: LeakCanary's repeated-scenario detection.
///
/// It looks at each `Type.field` created while it runs or changed by the scenario on this
/// thread, made before it or not: the sum of the lengths and bytes of its live collections
/// must not rise at every iteration. The panic message names it, with
/// its growth per iteration:
///
/// ```text
/// assert_no_growth failed: 1 problem
///   History.entries grew on every one of 4 iterations after the first: +10 entries, +240 B per iteration (1 instance, len 50, 1.2 KiB now), first grown at tests/history.rs:30
/// ```
///
/// `iterations` must be at least 3: one to warm up, and two to see growth twice in a row.
#[track_caller]
pub fn assert_no_growth(iterations: usize, mut scenario: impl FnMut()) {
    assert!(
        iterations >= 3,
        "assert_no_growth needs at least 3 iterations: the first warms up, and growth shows over two more, got {iterations}"
    );
    let check = CheckGuard::start();
    let mut history = Vec::new();
    for _ in 0..iterations {
        scenario();
        history.push(snapshot(&check));
    }
    drop(check);
    growth("assert_no_growth", &history);
}

/// [`assert_no_growth`] for a scenario that is a future, on any runtime: `scenario()` is
/// awaited `iterations` times, under a check that follows it and the tasks it spawns with
/// [`in_current_leak_scope`](crate::ScopeExt::in_current_leak_scope). The returned future is
/// `Send` when the scenario's futures are.
pub async fn assert_no_growth_async<F, Fut>(iterations: usize, mut scenario: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    assert!(
        iterations >= 3,
        "assert_no_growth_async needs at least 3 iterations: the first warms up, and growth shows over two more, got {iterations}"
    );
    let check = CheckGuard::detached();
    let mut history = Vec::new();
    for _ in 0..iterations {
        LeakScoped::checked(scenario(), check.check).await;
        history.push(snapshot(&check));
    }
    drop(check);
    growth("assert_no_growth_async", &history);
}

/// Each `Type.field`'s live collections under `check` and those it changed, summed.
fn snapshot(check: &CheckGuard) -> HashMap<FieldKey, (Totals, &'static str, Site)> {
    let mut totals: HashMap<FieldKey, (Totals, &'static str, Site)> = HashMap::new();
    for live in live(check, true) {
        let entry =
            totals
                .entry(live.key)
                .or_insert((Totals::default(), live.collection, live.site));
        entry.0.instances += 1;
        entry.0.len += live.len;
        entry.0.bytes += live.bytes;
        if !entry.2.is_known() {
            entry.2 = live.site;
        }
    }
    totals
}

/// Fails `assertion` for each `Type.field` that grew at every step of `history`.
fn growth(assertion: &str, history: &[HashMap<FieldKey, (Totals, &'static str, Site)>]) {
    let Some(last) = history.last() else {
        return;
    };
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    for (key, (now, collection, site)) in last {
        let series: Vec<Totals> = history
            .iter()
            .map(|snapshot| snapshot.get(key).map(|(t, _, _)| *t).unwrap_or_default())
            .collect();
        let grew_every_time = series
            .windows(2)
            .all(|w| w[1].bytes > w[0].bytes || w[1].len > w[0].len);
        if !grew_every_time {
            continue;
        }
        let steps = (series.len() - 1) as f64;
        let first = series[0];
        let per_len = (now.len as f64 - first.len as f64) / steps;
        let per_bytes = (now.bytes as f64 - first.bytes as f64) / steps;
        let instances = match now.instances {
            1 => "1 instance".to_string(),
            n => format!("{n} instances"),
        };
        problems.push((
            collection,
            format!(
                "{collection} grew on every one of {} iterations after the first: {:+} entries, {} per iteration ({instances}, len {}, {} now){}",
                series.len() - 1,
                per_len.round() as i64,
                SignedBytes(per_bytes),
                now.len,
                ByteSize(now.bytes),
                FirstGrown(*site),
            ),
        ));
    }
    problems.sort();
    if !problems.is_empty() {
        let lines: Vec<String> = problems.into_iter().map(|(_, line)| line).collect();
        panic!("{}", failure(assertion, &lines));
    }
}
