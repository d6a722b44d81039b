//! The growth checks: [`assert_no_growth`] and its forms run a scenario several times under
//! one check, the first run warming up, and fail on what grew at every run after it: a
//! tracked collection, or, with [`Alloc`](crate::Alloc) installed, the heap the check
//! allocated.

use std::collections::HashMap;
use std::future::Future;
use std::panic::Location;

use super::{Failure, FirstGrown, Grown, fail_on, live};
use crate::accounts::Own;
use crate::harness::CheckGuard;
use crate::meta::FieldKey;
use crate::registry::Site;
use crate::task::LeakScoped;
use crate::units::{ByteSize, SignedBytes};

/// A `Type.field`'s live collections under a check, after one iteration: their figures,
/// and what the check grew them by.
#[derive(Clone, Copy, Default)]
struct Totals {
    instances: usize,
    len: usize,
    bytes: usize,
    grown: Grown,
}

/// Runs `scenario` `iterations` times and fails if some tracked collection grew on every
/// iteration after the first, which warms up: LeakCanary's repeated-scenario detection.
///
/// It looks at each `Type.field` created while it runs or changed by the scenario on this
/// thread, made before it or not: the sum of the lengths and bytes of its live collections
/// must not rise at every iteration. Of a collection made before it or elsewhere, such as a
/// `static`, only what this thread changed counts, so that a test running beside it that
/// uses the same collection neither hides its growth nor is blamed for it. The panic message names it, with
/// its growth per iteration:
///
/// ```text
/// assert_no_growth failed: 1 problem
///   History.entries grew on every one of 4 iterations after the first: +10 entries, +240 B per iteration (1 instance, len 50, 1.2 KiB now), first grown at tests/history.rs:30
/// ```
///
/// With [`Alloc`](crate::Alloc) installed, it also fails when the heap allocated inside
/// the check (on this thread, in scopes it opens, in tasks spawned
/// [`in_current_leak_scope`](crate::ScopeExt::in_current_leak_scope)) and still live rose
/// after every iteration after the first, in bytes or blocks:
///
/// ```text
///   the heap allocated inside the check grew on every one of 4 iterations after the first: +100 B, +1 blocks per iteration (500 B in 5 blocks live now)
/// ```
///
/// A static made on first use, or a buffer a runtime keeps per worker, is made in the
/// first iteration and does not grow after it: the first iteration is the warm-up.
///
/// `iterations` must be at least 3: one to warm up, and two to see growth twice in a row.
/// The panic is at the caller's line; [`check_no_growth`] returns the findings instead.
#[track_caller]
pub fn assert_no_growth(iterations: usize, scenario: impl FnMut()) {
    fail_on(no_growth("assert_no_growth", iterations, scenario));
}

/// [`assert_no_growth`] without the panic: `Err` with what grew, or with the mistake if
/// `iterations` is under 3; `Ok` if nothing grew (and always with instrumentation compiled
/// out).
pub fn check_no_growth(iterations: usize, scenario: impl FnMut()) -> Result<(), Failure> {
    no_growth("check_no_growth", iterations, scenario)
}

fn no_growth(
    name: &'static str,
    iterations: usize,
    mut scenario: impl FnMut(),
) -> Result<(), Failure> {
    too_few(name, iterations, None)?;
    let check = CheckGuard::start();
    let mut history = Vec::new();
    let mut heap = Vec::new();
    for _ in 0..iterations {
        scenario();
        // The check's own records are leakguard's memory, not the scenario's.
        let _own = Own::start();
        history.push(snapshot(&check));
        heap.push(check.heap_held());
    }
    drop(check);
    Failure::of(name, None, problems(&history, &heap))
}

/// The mistake of a growth check given under 3 iterations.
fn too_few(
    name: &'static str,
    iterations: usize,
    called_at: Option<&'static Location<'static>>,
) -> Result<(), Failure> {
    let problem = format!(
        "needs at least 3 iterations: the first warms up, and growth shows over two more, got {iterations}"
    );
    Failure::of(
        name,
        called_at,
        if iterations < 3 {
            vec![problem]
        } else {
            Vec::new()
        },
    )
}

/// [`assert_no_growth`] for a scenario that is a future, on any runtime: `scenario()` is
/// awaited `iterations` times, under a check that follows it and the tasks it spawns with
/// [`in_current_leak_scope`](crate::ScopeExt::in_current_leak_scope). The returned future is
/// `Send` when the scenario's futures are. Its panic message names the line that called it.
#[track_caller]
pub fn assert_no_growth_async<F, Fut>(iterations: usize, scenario: F) -> impl Future<Output = ()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let called_at = Location::caller();
    async move {
        fail_on(no_growth_async("assert_no_growth_async", called_at, iterations, scenario).await)
    }
}

/// [`assert_no_growth_async`] without the panic: `Err` with what grew (and the line that
/// called it), or with the mistake if `iterations` is under 3; always `Ok` with
/// instrumentation compiled out.
#[track_caller]
pub fn check_no_growth_async<F, Fut>(
    iterations: usize,
    scenario: F,
) -> impl Future<Output = Result<(), Failure>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    no_growth_async(
        "check_no_growth_async",
        Location::caller(),
        iterations,
        scenario,
    )
}

async fn no_growth_async<F, Fut>(
    name: &'static str,
    called_at: &'static Location<'static>,
    iterations: usize,
    mut scenario: F,
) -> Result<(), Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    too_few(name, iterations, Some(called_at))?;
    let check = CheckGuard::detached();
    let mut history = Vec::new();
    let mut heap = Vec::new();
    for _ in 0..iterations {
        LeakScoped::checked(scenario(), check.check).await;
        // The check's own records are leakguard's memory, not the scenario's.
        let _own = Own::start();
        history.push(snapshot(&check));
        heap.push(check.heap_held());
    }
    drop(check);
    Failure::of(name, Some(called_at), problems(&history, &heap))
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
        entry.0.grown.len += live.grown.len;
        entry.0.grown.bytes += live.grown.bytes;
        if !entry.2.is_known() {
            entry.2 = live.site;
        }
    }
    totals
}

/// What grew at every iteration after the first: each `Type.field` of `history`, then the
/// heap the check holds, `heap` after each iteration (bytes and blocks; all zero without
/// [`Alloc`](crate::Alloc)).
fn problems(
    history: &[HashMap<FieldKey, (Totals, &'static str, Site)>],
    heap: &[(u64, u64)],
) -> Vec<String> {
    let mut problems = growth(history);
    let grew_every_time = heap.windows(2).all(|w| w[1].0 > w[0].0 || w[1].1 > w[0].1);
    if let (true, Some(first), Some(&(bytes, blocks))) =
        (grew_every_time, heap.first(), heap.last())
    {
        let steps = (heap.len() - 1) as f64;
        let per_bytes = (bytes as f64 - first.0 as f64) / steps;
        let per_blocks = (blocks as f64 - first.1 as f64) / steps;
        problems.push(format!(
            "the heap allocated inside the check grew on every one of {} iterations after the first: {}, {:+} blocks per iteration ({} in {blocks} blocks live now)",
            heap.len() - 1,
            SignedBytes(per_bytes),
            per_blocks.round() as i64,
            ByteSize(bytes as usize),
        ));
    }
    problems
}

/// A line for each `Type.field` that grew at every step of `history`.
fn growth(history: &[HashMap<FieldKey, (Totals, &'static str, Site)>]) -> Vec<String> {
    let Some(last) = history.last() else {
        return Vec::new();
    };
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    for (key, (now, collection, site)) in last {
        let series: Vec<Totals> = history
            .iter()
            .map(|snapshot| snapshot.get(key).map(|(t, _, _)| *t).unwrap_or_default())
            .collect();
        let grew_every_time = series
            .windows(2)
            .all(|w| w[1].grown.bytes > w[0].grown.bytes || w[1].grown.len > w[0].grown.len);
        if !grew_every_time {
            continue;
        }
        let steps = (series.len() - 1) as f64;
        let first = series[0];
        let per_len = (now.grown.len - first.grown.len) as f64 / steps;
        let per_bytes = (now.grown.bytes - first.grown.bytes) as f64 / steps;
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
    problems.into_iter().map(|(_, line)| line).collect()
}
