//! What changed between two reports: per `Type.field`, the change in instances, entries and
//! bytes, and the rate of the bytes.

use std::fmt;
use std::time::Duration;

use super::Report;
use crate::units::{ByteSize, Elapsed, SignedBytes};

/// The change between an earlier report and a later one; see [`Report::diff`].
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ReportDiff {
    /// One entry per `Type.field` live in either report, the most grown first.
    pub groups: Vec<GroupDiff>,
    /// The time between the two reports.
    pub elapsed: Duration,
    /// Change in [`Report::total_bytes`], each byte once: not the sum of the groups'
    /// `bytes` where tracked collections nest.
    pub total_bytes: i64,
}

/// The change of one `Type.field` between two reports.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GroupDiff {
    /// `Type.field`.
    pub collection: &'static str,
    /// The module that declares the type.
    pub module: &'static str,
    /// Change in live collections.
    pub instances: i64,
    /// Change in entries.
    pub len: i64,
    /// Change in heap bytes.
    pub bytes: i64,
    /// Heap bytes in the later report.
    pub bytes_now: usize,
    /// `bytes` per second of `elapsed`; 0 when the reports were taken at the same time.
    pub bytes_per_sec: f64,
}

impl Report {
    /// What changed since `earlier`: per `Type.field`, in instances, entries and bytes, with
    /// the rate of the bytes. Prints as a table, the most grown first.
    ///
    /// ```
    /// let earlier = leakguard::report();
    /// // ... the service runs ...
    /// let grown = leakguard::report().diff(&earlier);
    /// println!("{grown}");
    /// ```
    pub fn diff(&self, earlier: &Report) -> ReportDiff {
        let elapsed = Duration::from_nanos(self.at.saturating_sub(earlier.at));
        let secs = elapsed.as_secs_f64();
        let key = |g: &super::GroupReport| (g.collection, g.module);
        let mut groups: Vec<GroupDiff> = self
            .groups
            .iter()
            .map(|now| {
                let before = earlier.groups.iter().find(|g| key(g) == key(now));
                let (instances, len, bytes) =
                    before.map_or((0, 0, 0), |g| (g.instances, g.len, g.bytes));
                let grown = now.bytes as i64 - bytes as i64;
                GroupDiff {
                    collection: now.collection,
                    module: now.module,
                    instances: now.instances as i64 - instances as i64,
                    len: now.len as i64 - len as i64,
                    bytes: grown,
                    bytes_now: now.bytes,
                    bytes_per_sec: if secs > 0.0 { grown as f64 / secs } else { 0.0 },
                }
            })
            .collect();
        for gone in &earlier.groups {
            if !self.groups.iter().any(|g| key(g) == key(gone)) {
                groups.push(GroupDiff {
                    collection: gone.collection,
                    module: gone.module,
                    instances: -(gone.instances as i64),
                    len: -(gone.len as i64),
                    bytes: -(gone.bytes as i64),
                    bytes_now: 0,
                    bytes_per_sec: if secs > 0.0 {
                        -(gone.bytes as f64) / secs
                    } else {
                        0.0
                    },
                });
            }
        }
        groups.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.collection.cmp(b.collection)));
        ReportDiff {
            groups,
            elapsed,
            total_bytes: self.total_bytes() as i64 - earlier.total_bytes() as i64,
        }
    }
}

impl fmt::Display for ReportDiff {
    /// A table of the changes, the most grown first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEADER: [&str; 6] = ["collection", "instances", "len", "bytes", "now", "rate"];
        let signed = |n: i64| {
            if n > 0 {
                format!("+{n}")
            } else {
                n.to_string()
            }
        };
        let rows: Vec<[String; 6]> = self
            .groups
            .iter()
            .map(|g| {
                [
                    g.collection.to_string(),
                    signed(g.instances),
                    signed(g.len),
                    SignedBytes(g.bytes as f64).to_string(),
                    ByteSize(g.bytes_now).to_string(),
                    format!("{}/s", SignedBytes(g.bytes_per_sec)),
                ]
            })
            .collect();
        let mut widths = HEADER.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 6]| -> fmt::Result {
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i == 0 {
                    write!(f, "{cell:<width$}")?;
                } else {
                    write!(f, "  {cell:>width$}")?;
                }
            }
            writeln!(f)
        };
        line(f, HEADER)?;
        for row in &rows {
            line(f, row.each_ref().map(String::as_str))?;
        }
        write!(
            f,
            "{} in all over {}",
            SignedBytes(self.total_bytes as f64),
            Elapsed(self.elapsed.as_nanos() as u64)
        )
    }
}
