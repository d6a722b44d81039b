//! The one pipeline of leakguard's events: a [`Finding`] is recorded for the test check its
//! collection was made under, rate-limited by its fingerprint, formatted, and emitted through
//! `tracing`. Budget and hoarding findings come from the hot path of tracked collections,
//! the others from the layer's checks; all take the same way.

mod finding;
mod format;
mod rate;

use std::cell::Cell;

pub(crate) use finding::{Finding, Fingerprint, Outlived, Suspect};
pub(crate) use rate::Verdict;

use crate::harness;

/// A finding that passed the rate limit, or the summary of occurrences it held back.
pub(crate) enum Event {
    Finding(Finding, Verdict),
    Summary(Fingerprint, Verdict),
}

/// Takes `finding` through the pipeline up to the rate limit: `Some` if it is due now.
pub(crate) fn admit(finding: Finding) -> Option<Event> {
    if let Finding::OverBudget {
        meta,
        crossing,
        site,
        test,
    } = &finding
    {
        if *test != 0 {
            harness::record_crossing(*test, meta, *site, *crossing);
        }
    }
    let verdict = match finding.fingerprint() {
        Some((fingerprint, count)) => rate::occurred(&fingerprint, count)?,
        None => Verdict {
            total: 1,
            suppressed: 0,
        },
    };
    Some(Event::Finding(finding, verdict))
}

/// Takes `finding` through the whole pipeline, emitting to this thread's subscriber.
pub(crate) fn emit_now(finding: Finding) {
    if let Some(event) = admit(finding) {
        emit_once(|| format::emit(&event));
    }
}

/// The summaries of fingerprints whose window is over with occurrences held back.
pub(crate) fn summaries() -> Vec<Event> {
    rate::due_summaries()
        .into_iter()
        .map(|(fingerprint, verdict)| Event::Summary(fingerprint, verdict))
        .collect()
}

/// Emits `events` to this thread's subscriber.
pub(crate) fn deliver(events: &[Event]) {
    for event in events {
        emit_once(|| format::emit(event));
    }
}

pub(crate) fn poison() {
    rate::poison();
}

thread_local! {
    static EMITTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `emit` unless this thread is already emitting a leakguard event.
///
/// A subscriber that itself uses tracked collections would otherwise re-enter leakguard
/// from inside its own callback and recurse without bound.
fn emit_once(emit: impl FnOnce()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = EMITTING.try_with(|e| e.set(false));
        }
    }
    let entered = EMITTING.try_with(|e| !e.replace(true)).unwrap_or(false);
    if entered {
        let _reset = Reset;
        emit();
    }
}
