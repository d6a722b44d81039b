//! Budgets: the limits of a collection, and the arithmetic of going over them. Pure: the
//! warnings themselves are events.

use std::fmt;

use crate::units::{ByteSize, Count};

/// The limits of one tracked collection: entries, heap bytes, or both.
///
/// Set on a field with `#[budget(len = 100, bytes = "64 KiB")]`, or for every field of a
/// struct with `#[track_growth(len = .., bytes = ..)]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Budget {
    /// Most entries the collection should hold.
    pub len: Option<usize>,
    /// Most heap bytes the collection should own, its entries' heap included.
    pub bytes: Option<usize>,
}

impl Budget {
    /// A budget with no limit.
    pub const fn unlimited() -> Self {
        Self {
            len: None,
            bytes: None,
        }
    }

    /// This budget with an entry limit.
    pub const fn with_len(mut self, len: usize) -> Self {
        self.len = Some(len);
        self
    }

    /// This budget with a byte limit.
    pub const fn with_bytes(mut self, bytes: usize) -> Self {
        self.bytes = Some(bytes);
        self
    }

    /// Whether neither limit is set.
    pub const fn is_unlimited(&self) -> bool {
        self.len.is_none() && self.bytes.is_none()
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.len, self.bytes) {
            (None, None) => f.write_str("none"),
            (Some(len), None) => write!(f, "len {len}"),
            (None, Some(bytes)) => write!(f, "{}", ByteSize(bytes)),
            (Some(len), Some(bytes)) => write!(f, "len {len}, {}", ByteSize(bytes)),
        }
    }
}

/// Which limit of a [`Budget`] a figure is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Limit {
    Len,
    Bytes,
}

impl Limit {
    /// The limit as events and failures name it: `len` or `bytes`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Limit::Len => "len",
            Limit::Bytes => "bytes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The value above which a collection at warning `level` warns again.
///
/// Level 0 is armed (under budget); level `k` means the last warning was for passing
/// `2^(k-1)` times the limit, so the next one comes past `2^k` times it.
#[inline]
pub(crate) fn warn_above(limit: usize, level: u8) -> usize {
    limit
        .checked_shl(u32::from(level))
        .filter(|v| v >> level == limit)
        .unwrap_or(usize::MAX)
}

/// What a fresh figure means for one limit at warning `level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing to do.
    Stay,
    /// Back under the limit: re-arm.
    Rearm,
    /// Over the limit or past another doubling of it: warn, and move to this level.
    Warn(u8),
}

pub(crate) fn step(level: u8, value: usize, limit: usize) -> Step {
    if value <= limit {
        return if level == 0 { Step::Stay } else { Step::Rearm };
    }
    if value <= warn_above(limit, level) {
        return Step::Stay;
    }
    let mut next = level.max(1);
    while value > warn_above(limit, next) {
        next += 1;
    }
    Step::Warn(next)
}

/// The multiple of the limit that warning `level` is for: 1, 2, 4, ...
pub(crate) fn times(level: u8) -> usize {
    1usize << (level.max(1) - 1).min(63)
}

/// A collection going over one limit of its budget, at warning `level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Crossing {
    pub(crate) limit: Limit,
    pub(crate) level: u8,
    pub(crate) len: usize,
    pub(crate) bytes: usize,
    pub(crate) budget: Budget,
}

impl fmt::Display for Crossing {
    /// What went over: `101 entries > 100`, `130 KiB > 2x 64 KiB`; in bytes where rounding
    /// would print both sides alike, so that the inequality reads true:
    /// `32,769 B > 32 KiB (32,768 B)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let times = times(self.level);
        let multiple = Multiple(times);
        match self.limit {
            Limit::Len => write!(
                f,
                "{} entries > {multiple}{}",
                self.len,
                self.budget.len.unwrap_or_default()
            ),
            Limit::Bytes => {
                let limit = self.budget.bytes.unwrap_or_default();
                let over = limit.saturating_mul(times);
                let shown = ByteSize(self.bytes).to_string();
                if shown == ByteSize(over).to_string() {
                    write!(
                        f,
                        "{} B > {multiple}{} ({} B)",
                        Count(self.bytes),
                        ByteSize(limit),
                        Count(over)
                    )
                } else {
                    write!(f, "{shown} > {multiple}{}", ByteSize(limit))
                }
            }
        }
    }
}

/// `2x ` before a limit that has been doubled, nothing for the limit itself.
struct Multiple(usize);

impl fmt::Display for Multiple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 1 {
            write!(f, "{}x ", self.0)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_on_crossing_then_on_each_doubling() {
        assert_eq!(step(0, 100, 100), Step::Stay);
        assert_eq!(step(0, 101, 100), Step::Warn(1));
        assert_eq!(step(1, 150, 100), Step::Stay);
        assert_eq!(step(1, 200, 100), Step::Stay);
        assert_eq!(step(1, 201, 100), Step::Warn(2));
        assert_eq!(step(2, 401, 100), Step::Warn(3));
        assert_eq!(step(0, 1000, 100), Step::Warn(4));
        assert_eq!(step(3, 100, 100), Step::Rearm);
        assert_eq!(step(0, usize::MAX, 1), Step::Warn(64));
    }

    #[test]
    fn crossings_say_what_went_over_which_multiple() {
        let budget = Budget::unlimited().with_len(100).with_bytes(64 * 1024);
        let crossing = |limit, level, len, bytes| Crossing {
            limit,
            level,
            len,
            bytes,
            budget,
        };
        assert_eq!(
            crossing(Limit::Len, 1, 101, 0).to_string(),
            "101 entries > 100"
        );
        assert_eq!(
            crossing(Limit::Bytes, 2, 0, 130 * 1024).to_string(),
            "130 KiB > 2x 64 KiB"
        );
    }

    #[test]
    fn a_crossing_never_reads_as_equal_sides() {
        let budget = Budget::unlimited().with_bytes(32 * 1024);
        let crossing = |level, bytes| Crossing {
            limit: Limit::Bytes,
            level,
            len: 0,
            bytes,
            budget,
        };
        // What a flushed and refilled Vec printed: "32 KiB > 32 KiB".
        assert_eq!(
            crossing(1, 32 * 1024 + 1).to_string(),
            "32,769 B > 32 KiB (32,768 B)"
        );
        assert_eq!(
            crossing(1, 32 * 1024 + 100).to_string(),
            "32.1 KiB > 32 KiB"
        );
        assert_eq!(
            crossing(2, 64 * 1024 + 20).to_string(),
            "65,556 B > 2x 32 KiB (65,536 B)"
        );
        // Every byte count just over the limit prints a larger left side (every 97th under
        // Miri, which runs the whole library in CI and needs minutes for all 8,191 of them).
        let step = if cfg!(miri) { 97 } else { 1 };
        for bytes in (32 * 1024 + 1..40 * 1024).step_by(step) {
            let text = crossing(1, bytes).to_string();
            let (left, right) = text.split_once(" > ").unwrap();
            assert_ne!(left, right, "{text}");
        }
    }

    #[test]
    fn budgets_print_what_they_limit() {
        assert_eq!(Budget::unlimited().to_string(), "none");
        assert_eq!(Budget::unlimited().with_len(100).to_string(), "len 100");
        assert_eq!(
            Budget::unlimited().with_len(5).with_bytes(2048).to_string(),
            "len 5, 2 KiB"
        );
    }
}
