//! Budgets and the warnings for going over them.

use std::cell::Cell;
use std::fmt;

use crate::events::{self, Detail, Fingerprint, Kind, Site};
use crate::meta::FieldMeta;

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

/// A change in bytes, signed, with binary units: `+1.5 KiB`, `-200 B`.
pub(crate) struct SignedBytes(pub(crate) f64);

impl fmt::Display for SignedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0.0 { "-" } else { "+" };
        write!(f, "{sign}{}", ByteSize(self.0.abs().round() as usize))
    }
}

/// A byte count printed with binary units: `512 B`, `64 KiB`, `1.5 MiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteSize(pub(crate) usize);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        let bytes = self.0;
        if bytes < 1024 {
            return write!(f, "{bytes} B");
        }
        let mut value = bytes as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        let tenths = (value * 10.0).round() / 10.0;
        if tenths.fract() == 0.0 {
            write!(f, "{tenths:.0} {}", UNITS[unit])
        } else {
            write!(f, "{tenths:.1} {}", UNITS[unit])
        }
    }
}

/// Which limit of a [`Budget`] a figure is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    Len,
    Bytes,
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

thread_local! {
    static EMITTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `emit` unless this thread is already emitting a leakguard event.
///
/// A subscriber that itself uses tracked collections would otherwise re-enter leakguard
/// from inside its own callback and recurse without bound.
pub(crate) fn emit_once(emit: impl FnOnce()) {
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

/// Emits the warning for a collection that went over `limit` of its budget, rate-limited
/// per collection, limit and level.
pub(crate) fn warn_over_budget(
    meta: &'static FieldMeta,
    limit: Limit,
    level: u8,
    len: usize,
    bytes: usize,
) {
    let fingerprint = Fingerprint {
        kind: Kind::OverBudget,
        field: meta.key(),
        collection: meta.name,
        site: None,
        detail: Detail::Budget {
            bytes: limit == Limit::Bytes,
            level,
        },
    };
    let Some(verdict) = events::occurred(&fingerprint, 1) else {
        return;
    };
    let collection = meta.name;
    let budget = meta.budget;
    let times = times(level);
    let crossing = crossing(limit, level, len, bytes, budget);
    let suppressed = Suppressed(verdict.suppressed);
    let over = match limit {
        Limit::Len => "len",
        Limit::Bytes => "bytes",
    };
    emit_once(|| {
        tracing::warn!(
            target: "leakguard",
            kind = "over_budget",
            collection,
            len,
            bytes,
            budget_len = budget.len,
            budget_bytes = budget.bytes,
            over,
            times,
            suppressed = verdict.suppressed,
            "{collection} over {over} budget: {crossing}{suppressed}",
        );
    });
}

/// The multiple of the limit that warning `level` is for: 1, 2, 4, ...
fn times(level: u8) -> usize {
    1usize << (level.max(1) - 1).min(63)
}

/// What went over `limit` at warning `level`: `101 entries > 100`, `130 KiB > 2x 64 KiB`.
pub(crate) fn crossing(
    limit: Limit,
    level: u8,
    len: usize,
    bytes: usize,
    budget: Budget,
) -> String {
    let multiple = Multiple(times(level));
    match limit {
        Limit::Len => format!(
            "{len} entries > {multiple}{}",
            budget.len.unwrap_or_default()
        ),
        Limit::Bytes => format!(
            "{} > {multiple}{}",
            ByteSize(bytes),
            ByteSize(budget.bytes.unwrap_or_default())
        ),
    }
}

/// Emits the event for a collection that holds far more capacity than it uses.
pub(crate) fn report_hoarding(
    meta: &'static FieldMeta,
    site: Site,
    len: usize,
    capacity: usize,
    unused: usize,
    bytes: usize,
) {
    let fingerprint = Fingerprint {
        kind: Kind::HoardedCapacity,
        field: meta.key(),
        collection: meta.name,
        site,
        detail: Detail::None,
    };
    let Some(verdict) = events::occurred(&fingerprint, 1) else {
        return;
    };
    let collection = meta.name;
    let suppressed = Suppressed(verdict.suppressed);
    emit_once(|| {
        tracing::info!(
            target: "leakguard",
            kind = "hoarded_capacity",
            collection,
            len,
            capacity,
            unused_bytes = unused,
            bytes,
            suppressed = verdict.suppressed,
            "{collection} holds {} of unused capacity (len {len}, capacity {capacity}): call shrink_to_fit to release it{suppressed}",
            ByteSize(unused),
        );
    });
}

/// ` (3 more since the last report)` after a message some of whose occurrences were
/// suppressed, nothing otherwise.
struct Suppressed(u64);

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0 {
            write!(f, " ({} more since the last report)", self.0)
        } else {
            Ok(())
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
    fn byte_sizes_print_with_binary_units() {
        assert_eq!(ByteSize(512).to_string(), "512 B");
        assert_eq!(ByteSize(64 * 1024).to_string(), "64 KiB");
        assert_eq!(ByteSize(1536 * 1024).to_string(), "1.5 MiB");
        assert_eq!(ByteSize(64_000).to_string(), "62.5 KiB");
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
