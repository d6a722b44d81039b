//! Rate limiting of leakguard's events, per leak fingerprint and per subscriber.
//!
//! Each [`LeakLayer`](crate::LeakLayer) owns one table, so that what one subscriber saw never
//! silences another's events (a test's own subscriber sees what its own code caused); a
//! subscriber without the layer gets every event. In a table, an event is emitted for the
//! first occurrence of a fingerprint; further occurrences within the window are counted, and
//! the next event for that fingerprint, or the summary a check emits once the window is
//! over, says how many were suppressed. A collection that crosses again after it re-armed is
//! news, not a repeat: its own crossing is emitted whatever the window.
//!
//! The table is bounded: [`MAX_FINGERPRINTS`] entries, scope names cut to
//! [`MAX_DETAIL`](super::finding::MAX_DETAIL) bytes. Past that, settled entries are forgotten first; if every entry is
//! still within its window, a new fingerprint is counted in one overflow tally instead of
//! being remembered, and summarised once per window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::finding::Fingerprint;
use crate::clock::{Nanos, monotonic_now, nanos};
use crate::sync::lock;

/// What an event due now reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Occurrences of this fingerprint so far, these included.
    pub(crate) total: u64,
    /// Occurrences suppressed since the last event.
    pub(crate) suppressed: u64,
}

impl Verdict {
    /// The verdict of an event that is not rate-limited.
    pub(crate) const ALONE: Verdict = Verdict {
        total: 1,
        suppressed: 0,
    };
}

/// What a table remembers of one fingerprint.
struct Seen {
    /// Occurrences since the fingerprint was first seen.
    total: u64,
    /// Occurrences not emitted since the last event.
    suppressed: u64,
    last_emitted: Nanos,
    /// The collection whose occurrence was last emitted, 0 for none in particular.
    last_instance: u64,
}

/// Most fingerprints a table remembers.
pub(crate) const MAX_FINGERPRINTS: usize = 4096;

/// The fingerprints one subscriber has seen lately.
#[derive(Default)]
struct RateTable {
    seen: HashMap<Fingerprint, Seen>,
    /// New fingerprints turned away while the table was full of live entries.
    overflow: u64,
    overflow_total: u64,
    overflow_since: Nanos,
}

/// A table and its window: what a [`LeakLayer`](crate::LeakLayer) carries.
#[derive(Debug)]
pub(crate) struct Rates {
    window: AtomicU64,
    table: Mutex<RateTable>,
}

impl std::fmt::Debug for RateTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateTable")
            .field("fingerprints", &self.seen.len())
            .field("overflow", &self.overflow)
            .finish()
    }
}

impl Rates {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window: AtomicU64::new(nanos(window)),
            table: Mutex::new(RateTable::default()),
        }
    }

    pub(crate) fn set_window(&self, window: Duration) {
        self.window.store(nanos(window), Relaxed);
    }

    /// Counts `count` occurrences of `fingerprint`, the last by collection `instance` (0 for
    /// none in particular); `Some` if an event is due now.
    pub(crate) fn occurred(
        &self,
        fingerprint: &Fingerprint,
        count: u64,
        instance: u64,
    ) -> Option<Verdict> {
        let now = monotonic_now();
        let window = self.window.load(Relaxed);
        lock(&self.table).occurred(fingerprint, count, instance, now, window)
    }

    /// Takes the fingerprints whose window is over with occurrences still unreported, and
    /// the overflow tally once its window is over.
    pub(crate) fn due_summaries(&self) -> (Vec<(Fingerprint, Verdict)>, Option<Verdict>) {
        let now = monotonic_now();
        let window = self.window.load(Relaxed);
        lock(&self.table).due_summaries(now, window)
    }
}

impl RateTable {
    fn occurred(
        &mut self,
        fingerprint: &Fingerprint,
        count: u64,
        instance: u64,
        now: Nanos,
        window: Nanos,
    ) -> Option<Verdict> {
        if let Some(seen) = self.seen.get_mut(fingerprint) {
            seen.total += count;
            let again = instance != 0 && instance == seen.last_instance;
            if now.saturating_sub(seen.last_emitted) < window && !again {
                seen.suppressed += count;
                return None;
            }
            let verdict = Verdict {
                total: seen.total,
                suppressed: seen.suppressed,
            };
            seen.suppressed = 0;
            seen.last_emitted = now;
            seen.last_instance = instance;
            return Some(verdict);
        }
        if self.seen.len() >= MAX_FINGERPRINTS {
            // Forget what has settled: nothing held back, and its window over.
            self.seen.retain(|_, seen| {
                seen.suppressed > 0 || now.saturating_sub(seen.last_emitted) < window
            });
        }
        if self.seen.len() >= MAX_FINGERPRINTS {
            if self.overflow == 0 {
                self.overflow_since = now;
            }
            self.overflow += count;
            self.overflow_total += count;
            return None;
        }
        self.seen.insert(
            fingerprint.clone(),
            Seen {
                total: count,
                suppressed: 0,
                last_emitted: now,
                last_instance: instance,
            },
        );
        Some(Verdict {
            total: count,
            suppressed: 0,
        })
    }

    fn due_summaries(
        &mut self,
        now: Nanos,
        window: Nanos,
    ) -> (Vec<(Fingerprint, Verdict)>, Option<Verdict>) {
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
        let overflow = (self.overflow > 0 && now.saturating_sub(self.overflow_since) >= window)
            .then(|| Verdict {
                total: self.overflow_total,
                suppressed: std::mem::take(&mut self.overflow),
            });
        (due, overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::finding::{Detail, Kind};
    use crate::registry::Site;

    fn fingerprint(collection: &'static str, scope: &str) -> Fingerprint {
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
            detail: Detail::scope(scope),
        }
    }

    #[test]
    fn first_occurrence_is_reported_then_counted() {
        let mut table = RateTable::default();
        let fp = fingerprint("events::tests.first", "s");
        let first = table.occurred(&fp, 1, 0, 0, 10).expect("first is reported");
        assert_eq!(first, Verdict::ALONE);
        assert_eq!(table.occurred(&fp, 2, 0, 1, 10), None);
        assert_eq!(table.occurred(&fp, 1, 0, 2, 10), None);
        let (due, overflow) = table.due_summaries(10, 10);
        assert_eq!(
            due,
            [(
                fp.clone(),
                Verdict {
                    total: 4,
                    suppressed: 3
                }
            )]
        );
        assert_eq!(overflow, None);
    }

    #[test]
    fn the_same_collection_crossing_again_is_news() {
        let mut table = RateTable::default();
        let fp = fingerprint("events::tests.again", "s");
        assert!(table.occurred(&fp, 1, 7, 0, 10).is_some());
        // Another collection's crossing within the window is a repeat...
        assert_eq!(table.occurred(&fp, 1, 8, 1, 10), None);
        // ...the first one's, after it re-armed, is not.
        assert_eq!(
            table.occurred(&fp, 1, 7, 2, 10),
            Some(Verdict {
                total: 3,
                suppressed: 1
            })
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "thousands of fingerprints: too slow under Miri")]
    fn a_full_table_turns_new_fingerprints_into_one_overflow_tally() {
        let mut table = RateTable::default();
        let names: Vec<String> = (0..MAX_FINGERPRINTS + 100)
            .map(|i| format!("s{i}"))
            .collect();
        let fps: Vec<Fingerprint> = names
            .iter()
            .map(|n| fingerprint("events::tests.full", n))
            .collect();
        let emitted = fps
            .iter()
            .filter(|fp| table.occurred(fp, 1, 0, 0, 10).is_some())
            .count();
        assert_eq!(emitted, MAX_FINGERPRINTS);
        assert_eq!(table.seen.len(), MAX_FINGERPRINTS);
        // Round after round within the window, nothing more is emitted.
        for now in 1..5 {
            assert!(
                fps.iter()
                    .all(|fp| table.occurred(fp, 1, 0, now, 10).is_none())
            );
        }
        let (due, overflow) = table.due_summaries(10, 10);
        assert_eq!(due.len(), MAX_FINGERPRINTS);
        assert_eq!(
            overflow,
            Some(Verdict {
                total: 500,
                suppressed: 500
            })
        );
    }
}
