//! The window a collection's figures may move in without re-evaluating: part of its
//! [`State`](super::owner::State).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

use crate::budget::{self, Budget};

/// Bounds of the figures between two evaluations: a growth or removal that stays inside
/// needs no more than a comparison.
///
/// The length has bounds (the upper one kept in the collection itself, for the fast path
/// of a growth: see [`reopen`](Window::reopen)); the entry heap and its unused part have a drift instead, what
/// they moved by in all since the last evaluation, which is at least their net change: one
/// figure where bounds would take four.
///
/// Atomics, as the rest of a collection's [`State`](super::owner::State) in its registry
/// slot, but written by the collection's owner only, through `&mut` of the collection: plain
/// loads and stores, never a read-modify-write.
pub(crate) struct Window {
    pub(crate) len_lo: AtomicUsize,
    /// Bytes the entry heap and its unused part moved by since the last evaluation.
    drift: AtomicU32,
    /// The most `drift` may reach before the figures re-evaluate.
    drift_max: AtomicU32,
}

impl Window {
    /// A window every figure is outside of: the next growth or removal re-evaluates.
    pub(crate) const fn shut() -> Self {
        Window {
            len_lo: AtomicUsize::new(usize::MAX),
            drift: AtomicU32::new(0),
            drift_max: AtomicU32::new(0),
        }
    }

    /// Makes every figure fall outside: the next growth or removal re-evaluates.
    #[inline]
    pub(crate) fn close(&self) {
        self.len_lo.store(usize::MAX, Relaxed);
        self.drift.store(0, Relaxed);
        self.drift_max.store(0, Relaxed);
    }

    /// Whether a length of `len` is below the window.
    #[inline]
    pub(crate) fn below(&self, len: usize) -> bool {
        len < self.len_lo.load(Relaxed)
    }

    /// Adds `bytes` to the drift; whether it left the window.
    #[inline]
    pub(crate) fn drifted(&self, bytes: usize) -> bool {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        let drift = self.drift.load(Relaxed).saturating_add(bytes);
        self.drift.store(drift, Relaxed);
        drift > self.drift_max.load(Relaxed)
    }

    /// Opens the window around figures just evaluated, `(len, capacity, entry heap,
    /// storage bytes)`, under `budget` at its warning `levels` (len, bytes): storage grows
    /// only when the entries outgrow the capacity; figures republish after a step, and a
    /// budget warns past its next threshold. `exact` closes it to one entry and one byte.
    /// Returns the upper bound of the length, which the collection keeps (0 for a shut
    /// window).
    ///
    /// Inlined: where the levels and `exact` are constants, as in the short re-evaluation of
    /// a growth, most of it folds away.
    #[must_use]
    #[inline]
    pub(crate) fn reopen(
        &self,
        (len, capacity, heap, storage): (usize, usize, usize, usize),
        budget: Budget,
        (len_level, bytes_level): (u8, u8),
        exact: bool,
    ) -> usize {
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
        self.len_lo.store(len_lo, Relaxed);
        self.drift.store(0, Relaxed);
        self.drift_max
            .store(u32::try_from(drift_max).unwrap_or(u32::MAX), Relaxed);
        len_hi
    }
}

/// The published figures move in steps of at most 1/1024 of themselves: fine enough that
/// reports are within 0.1% and the sampler sees growth, coarse enough that republishing
/// costs next to nothing amortized.
#[inline]
fn publish_step(value: usize, floor: usize) -> usize {
    (value / 1024).max(floor)
}

impl super::Slot {
    /// Whether [`grew_at`](super::Slot::grew_at) would note nothing more: where the
    /// collection first grew, or how it came by its first entries, is known already. The
    /// short re-evaluation of a growth needs no site then (issue 23).
    #[inline]
    pub(crate) fn growth_noted(&self) -> bool {
        self.origin.load(Relaxed) != 0 || self.grown_at.get().is_some()
    }
}
