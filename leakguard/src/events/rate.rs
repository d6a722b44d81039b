//! Rate limiting of leakguard's events, per leak fingerprint and per subscriber.
//!
//! Each [`LeakLayer`](crate::LeakLayer) owns one table, so that what one subscriber saw never
//! silences another's events (a test's own subscriber sees what its own code caused); a
//! subscriber without the layer gets every event. In a table, an event is emitted for the
//! first occurrence of a fingerprint; further occurrences within the window are counted, and
//! the next event for that fingerprint, or the summary a check emits once the window is
//! over, says how many were suppressed.
//!
//! A collection that crosses its budget again after it fell back under (or hoards again
//! after it let go) is news, not a repeat of another collection's crossing: the first time
//! it does is emitted at once, whatever other collections of the field did meanwhile. Its
//! further returns within the window are counted apart, per collection, and summarised as
//! one collection being flushed and refilled, with how often: ten refills in a window are
//! at most three lines (the first crossing, the first refill, the summary).
//!
//! The table is bounded: [`MAX_FINGERPRINTS`] entries, scope names cut to
//! [`MAX_DETAIL`](super::finding::MAX_DETAIL) bytes, [`MAX_REFILLING`] collections counted
//! apart per fingerprint. Past that, settled entries are forgotten first; if every entry is
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
    /// For the returns of one collection after it re-armed (a budget flushed and refilled)
    /// with some suppressed: the mean time between them. `None` for anything else.
    pub(crate) every: Option<Nanos>,
}

impl Verdict {
    /// The verdict of an event that is not rate-limited.
    pub(crate) const ALONE: Verdict = Verdict {
        total: 1,
        suppressed: 0,
        every: None,
    };

    fn counted(total: u64, suppressed: u64) -> Verdict {
        Verdict {
            total,
            suppressed,
            every: None,
        }
    }
}

/// What a table remembers of one fingerprint.
struct Seen {
    /// Occurrences since the fingerprint was first seen, returns of a collection apart.
    total: u64,
    /// Occurrences not emitted since the last event.
    suppressed: u64,
    last_emitted: Nanos,
    /// Collections back after they re-armed, each counted on its own.
    refilling: Vec<Refilling>,
}

/// One collection that keeps coming back to the same fingerprint: crossing its budget
/// again each time it is refilled after a flush.
struct Refilling {
    instance: u64,
    /// Its returns seen, these included.
    total: u64,
    /// Its returns not emitted since its last line.
    suppressed: u64,
    /// When its last line was emitted, and when it last came back.
    emitted: Nanos,
    last: Nanos,
}

impl Refilling {
    fn verdict(&self) -> Verdict {
        let every =
            (self.suppressed > 0).then(|| self.last.saturating_sub(self.emitted) / self.suppressed);
        Verdict {
            total: self.total,
            suppressed: self.suppressed,
            every,
        }
    }
}

/// Most fingerprints a table remembers.
pub(crate) const MAX_FINGERPRINTS: usize = 4096;

/// Most collections a fingerprint counts apart as refilling; past that the one emitted
/// longest ago is forgotten, and its next return is emitted as a first one.
pub(crate) const MAX_REFILLING: usize = 8;

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

    /// Counts `count` occurrences of `fingerprint`; `again` is the collection's instance
    /// when this is its return after it re-armed, else 0. `Some` if an event is due now.
    pub(crate) fn occurred(
        &self,
        fingerprint: &Fingerprint,
        count: u64,
        again: u64,
    ) -> Option<Verdict> {
        let now = monotonic_now();
        let window = self.window.load(Relaxed);
        lock(&self.table).occurred(fingerprint, count, again, now, window)
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
        again: u64,
        now: Nanos,
        window: Nanos,
    ) -> Option<Verdict> {
        if let Some(seen) = self.seen.get_mut(fingerprint) {
            if again != 0 {
                return seen.returned(again, now, window);
            }
            seen.total += count;
            if now.saturating_sub(seen.last_emitted) < window {
                seen.suppressed += count;
                return None;
            }
            let verdict = Verdict::counted(seen.total, seen.suppressed);
            seen.suppressed = 0;
            seen.last_emitted = now;
            return Some(verdict);
        }
        if self.seen.len() >= MAX_FINGERPRINTS {
            // Forget what has settled: nothing held back, and its window over.
            self.seen.retain(|_, seen| {
                seen.holds_back() || now.saturating_sub(seen.last_emitted) < window
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
        let mut seen = Seen {
            total: count,
            suppressed: 0,
            last_emitted: now,
            refilling: Vec::new(),
        };
        if again != 0 {
            // A return this subscriber is the first to hear of the fingerprint by.
            seen.total = 0;
            seen.returned(again, now, window);
        }
        self.seen.insert(fingerprint.clone(), seen);
        Some(Verdict::counted(count, 0))
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
                    Verdict::counted(seen.total, seen.suppressed),
                ));
                seen.suppressed = 0;
                seen.last_emitted = now;
            }
            for refilling in &mut seen.refilling {
                if refilling.suppressed > 0 && now.saturating_sub(refilling.emitted) >= window {
                    due.push((fingerprint.clone(), refilling.verdict()));
                    refilling.suppressed = 0;
                    refilling.emitted = now;
                }
            }
        }
        let overflow = (self.overflow > 0 && now.saturating_sub(self.overflow_since) >= window)
            .then(|| Verdict::counted(self.overflow_total, std::mem::take(&mut self.overflow)));
        (due, overflow)
    }
}

impl Seen {
    /// Whether anything of this fingerprint waits for a summary.
    fn holds_back(&self) -> bool {
        self.suppressed > 0 || self.refilling.iter().any(|r| r.suppressed > 0)
    }

    /// Counts collection `instance` coming back after it re-armed: its first return is
    /// emitted at once, whatever other collections did; its next ones within the window
    /// are counted for its own summary.
    fn returned(&mut self, instance: u64, now: Nanos, window: Nanos) -> Option<Verdict> {
        if let Some(refilling) = self.refilling.iter_mut().find(|r| r.instance == instance) {
            refilling.total += 1;
            if now.saturating_sub(refilling.emitted) < window {
                refilling.suppressed += 1;
                refilling.last = now;
                return None;
            }
            // How often it came back is over the returns held back, not the quiet since.
            let verdict = refilling.verdict();
            refilling.suppressed = 0;
            refilling.emitted = now;
            refilling.last = now;
            return Some(verdict);
        }
        if self.refilling.len() >= MAX_REFILLING {
            // Forget the one emitted longest ago; what it held back joins the fingerprint's
            // own summary rather than being lost.
            if let Some(oldest) =
                (0..self.refilling.len()).min_by_key(|&i| self.refilling[i].emitted)
            {
                let forgotten = self.refilling.swap_remove(oldest);
                self.suppressed += forgotten.suppressed;
                self.total += forgotten.suppressed;
            }
        }
        self.refilling.push(Refilling {
            instance,
            total: 1,
            suppressed: 0,
            emitted: now,
            last: now,
        });
        Some(Verdict::ALONE)
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
                    suppressed: 3,
                    every: None,
                }
            )]
        );
        assert_eq!(overflow, None);
    }

    #[test]
    fn a_collection_back_after_it_re_armed_is_news_whatever_others_did() {
        let mut table = RateTable::default();
        let fp = fingerprint("events::tests.again", "s");
        // B warned first, then A crossed: a repeat of B's leak.
        assert!(table.occurred(&fp, 1, 0, 0, 10).is_some());
        assert_eq!(table.occurred(&fp, 1, 0, 1, 10), None);
        // A fell back under and crossed again: news, at once.
        assert_eq!(table.occurred(&fp, 1, 7, 2, 10), Some(Verdict::ALONE));
        // So is B's own return, whatever A did.
        assert_eq!(table.occurred(&fp, 1, 8, 3, 10), Some(Verdict::ALONE));
    }

    #[test]
    fn ten_refills_in_a_window_are_three_lines_that_say_how_often() {
        let mut table = RateTable::default();
        let fp = fingerprint("events::tests.refills", "s");
        let mut lines = 0;
        // The first crossing, then nine refills one tick apart, within a window of 100.
        lines += usize::from(table.occurred(&fp, 1, 0, 0, 100).is_some());
        for now in 1..10 {
            lines += usize::from(table.occurred(&fp, 1, 7, now * 10, 100).is_some());
        }
        assert_eq!(lines, 2, "the first crossing and the first refill");
        let (due, _) = table.due_summaries(99, 100);
        assert!(due.is_empty(), "the window is not over");
        let (due, overflow) = table.due_summaries(110, 100);
        assert_eq!(
            due,
            [(
                fp.clone(),
                Verdict {
                    total: 9,
                    suppressed: 8,
                    every: Some(10),
                }
            )]
        );
        assert_eq!(overflow, None);
        // The next refill after the summary's window is a line again, with nothing held back.
        assert_eq!(
            table.occurred(&fp, 1, 7, 210, 100),
            Some(Verdict::counted(10, 0))
        );
    }

    #[test]
    fn refilling_collections_are_bounded_and_what_they_held_back_is_kept() {
        let mut table = RateTable::default();
        let fp = fingerprint("events::tests.bounded", "s");
        assert!(table.occurred(&fp, 1, 0, 0, 100).is_some());
        for instance in 1..=MAX_REFILLING as u64 + 1 {
            assert!(table.occurred(&fp, 1, instance, instance, 100).is_some());
            assert_eq!(table.occurred(&fp, 1, instance, instance, 100), None);
        }
        let seen = &table.seen[&fp];
        assert_eq!(seen.refilling.len(), MAX_REFILLING);
        assert_eq!(
            seen.suppressed, 1,
            "the forgotten one's refill joins the fingerprint"
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
                suppressed: 500,
                every: None,
            })
        );
    }
}
