//! Rate limiting of leakguard's events, per leak fingerprint.
//!
//! An event is emitted for the first occurrence of a fingerprint; further occurrences within
//! the rate window are counted, and the next event for that fingerprint, or the summary a
//! check emits once the window is over, says how many were suppressed. The table is bounded:
//! past [`MAX_FINGERPRINTS`] entries, settled ones are forgotten first.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::clock::{Nanos, monotonic_now};
use crate::meta::FieldKey;
use crate::settings::SETTINGS;

/// Where a collection first grew, as file and line, if it has.
pub(crate) type Site = Option<(&'static str, u32)>;

/// What an event is about: its kind and what distinguishes one leak from another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint {
    pub(crate) kind: Kind,
    /// Which field: one per `Type.field`, even where two types share a name.
    pub(crate) field: FieldKey,
    /// The collection's `Type.field`.
    pub(crate) collection: &'static str,
    /// Where it first grew, if known.
    pub(crate) site: Site,
    /// The scope's name, the budget limit and level, or nothing.
    pub(crate) detail: Detail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    OverBudget,
    Outlived,
    SuspectedLeak,
    HoardedCapacity,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Detail {
    None,
    Scope(String),
    Budget { bytes: bool, level: u8 },
}

struct State {
    /// Occurrences since the fingerprint was first seen.
    total: u64,
    /// Occurrences not emitted since the last event.
    suppressed: u64,
    last_emitted: Nanos,
}

/// Most fingerprints remembered.
const MAX_FINGERPRINTS: usize = 4096;

static TABLE: Mutex<Option<HashMap<Fingerprint, State>>> = Mutex::new(None);

fn table() -> MutexGuard<'static, Option<HashMap<Fingerprint, State>>> {
    crate::lock(&TABLE)
}

/// What an event due now reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Occurrences of this fingerprint so far, these included.
    pub(crate) total: u64,
    /// Occurrences suppressed since the last event.
    pub(crate) suppressed: u64,
}

/// Counts `count` occurrences of `fingerprint`; `Some` if an event is due now.
pub(crate) fn occurred(fingerprint: &Fingerprint, count: u64) -> Option<Verdict> {
    let now = monotonic_now();
    let window = SETTINGS.rate_window();
    let mut guard = table();
    let table = guard.get_or_insert_with(HashMap::new);
    if let Some(state) = table.get_mut(fingerprint) {
        state.total += count;
        if now.saturating_sub(state.last_emitted) < window {
            state.suppressed += count;
            return None;
        }
        let verdict = Verdict {
            total: state.total,
            suppressed: state.suppressed,
        };
        state.suppressed = 0;
        state.last_emitted = now;
        return Some(verdict);
    }
    if table.len() >= MAX_FINGERPRINTS {
        table.retain(|_, state| {
            state.suppressed > 0 && now.saturating_sub(state.last_emitted) < window
        });
        if table.len() >= MAX_FINGERPRINTS {
            table.clear();
        }
    }
    table.insert(
        fingerprint.clone(),
        State {
            total: count,
            suppressed: 0,
            last_emitted: now,
        },
    );
    Some(Verdict {
        total: count,
        suppressed: 0,
    })
}

pub(crate) fn poison() {
    crate::__private::poison(&TABLE);
}

/// Takes the fingerprints whose window is over with occurrences still unreported.
pub(crate) fn due_summaries() -> Vec<(Fingerprint, Verdict)> {
    let now = monotonic_now();
    let window = SETTINGS.rate_window();
    let mut guard = table();
    let Some(table) = guard.as_mut() else {
        return Vec::new();
    };
    let mut due = Vec::new();
    for (fingerprint, state) in table.iter_mut() {
        if state.suppressed > 0 && now.saturating_sub(state.last_emitted) >= window {
            due.push((
                fingerprint.clone(),
                Verdict {
                    total: state.total,
                    suppressed: state.suppressed,
                },
            ));
            state.suppressed = 0;
            state.last_emitted = now;
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(collection: &'static str) -> Fingerprint {
        let meta = Box::leak(Box::new(crate::meta::FieldMeta::new(
            collection,
            "T",
            "f",
            "m",
            (file!(), line!(), column!()),
        )));
        Fingerprint {
            kind: Kind::Outlived,
            field: meta.key(),
            collection,
            site: None,
            detail: Detail::Scope("s".into()),
        }
    }

    #[test]
    fn first_occurrence_is_reported_then_counted() {
        let fp = fingerprint("events::tests.first");
        let first = occurred(&fp, 1).expect("first is reported");
        assert_eq!(
            first,
            Verdict {
                total: 1,
                suppressed: 0
            }
        );
        if SETTINGS.rate_window() > 0 {
            assert_eq!(occurred(&fp, 2), None);
            assert_eq!(occurred(&fp, 1), None);
        }
    }

    #[test]
    fn a_batch_is_reported_with_its_total() {
        let fp = fingerprint("events::tests.batch");
        assert_eq!(
            occurred(&fp, 5),
            Some(Verdict {
                total: 5,
                suppressed: 0
            })
        );
    }
}
