//! Rate limiting of leakguard's events, per leak fingerprint.
//!
//! An event is emitted for the first occurrence of a fingerprint; further occurrences within
//! the rate window are counted, and the next event for that fingerprint, or the summary a
//! check emits once the window is over, says how many were suppressed. The table is bounded:
//! past [`MAX_FINGERPRINTS`] entries, settled ones are forgotten first.

use std::collections::HashMap;
use std::sync::Mutex;

use super::finding::Fingerprint;
use crate::clock::{Nanos, monotonic_now};
use crate::settings::SETTINGS;
use crate::sync::{self, lock};

/// What an event due now reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Occurrences of this fingerprint so far, these included.
    pub(crate) total: u64,
    /// Occurrences suppressed since the last event.
    pub(crate) suppressed: u64,
}

/// What the table remembers of one fingerprint.
struct Seen {
    /// Occurrences since the fingerprint was first seen.
    total: u64,
    /// Occurrences not emitted since the last event.
    suppressed: u64,
    last_emitted: Nanos,
}

/// Most fingerprints remembered.
const MAX_FINGERPRINTS: usize = 4096;

/// The fingerprints seen lately.
#[derive(Default)]
struct RateTable {
    seen: HashMap<Fingerprint, Seen>,
}

impl RateTable {
    /// Counts `count` occurrences of `fingerprint` at `now`; `Some` if an event is due.
    fn occurred(
        &mut self,
        fingerprint: &Fingerprint,
        count: u64,
        now: Nanos,
        window: Nanos,
    ) -> Option<Verdict> {
        if let Some(seen) = self.seen.get_mut(fingerprint) {
            seen.total += count;
            if now.saturating_sub(seen.last_emitted) < window {
                seen.suppressed += count;
                return None;
            }
            let verdict = Verdict {
                total: seen.total,
                suppressed: seen.suppressed,
            };
            seen.suppressed = 0;
            seen.last_emitted = now;
            return Some(verdict);
        }
        if self.seen.len() >= MAX_FINGERPRINTS {
            self.seen.retain(|_, seen| {
                seen.suppressed > 0 && now.saturating_sub(seen.last_emitted) < window
            });
            if self.seen.len() >= MAX_FINGERPRINTS {
                self.seen.clear();
            }
        }
        self.seen.insert(
            fingerprint.clone(),
            Seen {
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

    /// Takes the fingerprints whose window is over with occurrences still unreported.
    fn due_summaries(&mut self, now: Nanos, window: Nanos) -> Vec<(Fingerprint, Verdict)> {
        let mut due = Vec::new();
        for (fingerprint, seen) in &mut self.seen {
            if seen.suppressed > 0 && now.saturating_sub(seen.last_emitted) >= window {
                due.push((
                    fingerprint.clone(),
                    Verdict {
                        total: seen.total,
                        suppressed: seen.suppressed,
                    },
                ));
                seen.suppressed = 0;
                seen.last_emitted = now;
            }
        }
        due
    }
}

static TABLE: Mutex<Option<RateTable>> = Mutex::new(None);

/// Counts `count` occurrences of `fingerprint`; `Some` if an event is due now.
pub(crate) fn occurred(fingerprint: &Fingerprint, count: u64) -> Option<Verdict> {
    let now = monotonic_now();
    let window = SETTINGS.rate_window();
    lock(&TABLE)
        .get_or_insert_with(RateTable::default)
        .occurred(fingerprint, count, now, window)
}

/// Takes the fingerprints whose window is over with occurrences still unreported.
pub(crate) fn due_summaries() -> Vec<(Fingerprint, Verdict)> {
    let now = monotonic_now();
    let window = SETTINGS.rate_window();
    lock(&TABLE)
        .as_mut()
        .map(|table| table.due_summaries(now, window))
        .unwrap_or_default()
}

pub(crate) fn poison() {
    sync::poison(&TABLE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::finding::{Detail, Kind};
    use crate::registry::Site;

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
            site: Site::default(),
            detail: Detail::Scope("s".into()),
        }
    }

    #[test]
    fn first_occurrence_is_reported_then_counted() {
        let mut table = RateTable::default();
        let fp = fingerprint("events::tests.first");
        let first = table.occurred(&fp, 1, 0, 10).expect("first is reported");
        assert_eq!(
            first,
            Verdict {
                total: 1,
                suppressed: 0
            }
        );
        assert_eq!(table.occurred(&fp, 2, 1, 10), None);
        assert_eq!(table.occurred(&fp, 1, 2, 10), None);
        assert_eq!(
            table.due_summaries(10, 10),
            [(
                fp.clone(),
                Verdict {
                    total: 4,
                    suppressed: 3
                }
            )]
        );
    }

    #[test]
    fn a_batch_is_reported_with_its_total() {
        let mut table = RateTable::default();
        let fp = fingerprint("events::tests.batch");
        assert_eq!(
            table.occurred(&fp, 5, 0, 10),
            Some(Verdict {
                total: 5,
                suppressed: 0
            })
        );
    }
}
