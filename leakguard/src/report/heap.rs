//! The heap by scope name, from the accounts of [`Alloc`](crate::Alloc).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use super::Report;
use crate::accounts;
use crate::settings::SETTINGS;
use crate::sync::lock;
use crate::units::{ByteSize, aligned_table};

/// What the instances of one scope name hold on the heap, with
/// [`Alloc`](crate::Alloc) installed: [`Report::scope`](super::Report::scope).
///
/// Bytes are what the program asked for (`Layout::size()`), with no trailer or rounding.
/// `unscoped` is what was allocated outside any scope, and `leakguard` leakguard's own
/// memory. An instance has ended when its guard, span or future is dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ScopeHeap {
    /// The scope's name.
    pub name: Cow<'static, str>,
    /// Live bytes the name's instances allocated, running and ended together.
    pub live_bytes: usize,
    /// Live blocks, likewise.
    pub live_blocks: usize,
    /// The part of `live_bytes` held by instances that ended.
    pub retained_bytes: usize,
    /// Ended instances holding at least one byte.
    pub retained_instances: usize,
    /// `live_bytes` at each of the last samples the layer's sampler took, the oldest first,
    /// as [`GroupReport::history`](super::GroupReport::history) for a collection.
    pub history: Vec<usize>,
}

/// The live bytes of each scope name at the sampler's last samples: one entry per name with
/// live memory, at most the history setting's samples each.
static HISTORY: Mutex<Option<HashMap<Cow<'static, str>, VecDeque<usize>>>> = Mutex::new(None);

/// Every scope name's heap figures, the most live bytes first, with the history of their
/// live bytes, to which a `sample` adds; empty without [`Alloc`](crate::Alloc).
pub(super) fn by_scope(sample: bool) -> Vec<ScopeHeap> {
    if !accounts::installed() {
        return Vec::new();
    }
    let mut scopes: Vec<ScopeHeap> = accounts::by_name()
        .into_iter()
        .enumerate()
        .filter(|(at, f)| *at < 2 || f.live_blocks > 0 || f.running_instances > 0)
        .map(|(_, f)| ScopeHeap {
            name: f.name,
            live_bytes: f.live_bytes as usize,
            live_blocks: f.live_blocks as usize,
            retained_bytes: f.retained_bytes as usize,
            retained_instances: f.retained_instances as usize,
            history: Vec::new(),
        })
        .collect();
    scopes.sort_by(|a, b| b.live_bytes.cmp(&a.live_bytes).then(a.name.cmp(&b.name)));
    let mut history = lock(&HISTORY);
    let history = history.get_or_insert_with(HashMap::new);
    for scope in &mut scopes {
        let samples = history.entry(scope.name.clone()).or_default();
        if sample {
            samples.push_back(scope.live_bytes);
            while samples.len() > SETTINGS.history() {
                samples.pop_front();
            }
        }
        scope.history.extend(samples.iter());
    }
    // Names with nothing live are forgotten, so the history stays bounded.
    history.retain(|name, _| scopes.iter().any(|s| s.name == *name));
    scopes
}

/// The heap section of the report's table, with [`Alloc`](crate::Alloc) installed: a
/// coverage line, then one row per scope name.
///
/// ```text
/// heap 48.1 MiB live: 12.3 MiB in tracked collections (25%), 30.2 MiB unscoped, 1.1 MiB leakguard
/// scope          live  blocks   retained  ended instances
/// handle     5.6 MiB   20013    5.5 MiB            20000
/// ```
pub(super) fn write_section(report: &Report, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Some(coverage) = coverage(report) else {
        return Ok(());
    };
    // A blank line after the collections, and every line ended, as the table's own.
    writeln!(f, "\n{coverage}")?;
    const HEADER: [&str; 5] = ["scope", "live", "blocks", "retained", "ended instances"];
    let rows: Vec<[String; 5]> = report
        .heap
        .iter()
        .map(|s| {
            [
                s.name.to_string(),
                ByteSize(s.live_bytes).to_string(),
                s.live_blocks.to_string(),
                ByteSize(s.retained_bytes).to_string(),
                s.retained_instances.to_string(),
            ]
        })
        .collect();
    aligned_table(f, HEADER, &rows, &[0])
}

/// The coverage line, `heap 48.1 MiB live: 12.3 MiB in tracked collections (25%), 30.2 MiB
/// unscoped, 1.1 MiB leakguard`; none without [`Alloc`](crate::Alloc).
pub(super) fn coverage(report: &Report) -> Option<String> {
    if report.heap.is_empty() {
        return None;
    }
    let live: usize = report.heap.iter().map(|s| s.live_bytes).sum();
    let of = |name: &str| report.scope(name).map_or(0, |s| s.live_bytes);
    let tracked = report.total_bytes();
    let percent = if live == 0 {
        0.0
    } else {
        tracked as f64 * 100.0 / live as f64
    };
    Some(format!(
        "heap {} live: {} in tracked collections ({percent:.0}%), {} unscoped, {} leakguard",
        ByteSize(live),
        ByteSize(tracked),
        ByteSize(of("unscoped")),
        ByteSize(of("leakguard")),
    ))
}
