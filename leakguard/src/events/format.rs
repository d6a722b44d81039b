//! The one formatter: how each event reads, as a message and as structured fields.

use std::fmt;

use super::Event;
use super::finding::{Detail, Finding, Hoard, Kind};
use super::rate::Verdict;
use crate::budget;
use crate::scope::Outside;
use crate::units::{ByteSize, Count, Elapsed, SignedBytes};

/// What follows an event's message about how many there were: nothing for one first
/// occurrence, ` (5 instances)` for a first batch, else the running total and what the rate
/// limit held back, ` (6 in all, 2 suppressed since the last report)`. An outlived leak
/// also says how many of its collections are alive when that is not all of them:
/// ` (3 alive, 6 in all)`.
#[derive(Clone, Copy)]
struct Tally {
    verdict: Verdict,
    /// This event's occurrences, or for an outlived leak, its collections alive.
    now: u64,
    alive: bool,
}

impl Tally {
    /// The tally of an event about one collection whose running total is not news: nothing
    /// unless occurrences were suppressed (a budget crossing, a hoard).
    fn unless_suppressed(verdict: Verdict) -> Tally {
        let verdict = if verdict.suppressed == 0 {
            Verdict::ALONE
        } else {
            verdict
        };
        Tally {
            verdict,
            now: 1,
            alive: false,
        }
    }

    /// The tally of an event about one occurrence (a suspected leak).
    fn one(verdict: Verdict) -> Tally {
        Tally {
            verdict,
            now: 1,
            alive: false,
        }
    }

    /// The tally of an outlived leak with `alive` collections alive.
    fn alive(verdict: Verdict, alive: u64) -> Tally {
        Tally {
            verdict,
            now: alive,
            alive: true,
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Tally {
            verdict,
            now,
            alive,
        } = *self;
        if let (Some(every), true) = (verdict.every, verdict.suppressed > 0) {
            return write!(
                f,
                " (flushed and refilled: {}, {} in all)",
                Refills(verdict.suppressed, every),
                verdict.total
            );
        }
        if verdict.total == now && verdict.suppressed == 0 {
            if now > 1 {
                write!(f, " ({now} instances)")?;
            }
            return Ok(());
        }
        f.write_str(" (")?;
        if alive && now != verdict.total {
            write!(f, "{now} alive, ")?;
        }
        write!(f, "{} in all", verdict.total)?;
        if verdict.suppressed > 0 {
            write!(
                f,
                ", {} suppressed since the last report",
                verdict.suppressed
            )?;
        }
        f.write_str(")")
    }
}

/// How often one collection came back over its budget since its last line: `8 more times
/// since the last report, about every 80 ms`.
struct Refills(u64, u64);

impl fmt::Display for Refills {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Refills(times, every) = *self;
        let plural = if times == 1 { "" } else { "s" };
        write!(
            f,
            "{times} more time{plural} since the last report, about every {}",
            Elapsed(every)
        )
    }
}

/// Emits `event` to this thread's subscriber.
pub(super) fn emit(event: &Event<'_>) {
    match event {
        Event::Finding(finding, verdict) => emit_finding(finding, *verdict),
        Event::Overflow(verdict) => {
            tracing::warn!(
                target: "leakguard",
                kind = "suppressed",
                suppressed = verdict.suppressed,
                total = verdict.total,
                "{} events of other leaks held back: more distinct leaks than the rate limit tells apart ({}); {} in all",
                verdict.suppressed,
                super::rate::MAX_FINGERPRINTS,
                verdict.total,
            );
        }
        Event::Lost { lost, most } => {
            tracing::warn!(
                target: "leakguard",
                kind = "lost",
                lost,
                "{lost} leakguard events were lost: raised inside a subscriber's callbacks, they waited for a chance to be emitted, and more than {most} waited at once",
            );
        }
        Event::Summary(fingerprint, verdict) => {
            let what = match (&fingerprint.detail, verdict.every) {
                // One collection's returns after it re-armed, and how often they came.
                (Detail::Budget { limit, .. }, Some(every)) => format!(
                    "is being flushed and refilled: it went back over its {} budget {}",
                    limit.name(),
                    Refills(verdict.suppressed, every)
                ),
                (_, Some(every)) => format!(
                    "keeps letting go of unused capacity and hoarding it again {}",
                    Refills(verdict.suppressed, every)
                ),
                (detail, None) => {
                    let what = match detail {
                        Detail::Scope(scope) if fingerprint.kind == Kind::Retained => {
                            format!("retained by ended instances of `{scope}` kept growing")
                        }
                        Detail::Scope(_) if fingerprint.kind == Kind::SuspectedLeak => {
                            "allocated outside any scope kept growing".to_string()
                        }
                        Detail::Scope(scope) => format!("outlived its scope `{scope}`"),
                        Detail::Budget { limit, .. } => {
                            format!("went over its {} budget", limit.name())
                        }
                        Detail::None if fingerprint.kind == Kind::SuspectedLeak => {
                            "kept growing".to_string()
                        }
                        Detail::Hoard(Hoard::Storage) | Detail::None => {
                            "hoarded unused capacity".to_string()
                        }
                        Detail::Hoard(Hoard::Entries) => {
                            "hoarded unused capacity in its entries".to_string()
                        }
                    };
                    format!(
                        "{what}: {} more times since the last report",
                        verdict.suppressed
                    )
                }
            };
            tracing::warn!(
                target: "leakguard",
                kind = "suppressed",
                collection = fingerprint.collection,
                suppressed = verdict.suppressed,
                total = verdict.total,
                every_ms = verdict.every.map(|every| every / 1_000_000),
                "{} {what} ({} in all)",
                fingerprint.collection,
                verdict.total,
            );
        }
    }
}

fn emit_finding(finding: &Finding, verdict: Verdict) {
    match finding {
        Finding::OverBudget { meta, crossing, .. } => {
            let collection = meta.name;
            let budget = crossing.budget;
            let over = crossing.limit.name();
            tracing::warn!(
                target: "leakguard",
                kind = "over_budget",
                collection,
                len = crossing.len,
                bytes = crossing.bytes,
                budget_len = budget.len,
                budget_bytes = budget.bytes,
                over,
                times = budget::times(crossing.level),
                suppressed = verdict.suppressed,
                "{collection} over {over} budget: {crossing}{}",
                Tally::unless_suppressed(verdict),
            );
        }
        Finding::HoardedCapacity {
            meta,
            cause,
            len,
            capacity,
            unused,
            bytes,
            ..
        } => {
            let collection = meta.name;
            let (hoard, cause) = (*cause, cause.name());
            let unused = *unused;
            macro_rules! hoarded {
                ($($message:tt)*) => {
                    tracing::info!(
                        target: "leakguard",
                        kind = "hoarded_capacity",
                        cause,
                        collection,
                        len,
                        capacity,
                        unused_bytes = unused,
                        bytes,
                        suppressed = verdict.suppressed,
                        $($message)*
                    )
                };
            }
            match hoard {
                Hoard::Storage => hoarded!(
                    "{collection} holds {} of unused capacity (len {len}, capacity {capacity}): call shrink_to_fit to release it{}",
                    ByteSize(unused),
                    Tally::unless_suppressed(verdict),
                ),
                Hoard::Entries => hoarded!(
                    "{collection}: {} entries hold {} they do not use: their strings or buffers were built with a larger capacity than they need; shrink them or copy them before storing{}",
                    Count(*len),
                    ByteSize(unused),
                    Tally::unless_suppressed(verdict),
                ),
            }
        }
        Finding::NoScope(meta, outside) => {
            let collection = meta.name;
            macro_rules! no_scope {
                ($cause:literal, $($message:tt)*) => {
                    tracing::warn!(
                        target: "leakguard",
                        kind = "no_scope",
                        collection,
                        cause = $cause,
                        $($message)*
                    )
                };
            }
            match outside {
                Outside::NoScopeYet => no_scope!(
                    "no_scope_entered",
                    "{collection} is scoped but was created outside any scope, and no scope has been entered in this process, so leakguard cannot tell when it outlives one; likely cause: the spans it runs in are disabled, by a global `EnvFilter` or `RUST_LOG` level that leaves them out (put the filter on the fmt layer, `fmt::layer().with_filter(..)`), or the code has no span (wrap it in `leakguard::scope(..)`, or a future in `.leak_scope(..)`). Said once",
                ),
                Outside::ThreadWithoutScopes => no_scope!(
                    "thread_without_scope",
                    "{collection} is scoped but was created on a thread that has never entered a scope, while other threads do, so leakguard cannot tell when it outlives one; likely cause: a closure run on another thread (`tokio::task::spawn_blocking`, `std::thread::spawn`, a thread pool) does not carry the caller's scope: pass it through `leakguard::with_current_leak_scope(..)` (a spawned future through `.in_current_leak_scope()`). Said once",
                ),
                Outside::BetweenScopes => no_scope!(
                    "outside_scope",
                    "{collection} is scoped but was created outside any scope, on a thread that has entered scopes before, so leakguard cannot tell when it outlives one; likely cause: code run outside the span or scope it belongs to (a closure run later or on another thread: pass it through `leakguard::with_current_leak_scope(..)`; a spawned future: `.in_current_leak_scope()`), or a span disabled by a filter on the registry (put the filter on the fmt layer, `fmt::layer().with_filter(..)`). Said once",
                ),
            }
        }
        Finding::Outlived(leak) => {
            let site = leak.site.to_string();
            tracing::warn!(
                target: "leakguard",
                kind = "outlived",
                collection = leak.meta.name,
                scope = %leak.scope,
                site,
                age_ms = leak.age / 1_000_000,
                outlived_ms = leak.since_end / 1_000_000,
                len = leak.len,
                bytes = leak.bytes,
                instances = leak.alive,
                total = verdict.total,
                suppressed = verdict.suppressed,
                "{} outlived its scope `{}` by {}: age {}, len {}, {}, {}{}",
                leak.meta.name,
                leak.scope,
                Elapsed(leak.since_end),
                Elapsed(leak.age),
                leak.len,
                ByteSize(leak.bytes),
                leak.site.phrase(),
                Tally::alive(verdict, leak.alive),
            );
        }
        Finding::SuspectedLeak(suspect) => {
            let site = suspect.site.to_string();
            tracing::warn!(
                target: "leakguard",
                kind = "suspected_leak",
                collection = suspect.meta.name,
                site,
                len = suspect.len,
                bytes = suspect.bytes,
                samples = suspect.samples,
                len_per_sec = suspect.len_per_sec,
                bytes_per_sec = suspect.bytes_per_sec,
                total = verdict.total,
                suppressed = verdict.suppressed,
                "suspected leak: {} grew on each of the last {} samples, {:+.1} entries/s, {}/s (len {}, {}), {}{}",
                suspect.meta.name,
                suspect.samples,
                suspect.len_per_sec,
                SignedBytes(suspect.bytes_per_sec),
                suspect.len,
                ByteSize(suspect.bytes),
                suspect.site.phrase(),
                Tally::one(verdict),
            );
        }
        Finding::Retained(retained) => {
            tracing::warn!(
                target: "leakguard",
                kind = "retained",
                scope = %retained.scope,
                bytes = retained.bytes,
                instances = retained.instances,
                samples = retained.samples,
                bytes_per_sec = retained.bytes_per_sec,
                sites = %retained.sites,
                total = verdict.total,
                suppressed = verdict.suppressed,
                "scope `{}` retains {} in {} ended instances, more on each of the last {} samples, {}/s{}{}{}",
                retained.scope,
                ByteSize(retained.bytes),
                retained.instances,
                retained.samples,
                SignedBytes(retained.bytes_per_sec),
                if retained.sites.is_empty() { "" } else { "; allocated at " },
                retained.sites,
                Tally::one(verdict),
            );
        }
        Finding::Unscoped(unscoped) => {
            tracing::warn!(
                target: "leakguard",
                kind = "suspected_leak",
                scope = %super::finding::UNSCOPED,
                bytes = unscoped.bytes,
                blocks = unscoped.blocks,
                samples = unscoped.samples,
                bytes_per_sec = unscoped.bytes_per_sec,
                total = verdict.total,
                suppressed = verdict.suppressed,
                "suspected leak: the heap allocated outside any scope grew on each of the last {} samples, {}/s ({} live in {} blocks); run the code that allocates it in a scope (a span, `scope()`, `.leak_scope()`) to see which{}",
                unscoped.samples,
                SignedBytes(unscoped.bytes_per_sec),
                ByteSize(unscoped.bytes),
                unscoped.blocks,
                Tally::one(verdict),
            );
        }
        Finding::Report(report) => {
            tracing::info!(
                target: "leakguard",
                kind = "report",
                groups = report.groups.len(),
                bytes = report.total_bytes(),
                "leakguard report\n{report}",
            );
        }
    }
}
