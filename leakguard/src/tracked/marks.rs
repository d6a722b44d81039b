//! The word of a collection's [`State`](crate::registry::State) that holds its budget levels
//! and hoarding marks.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::budget::Limit;
use crate::events::Hoard;

/// The word of a collection's [`State`](crate::registry::State) that holds its budget
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

    /// Whether no budget is at a warning level and the collection was not last seen
    /// hoarding anywhere: what the warned bits say does not count.
    pub(super) fn is_clear(marks: &AtomicU32) -> bool {
        marks.load(Relaxed) & 0x3_FFFF == 0
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
