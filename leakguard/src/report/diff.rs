//! What changed between two reports: per `Type.field`, the change in instances, entries and
//! bytes, and the rate of the bytes.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::{GroupReport, Report};
use crate::units::{ByteSize, Elapsed, SignedBytes, aligned_table};

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
        let rate = |bytes: i64| if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
        // One lookup per group in a map of the earlier ones, instead of a scan of them
        // (quadratic: 80,000 groups took 10 s). Groups of one `Type.field` and module made
        // at different places (caches given one name in two places) pair up in the order of
        // each report; each earlier group is used once, with its place in that report.
        let mut before: HashMap<GroupKey, Vec<(usize, &GroupReport)>> = HashMap::new();
        for (at, group) in earlier.groups.iter().enumerate().rev() {
            before.entry(key(group)).or_default().push((at, group));
        }
        let mut groups: Vec<GroupDiff> =
            Vec::with_capacity(self.groups.len().max(earlier.groups.len()));
        for now in &self.groups {
            let (instances, len, bytes) = before
                .get_mut(&key(now))
                .and_then(Vec::pop)
                .map_or((0, 0, 0), |(_, g)| (g.instances, g.len, g.bytes));
            let grown = now.bytes as i64 - bytes as i64;
            groups.push(GroupDiff {
                collection: now.collection,
                module: now.module,
                instances: now.instances as i64 - instances as i64,
                len: now.len as i64 - len as i64,
                bytes: grown,
                bytes_now: now.bytes,
                bytes_per_sec: rate(grown),
            });
        }
        // What is left of the earlier groups is gone now; in the earlier report's order, so
        // that ties sort as they always have.
        let mut gone: Vec<(usize, &GroupReport)> = before.into_values().flatten().collect();
        gone.sort_unstable_by_key(|&(at, _)| at);
        for (_, gone) in gone {
            groups.push(GroupDiff {
                collection: gone.collection,
                module: gone.module,
                instances: -(gone.instances as i64),
                len: -(gone.len as i64),
                bytes: -(gone.bytes as i64),
                bytes_now: 0,
                bytes_per_sec: rate(-(gone.bytes as i64)),
            });
        }
        groups.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.collection.cmp(b.collection)));
        ReportDiff {
            groups,
            elapsed,
            total_bytes: self.total_bytes() as i64 - earlier.total_bytes() as i64,
        }
    }
}

/// What tells the groups of a report apart: `Type.field` and its module.
type GroupKey = (&'static str, &'static str);

fn key(group: &GroupReport) -> GroupKey {
    (group.collection, group.module)
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
        aligned_table(f, HEADER, &rows, &[0])?;
        write!(
            f,
            "{} in all over {}",
            SignedBytes(self.total_bytes as f64),
            Elapsed(self.elapsed.as_nanos() as u64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    fn group(collection: &'static str, module: &'static str, bytes: usize) -> GroupReport {
        GroupReport {
            collection,
            module,
            instances: bytes % 7 + 1,
            len: bytes / 3,
            bytes,
            peak_len: 0,
            peak_bytes: 0,
            unused_bytes: 0,
            budget: Budget::default(),
            over_budget: 0,
            outlived: 0,
            bytes_per_sec: 0.0,
            len_per_sec: 0.0,
            sites: Vec::new(),
            nested_bytes: 0,
            history: Vec::new(),
        }
    }

    fn report(groups: Vec<GroupReport>, at: u64) -> Report {
        // Not `Report::default()`: Miri's isolation has no wall clock.
        Report {
            groups,
            registry_bytes: 0,
            heap: Vec::new(),
            taken_at: std::time::SystemTime::UNIX_EPOCH,
            at,
        }
    }

    /// What `diff` returned when it scanned the earlier groups for each later one: the
    /// reference for groups with distinct keys.
    fn scanned(
        now: &Report,
        earlier: &Report,
    ) -> Vec<(&'static str, &'static str, i64, i64, i64, usize)> {
        let same = |a: &GroupReport, b: &GroupReport| key(a) == key(b);
        let mut rows: Vec<_> = now
            .groups
            .iter()
            .map(|g| {
                let before = earlier.groups.iter().find(|e| same(e, g));
                let (i, l, b) = before.map_or((0, 0, 0), |e| (e.instances, e.len, e.bytes));
                let d = |x: usize, y: usize| x as i64 - y as i64;
                (
                    g.collection,
                    g.module,
                    d(g.instances, i),
                    d(g.len, l),
                    d(g.bytes, b),
                    g.bytes,
                )
            })
            .collect();
        for e in &earlier.groups {
            if !now.groups.iter().any(|g| same(g, e)) {
                rows.push((
                    e.collection,
                    e.module,
                    -(e.instances as i64),
                    -(e.len as i64),
                    -(e.bytes as i64),
                    0,
                ));
            }
        }
        rows.sort_by(|a, b| b.4.cmp(&a.4).then(a.0.cmp(b.0)));
        rows
    }

    /// `T0.f`, `T1.f`, ...: names that live as long as reports need, and stay reachable
    /// (Miri reports memory no one can reach at exit as leaked).
    fn names(count: usize) -> &'static [String] {
        static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        &NAMES.get_or_init(|| (0..count).map(|i| format!("T{i}.f")).collect())[..count]
    }

    #[test]
    fn a_diff_matches_the_scan_it_replaces_on_thousands_of_groups() {
        // Thousands of keys: kept (some grown, some shrunk, some equal), gone, new, and one
        // `Type.field` name in two modules.
        const KEYS: usize = if cfg!(miri) { 200 } else { 3_000 };
        let mut earlier = Vec::new();
        let mut now = Vec::new();
        for (i, name) in names(KEYS).iter().enumerate() {
            let name = name.as_str();
            let module = if i % 11 == 0 { "other" } else { "app" };
            match i % 5 {
                0 => earlier.push(group(name, module, i * 10)),
                1 => now.push(group(name, module, i * 10)),
                _ => {
                    earlier.push(group(name, module, i * 10 + 100));
                    now.push(group(name, module, i * 10 + (i % 3) * 100));
                }
            }
            if i % 13 == 0 {
                // The same name in another module: its own group.
                now.push(group(name, "elsewhere", i));
            }
        }
        // Reports list groups by bytes; the diff must not depend on it.
        earlier.reverse();
        let (earlier, now) = (report(earlier, 1_000_000_000), report(now, 3_000_000_000));
        let diff = now.diff(&earlier);
        let rows: Vec<_> = diff
            .groups
            .iter()
            .map(|g| {
                (
                    g.collection,
                    g.module,
                    g.instances,
                    g.len,
                    g.bytes,
                    g.bytes_now,
                )
            })
            .collect();
        assert_eq!(rows, scanned(&now, &earlier));
        assert_eq!(diff.elapsed, Duration::from_secs(2));
        let grown = diff.groups.iter().find(|g| g.collection == "T2.f").unwrap();
        assert_eq!(grown.bytes_per_sec, grown.bytes as f64 / 2.0);
    }

    #[test]
    fn groups_sharing_a_name_and_module_pair_up_once_each() {
        // Two caches given one name at two places: two groups with one key.
        let earlier = report(vec![group("tokens", "", 100), group("tokens", "", 40)], 0);
        let now = report(vec![group("tokens", "", 300)], 0);
        let diff = now.diff(&earlier);
        let bytes: Vec<i64> = diff.groups.iter().map(|g| g.bytes).collect();
        // 300 against the first earlier group; the second is gone.
        assert_eq!(bytes, [200, -40]);
        assert!(diff.groups.iter().all(|g| g.bytes_per_sec == 0.0));
        let total: i64 = bytes.iter().sum();
        assert_eq!(total, 300 - 140, "every earlier byte is counted once");
    }
}
