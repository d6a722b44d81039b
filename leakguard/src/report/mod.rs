//! Reports: a snapshot of every live tracked collection, grouped by `Type.field`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::accounts::Own;
use crate::budget::Budget;
use crate::clock::{Nanos, monotonic_now};
use crate::meta::FieldKey;
use crate::registry::{self, FLAG_OUTLIVED, FLAG_OVER_BUDGET};
use crate::scope;
use crate::settings::SETTINGS;
use crate::sync::{self, lock};

mod diff;
#[cfg(feature = "inferno")]
mod flamegraph;
mod folded;
mod heap;
pub(crate) mod heap_profile;
mod page;
mod pprof;
mod table;

pub use diff::{GroupDiff, ReportDiff};
pub use heap::ScopeHeap;
pub use heap_profile::{heap_profile, heap_sample_rate, set_heap_sample_rate};

/// What is holding memory: every live tracked collection, grouped by `Type.field`.
///
/// Prints as a table sorted by bytes, and serialises to JSON with the `serde` feature.
///
/// ```
/// use leakguard::track_growth;
///
/// #[track_growth]
/// #[derive(Default)]
/// struct Cache {
///     #[budget(len = 1_000)]
///     entries: Vec<String>,
/// }
///
/// let mut cache = Cache::default();
/// cache.entries.push("hello".to_string());
/// let report = leakguard::report();
/// let group = report.group("Cache.entries").unwrap();
/// assert_eq!(group.instances, 1);
/// assert_eq!(group.len, 1);
/// print!("{report}"); // the table ends its last line
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Report {
    /// One entry per `Type.field`, the most bytes first.
    pub groups: Vec<GroupReport>,
    /// Heap bytes held by leakguard's own registry.
    pub registry_bytes: usize,
    /// The whole heap by scope name, the most live bytes first, with
    /// [`Alloc`](crate::Alloc) installed; empty without.
    pub heap: Vec<ScopeHeap>,
    /// When the snapshot was taken.
    pub taken_at: SystemTime,
    /// The same moment on the monotonic clock, for rates between two reports.
    #[cfg_attr(feature = "serde", serde(skip))]
    at: Nanos,
}

impl Default for Report {
    /// An empty report, taken now.
    fn default() -> Self {
        Self {
            groups: Vec::new(),
            registry_bytes: 0,
            heap: Vec::new(),
            taken_at: SystemTime::now(),
            at: monotonic_now(),
        }
    }
}

/// The live collections of one `Type.field`.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GroupReport {
    /// `Type.field`.
    pub collection: &'static str,
    /// The module that declares the type.
    pub module: &'static str,
    /// Live collections holding memory, or belonging to a scope.
    pub instances: usize,
    /// Entries across them.
    pub len: usize,
    /// Heap bytes across them: each collection's whole figure, tracked collections nested
    /// in its entries included.
    pub bytes: usize,
    /// The part of `bytes` held by tracked collections nested in these (the fields of a
    /// `#[track_growth]` struct stored in them), which have rows of their own. A report's
    /// totals count those bytes on the nested rows and leave them out here: see
    /// [`Report::total_bytes`].
    pub nested_bytes: usize,
    /// The most entries they have held: see [`peak_bytes`](GroupReport::peak_bytes).
    pub peak_len: usize,
    /// The most heap bytes they have held, a high-water mark that only rises while the
    /// group has live collections.
    ///
    /// Each collection keeps its own high-water mark, compared every time it publishes its
    /// figures (within 0.1%, as the figures), so a collection filled and emptied between
    /// two samples still shows what it reached. The group's is the sum of its live
    /// collections' marks or the highest total a sample or report saw, whichever is more:
    /// for one collection its true peak; for many that peaked at different times, more
    /// than they ever held together.
    pub peak_bytes: usize,
    /// Heap bytes held and holding nothing: storage for entries they do not hold, and spare
    /// capacity inside the entries (strings and buffers built larger than their content).
    pub unused_bytes: usize,
    /// The field's budget.
    pub budget: Budget,
    /// Instances over their budget.
    pub over_budget: usize,
    /// Instances that outlived their scope.
    pub outlived: usize,
    /// Growth of `bytes` per second since the previous sample or report; negative when
    /// shrinking.
    pub bytes_per_sec: f64,
    /// Growth of `len` per second, likewise.
    pub len_per_sec: f64,
    /// The same collections by where they were created, the most bytes first.
    pub sites: Vec<SiteReport>,
    /// `bytes` at each of the last samples the layer's sampler took, the oldest first: as
    /// many as [`LeakLayer::history`](crate::LeakLayer::history) keeps, none without a layer.
    pub history: Vec<usize>,
}

/// The live collections of one `Type.field` created (first grown) at one place.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SiteReport {
    /// The file where they were created, if known.
    pub file: Option<&'static str>,
    /// The line in `file`; 0 if unknown.
    pub line: u32,
    /// How they got their first entries where no line of your code is known: `deserialized
    /// as `Body`` (serde), or `collect()`, `into()` or `clone()` called from std's code,
    /// which does not pass its caller's line on. `None` where `file` is known, and for
    /// collections that never grew.
    pub origin: Option<String>,
    /// The scope they outlived, for collections that did; their scope's name is not kept
    /// otherwise.
    pub scope: Option<Cow<'static, str>>,
    /// Live collections.
    pub instances: usize,
    /// Entries across them.
    pub len: usize,
    /// Heap bytes across them, unused capacity included.
    pub bytes: usize,
    /// The part of `bytes` held by tracked collections nested in these, as in
    /// [`GroupReport::nested_bytes`].
    pub nested_bytes: usize,
    /// The part of `bytes` that holds nothing.
    pub unused_bytes: usize,
    /// Those over their budget.
    pub over_budget: usize,
    /// Those that outlived their scope.
    pub outlived: usize,
}

impl Report {
    /// The group of `Type.field`, if any collection of it is live.
    pub fn group(&self, collection: &str) -> Option<&GroupReport> {
        self.groups.iter().find(|g| g.collection == collection)
    }

    /// The heap figures of scope name `name` (`"unscoped"` for what was allocated outside
    /// any scope), with [`Alloc`](crate::Alloc) installed.
    pub fn scope(&self, name: &str) -> Option<&ScopeHeap> {
        self.heap.iter().find(|s| s.name == name)
    }

    /// Heap bytes across every live tracked collection, each byte once.
    ///
    /// A row's `bytes` is its collections' whole figure. Where a tracked collection holds
    /// `#[track_growth]` structs (a `Vec<Batch>` whose `Batch` tracks its own `items`),
    /// the nested collections have rows of their own, and their bytes are in both rows: the
    /// total counts them on the nested row only, so it is the sum over the rows of `bytes`
    /// less `nested_bytes`, and no more than the rows' sum.
    pub fn total_bytes(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.bytes.saturating_sub(g.nested_bytes))
            .sum()
    }
}

/// What previous observations of a group left: its peaks, and its totals for rates.
struct History {
    peak_len: usize,
    peak_bytes: usize,
    len: usize,
    bytes: usize,
    at: Nanos,
    len_per_sec: f64,
    bytes_per_sec: f64,
    /// `bytes` at the sampler's last samples, the oldest first.
    samples: VecDeque<usize>,
}

/// One per `Type.field`.
static HISTORY: Mutex<Option<HashMap<FieldKey, History>>> = Mutex::new(None);

fn history() -> MutexGuard<'static, Option<HashMap<FieldKey, History>>> {
    lock(&HISTORY)
}

pub(crate) fn poison() {
    sync::poison(&HISTORY);
}

/// Observations closer together than this keep the previous rate.
const MIN_RATE_SPAN: Nanos = 100_000_000;

/// Takes a snapshot of every live tracked collection.
pub fn report() -> Report {
    snapshot(false)
}

/// A snapshot that is also a sample of each group's history: the sampler's.
pub(crate) fn sample() -> Report {
    snapshot(true)
}

fn snapshot(sample: bool) -> Report {
    let taken_at = SystemTime::now();
    let mut groups: HashMap<FieldKey, GroupReport> = HashMap::new();
    let mut sites: HashMap<(FieldKey, registry::Site, u64), SiteReport> = HashMap::new();
    let mut outlived_scopes = HashSet::new();
    registry::for_each_live(|_, seen| {
        let meta = seen.meta;
        let group = groups.entry(meta.key()).or_insert_with(|| GroupReport {
            collection: meta.name,
            module: meta.module,
            instances: 0,
            len: 0,
            bytes: 0,
            nested_bytes: 0,
            peak_len: 0,
            peak_bytes: 0,
            unused_bytes: 0,
            budget: meta.budget,
            over_budget: 0,
            outlived: 0,
            bytes_per_sec: 0.0,
            len_per_sec: 0.0,
            sites: Vec::new(),
            history: Vec::new(),
        });
        let over = usize::from(seen.has_flag(FLAG_OVER_BUDGET));
        let outlived = usize::from(seen.has_flag(FLAG_OUTLIVED));
        group.instances += 1;
        group.len += seen.len;
        group.bytes += seen.bytes;
        group.nested_bytes += seen.nested;
        // High-water marks only rise: one read a little late is still one it reached.
        group.peak_len += seen.peak_len.max(seen.len);
        group.peak_bytes += seen.peak_bytes.max(seen.bytes);
        group.unused_bytes += seen.unused;
        group.over_budget += over;
        group.outlived += outlived;
        // Outlived collections are told apart by the scope they outlived.
        let scope = if outlived == 1 { seen.scope_name } else { 0 };
        outlived_scopes.insert(scope);
        let site = sites
            .entry((meta.key(), seen.site, scope))
            .or_insert_with(|| SiteReport {
                file: seen.site.0.map(|(file, _)| file),
                line: seen.site.0.map_or(0, |(_, line)| line),
                origin: seen
                    .site
                    .0
                    .is_none()
                    .then(|| seen.site.1.describe())
                    .flatten(),
                scope: scope::outlived_name(scope),
                instances: 0,
                len: 0,
                bytes: 0,
                nested_bytes: 0,
                unused_bytes: 0,
                over_budget: 0,
                outlived: 0,
            });
        site.instances += 1;
        site.len += seen.len;
        site.bytes += seen.bytes;
        site.nested_bytes += seen.nested;
        site.unused_bytes += seen.unused;
        site.over_budget += over;
        site.outlived += outlived;
    });
    scope::retain_outlived_names(&outlived_scopes);
    for ((key, _, _), site) in sites {
        if let Some(group) = groups.get_mut(&key) {
            group.sites.push(site);
        }
    }
    for group in groups.values_mut() {
        group.sites.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(a.file.cmp(&b.file))
                .then(a.line.cmp(&b.line))
        });
    }

    let now = monotonic_now();
    // The history is leakguard's, not that of the scope or test check that asked.
    let own = Own::start();
    let mut history = history();
    let history = history.get_or_insert_with(HashMap::new);
    for (key, group) in &mut groups {
        let seen = history.entry(*key).or_insert(History {
            peak_len: 0,
            peak_bytes: 0,
            len: group.len,
            bytes: group.bytes,
            at: now,
            len_per_sec: 0.0,
            bytes_per_sec: 0.0,
            samples: VecDeque::new(),
        });
        if sample {
            let keep = SETTINGS.history();
            seen.samples.push_back(group.bytes);
            while seen.samples.len() > keep {
                seen.samples.pop_front();
            }
        }
        group.history.extend(&seen.samples);
        // What the live collections reached, each at its own high, and what was held at
        // once when a sample or report looked.
        seen.peak_len = seen.peak_len.max(group.len).max(group.peak_len);
        seen.peak_bytes = seen.peak_bytes.max(group.bytes).max(group.peak_bytes);
        let span = now.saturating_sub(seen.at);
        if span >= MIN_RATE_SPAN {
            let secs = span as f64 / 1e9;
            seen.len_per_sec = (group.len as f64 - seen.len as f64) / secs;
            seen.bytes_per_sec = (group.bytes as f64 - seen.bytes as f64) / secs;
            seen.len = group.len;
            seen.bytes = group.bytes;
            seen.at = now;
        }
        group.peak_len = seen.peak_len;
        group.peak_bytes = seen.peak_bytes;
        group.len_per_sec = seen.len_per_sec;
        group.bytes_per_sec = seen.bytes_per_sec;
    }
    // Groups with no live collection left are forgotten, so the history stays bounded.
    history.retain(|key, _| groups.contains_key(key));
    let heap = heap::by_scope(sample);
    drop(own);

    let mut groups: Vec<GroupReport> = groups.into_values().collect();
    groups.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.collection.cmp(b.collection)));
    Report {
        groups,
        registry_bytes: registry::memory(),
        heap,
        taken_at,
        at: now,
    }
}
