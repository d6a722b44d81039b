//! Two parts of a collection's [`State`](super::state::State): the window its figures may
//! move in without re-evaluating, and its budget levels and hoarding marks in one word.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

use crate::budget::{self, Budget, Limit};
use crate::events::Hoard;

/// Bounds of the figures between two evaluations: a growth or removal that stays inside
/// needs no more than a comparison.
///
/// The length has bounds; the entry heap and its unused part have a drift instead, what
/// they moved by in all since the last evaluation, which is at least their net change: one
/// figure where bounds would take four.
///
/// Atomics, as the rest of a collection's [`State`](super::state::State) in its registry
/// slot, but written by the collection's owner only, through `&mut` of the collection: plain
/// loads and stores, never a read-modify-write.
pub(super) struct Window {
    pub(super) len_lo: AtomicUsize,
    pub(super) len_hi: AtomicUsize,
    /// Bytes the entry heap and its unused part moved by since the last evaluation.
    drift: AtomicU32,
    /// The most `drift` may reach before the figures re-evaluate.
    drift_max: AtomicU32,
}

impl Window {
    /// A window every figure is outside of: the next growth or removal re-evaluates.
    pub(super) const fn shut() -> Self {
        Window {
            len_lo: AtomicUsize::new(usize::MAX),
            len_hi: AtomicUsize::new(0),
            drift: AtomicU32::new(0),
            drift_max: AtomicU32::new(0),
        }
    }

    /// Makes every figure fall outside: the next growth or removal re-evaluates.
    #[inline]
    pub(super) fn close(&self) {
        self.len_lo.store(usize::MAX, Relaxed);
        self.len_hi.store(0, Relaxed);
        self.drift.store(0, Relaxed);
        self.drift_max.store(0, Relaxed);
    }

    /// Whether a length of `len` is above the window.
    #[inline]
    pub(super) fn above(&self, len: usize) -> bool {
        len > self.len_hi.load(Relaxed)
    }

    /// Whether a length of `len` is below the window.
    #[inline]
    pub(super) fn below(&self, len: usize) -> bool {
        len < self.len_lo.load(Relaxed)
    }

    /// Adds `bytes` to the drift; whether it left the window.
    #[inline]
    pub(super) fn drifted(&self, bytes: usize) -> bool {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        let drift = self.drift.load(Relaxed).saturating_add(bytes);
        self.drift.store(drift, Relaxed);
        drift > self.drift_max.load(Relaxed)
    }

    /// Opens the window around figures just evaluated, `(len, capacity, entry heap,
    /// storage bytes)`, under `budget` at its warning `levels` (len, bytes): storage grows
    /// only when the entries outgrow the capacity; figures republish after a step, and a
    /// budget warns past its next threshold. `exact` closes it to one entry and one byte.
    pub(super) fn reopen(
        &self,
        (len, capacity, heap, storage): (usize, usize, usize, usize),
        budget: Budget,
        (len_level, bytes_level): (u8, u8),
        exact: bool,
    ) {
        let len_step = if exact { 1 } else { publish_step(len, 1) };
        let heap_step = if exact { 1 } else { publish_step(heap, 64) };
        let mut len_hi = capacity.max(len).min(len.saturating_add(len_step - 1));
        let mut len_lo = len.saturating_sub(len_step - 1);
        let mut drift_max = heap_step - 1;
        if let Some(max) = budget.len {
            len_hi = len_hi.min(budget::warn_above(max, len_level));
            if len_level > 0 {
                len_lo = len_lo.max(max + 1);
            }
        }
        if let Some(max) = budget.bytes {
            // The entry heap that would cross the next threshold up, or fall back under the
            // budget: the drift that could get there.
            let up = budget::warn_above(max, bytes_level).saturating_sub(storage);
            drift_max = drift_max.min(up.saturating_sub(heap));
            if bytes_level > 0 {
                let down = (max + 1).saturating_sub(storage);
                drift_max = drift_max.min(heap.saturating_sub(down));
            }
        }
        self.len_hi.store(len_hi, Relaxed);
        self.len_lo.store(len_lo, Relaxed);
        self.drift.store(0, Relaxed);
        self.drift_max
            .store(u32::try_from(drift_max).unwrap_or(u32::MAX), Relaxed);
    }
}

/// The word of an [`Accounting`](super::accounting::Accounting) that holds its budget
/// levels, one byte per limit, a bit per place it was last seen hoarding, and a bit for each
/// of those four that has warned once: one field to set up for a collection that is created
/// and dropped often, where five took a store each.
pub(super) struct Marks;

impl Marks {
    fn shift(limit: Limit) -> u32 {
        match limit {
            Limit::Len => 0,
            Limit::Bytes => 8,
        }
    }

    fn hoard_bit(cause: Hoard) -> u32 {
        match cause {
            Hoard::Storage => 1 << 16,
            Hoard::Entries => 1 << 17,
        }
    }

    /// The bit set once `limit` has warned, or `cause` has, for the first time.
    fn warned_bit(warned: Result<Limit, Hoard>) -> u32 {
        match warned {
            Ok(Limit::Len) => 1 << 18,
            Ok(Limit::Bytes) => 1 << 19,
            Err(Hoard::Storage) => 1 << 20,
            Err(Hoard::Entries) => 1 << 21,
        }
    }

    /// Notes that `warned` warns; whether it had before, which makes this warning its
    /// return after it re-armed.
    pub(super) fn warns_again(marks: &AtomicU32, warned: Result<Limit, Hoard>) -> bool {
        let bit = Self::warned_bit(warned);
        marks.fetch_or(bit, Relaxed) & bit != 0
    }

    pub(super) fn level(marks: &AtomicU32, limit: Limit) -> u8 {
        (marks.load(Relaxed) >> Self::shift(limit)) as u8
    }

    pub(super) fn set_level(marks: &AtomicU32, limit: Limit, level: u8) {
        let shift = Self::shift(limit);
        let _ = marks.fetch_update(Relaxed, Relaxed, |word| {
            Some(word & !(0xFF << shift) | u32::from(level) << shift)
        });
    }

    /// Sets whether the collection hoards in the place `cause` names; whether it did.
    pub(super) fn swap_hoard(marks: &AtomicU32, cause: Hoard, hoarding: bool) -> bool {
        let bit = Self::hoard_bit(cause);
        // A load first: the answer is almost always "no change", which needs no
        // read-modify-write (each costs 10-25 ns on a loaded machine, and evaluating a
        // collection asks twice). If it did change meanwhile, the swap below sees it.
        let now = marks.load(Relaxed) & bit != 0;
        if now == hoarding {
            return now;
        }
        let before = if hoarding {
            marks.fetch_or(bit, Relaxed)
        } else {
            marks.fetch_and(!bit, Relaxed)
        };
        before & bit != 0
    }
}

/// The published figures move in steps of at most 1/1024 of themselves: fine enough that
/// reports are within 0.1% and the sampler sees growth, coarse enough that republishing
/// costs next to nothing amortized.
#[inline]
fn publish_step(value: usize, floor: usize) -> usize {
    (value / 1024).max(floor)
}
