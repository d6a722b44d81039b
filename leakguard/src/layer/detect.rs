//! The checks that need a clock: scoped collections alive after their scope ended, and
//! collections that grow at every sample. They read what collections published in the
//! registry, never the collections themselves.

use std::collections::HashMap;
use std::sync::Arc;

use crate::accounts::{self, Own};
use crate::clock::{Nanos, monotonic_now};
use crate::events::{self, Finding, Outlived, Retained, Suspect, Unscoped};
use crate::meta::FieldKey;
use crate::registry::{self, FLAG_OUTLIVED, FLAG_SUSPECTED, Site};
use crate::report::heap_profile;
use crate::report::report;
use crate::scope::{self, Due, ScopeInfo};
use crate::settings::SETTINGS;
use std::sync::atomic::Ordering::Relaxed;

/// Checks the scopes `due`, and, when `sample`, samples growth; returns what it found,
/// recorded for the test checks.
pub(super) fn checks(due: Vec<Due>, now: Nanos, sample: bool) -> Vec<Finding> {
    let mut found: Vec<Finding> = outlived(due, now)
        .into_iter()
        .map(Finding::Outlived)
        .collect();
    if sample {
        found.extend(sample_growth(now).into_iter().map(Finding::SuspectedLeak));
        found.extend(sample_heap(now));
    }
    found.iter().for_each(events::record);
    found
}

/// One tick of the sampler, without emitting what it finds: for benchmarks. Returns how
/// many findings it had.
pub(crate) fn sample_tick() -> usize {
    let now = monotonic_now();
    let found = checks(scope::take_due(now), now, true).len();
    let _ = report();
    found
}

/// Checks the scopes `due`; returns the collections that outlived them, one entry per leak
/// (type, field, site and scope name) and subscriber to tell, aged at `now`.
fn outlived(due: Vec<Due>, now: Nanos) -> Vec<Outlived> {
    if due.is_empty() {
        return Vec::new();
    }
    // Each scope with who to tell: scopes of one live subscriber are told together, each
    // other scope alone (those that began under no subscriber together).
    let scopes: HashMap<u64, (&Arc<ScopeInfo>, usize)> = due
        .iter()
        .map(|d| {
            let recipient = d.scope.recipient();
            let told = match recipient.identity() {
                Some(identity) => identity,
                // Registries are aligned: an odd number is never one of theirs.
                None if recipient.is_some() => (d.scope.id as usize) << 1 | 1,
                None => 0,
            };
            (d.scope.id, (&d.scope, told))
        })
        .collect();
    // Same type, field, site and scope name, in however many scopes: one leak.
    let mut leaks: HashMap<(FieldKey, Site, u64, usize), Outlived> = HashMap::new();
    // Collections of each leak found in earlier checks and still alive.
    let mut earlier: HashMap<(FieldKey, Site, u64), u64> = HashMap::new();
    registry::for_each_live(|slot, seen| {
        if seen.has_flag(FLAG_OUTLIVED) {
            *earlier
                .entry((seen.meta.key(), seen.site, seen.scope_name))
                .or_default() += 1;
            return;
        }
        let Some(&(scope, told)) = (seen.scope != 0).then(|| scopes.get(&seen.scope)).flatten()
        else {
            return;
        };
        // Each collection is reported once, though its scope may be checked again; and not
        // at all if its slot was taken by another collection since it was read.
        if !slot.set_flag(seen.generation, FLAG_OUTLIVED, true) {
            return;
        }
        scope::remember_outlived(scope);
        let age = now.saturating_sub(seen.born);
        let since_end = now.saturating_sub(scope.ended.load(Relaxed));
        let leak = leaks
            .entry((seen.meta.key(), seen.site, scope.name_hash, told))
            .or_insert_with(|| Outlived {
                meta: seen.meta,
                scope: scope.name.clone(),
                site: seen.site,
                instances: 0,
                alive: 0,
                len: 0,
                bytes: 0,
                age: 0,
                since_end,
                recipient: scope.recipient().clone(),
            });
        leak.instances += 1;
        if age >= leak.age {
            leak.age = age;
            leak.since_end = since_end;
            leak.len = seen.len;
            leak.bytes = seen.bytes;
        }
    });
    let mut out: Vec<Outlived> = leaks
        .into_iter()
        .map(|((field, site, name, _), mut leak)| {
            leak.alive = leak.instances + earlier.get(&(field, site, name)).copied().unwrap_or(0);
            leak
        })
        .collect();
    out.sort_by(|a, b| a.meta.name.cmp(b.meta.name).then(a.scope.cmp(&b.scope)));
    out
}

/// Reads every live collection's published figures; returns those that grew on each of the
/// last `growth_samples` samples. Never touches a collection, only its slot.
fn sample_growth(now: Nanos) -> Vec<Suspect> {
    let needed = SETTINGS.growth_samples();
    let mut suspects = Vec::new();
    registry::for_each_live(|slot, seen| {
        let (len, bytes) = (seen.len, seen.bytes);
        let last_len = slot.sampled_len.load(Relaxed);
        let last_bytes = slot.sampled_bytes.load(Relaxed);
        let last_at = slot.sampled_at.load(Relaxed);
        slot.sampled_len.store(len, Relaxed);
        slot.sampled_bytes.store(bytes, Relaxed);
        slot.sampled_at.store(now, Relaxed);
        if slot.sampled_generation.swap(seen.generation, Relaxed) != seen.generation {
            // A new collection in this slot: start over.
            slot.streak.store(0, Relaxed);
            slot.set_flag(seen.generation, FLAG_SUSPECTED, false);
            return;
        }
        // Figures are published in steps of at most 1/1024, so any rise of len is one;
        // bytes must rise by 1% to count on their own.
        let grew = len > last_len || bytes > last_bytes.saturating_add(last_bytes / 100);
        if !grew {
            slot.streak.store(0, Relaxed);
            slot.set_flag(seen.generation, FLAG_SUSPECTED, false);
            return;
        }
        let streak = slot.streak.fetch_add(1, Relaxed) + 1;
        if streak == 1 {
            slot.first_growth_at.store(last_at, Relaxed);
            slot.first_growth_len.store(last_len, Relaxed);
            slot.first_growth_bytes.store(last_bytes, Relaxed);
        }
        if streak >= needed
            && !seen.has_flag(FLAG_SUSPECTED)
            && slot.set_flag(seen.generation, FLAG_SUSPECTED, true)
        {
            let secs =
                (now.saturating_sub(slot.first_growth_at.load(Relaxed)) as f64 / 1e9).max(1e-9);
            suspects.push(Suspect {
                meta: seen.meta,
                site: seen.site,
                len,
                bytes,
                samples: streak,
                len_per_sec: (len as f64 - slot.first_growth_len.load(Relaxed) as f64) / secs,
                bytes_per_sec: (bytes as f64 - slot.first_growth_bytes.load(Relaxed) as f64) / secs,
            });
        }
    });
    suspects
}

/// What the samples of one scope name's retained heap have shown so far.
#[derive(Clone, Copy, Default)]
struct Trend {
    bytes: u64,
    instances: u64,
    streak: u32,
    first_at: Nanos,
    first_bytes: u64,
    at: Nanos,
    reported: bool,
}

/// One per scope name the heap accounts know, by the index of the name: bounded by
/// [`accounts::NAMES`].
static TRENDS: std::sync::Mutex<Vec<Trend>> = std::sync::Mutex::new(Vec::new());

/// Reads the heap accounts; returns the scope names whose ended instances held more at
/// each of the last `growth_samples` samples (`retained`), and the unscoped heap if it grew
/// at each of them (a suspected leak outside any scope). A sample counts as growth when
/// the bytes rose by more than 1% (as a collection's bytes must) and more ended instances
/// (for the unscoped heap, more blocks) hold them: a bounded cache that requests fill
/// replaces what it evicts, so once full, neither keeps rising.
fn sample_heap(now: Nanos) -> Vec<Finding> {
    if !accounts::installed() {
        return Vec::new();
    }
    let needed = SETTINGS.growth_samples();
    let figures = accounts::by_name();
    let _own = Own::start();
    let mut trends = crate::sync::lock(&TRENDS);
    if trends.len() < figures.len() {
        trends.resize(figures.len(), Trend::default());
    }
    let mut found = Vec::new();
    for (index, (name, trend)) in figures.into_iter().zip(trends.iter_mut()).enumerate() {
        let unscoped = index == accounts::UNSCOPED_NAME as usize;
        let (bytes, count) = if unscoped {
            (name.live_bytes, name.live_blocks)
        } else {
            (name.retained_bytes, name.retained_instances)
        };
        let last = *trend;
        trend.bytes = bytes;
        trend.instances = count;
        trend.at = now;
        let grew = bytes > last.bytes.saturating_add(last.bytes / 100) && count > last.instances;
        // A name's first sample is where its trend starts, not growth; leakguard's own
        // memory is its own business.
        let own = index == accounts::OWN_NAME as usize;
        if !grew || last.at == 0 || own {
            trend.streak = 0;
            trend.reported = false;
            continue;
        }
        trend.streak += 1;
        if trend.streak == 1 {
            trend.first_at = last.at;
            trend.first_bytes = last.bytes;
        }
        if trend.streak >= needed && !trend.reported {
            trend.reported = true;
            let secs = (now.saturating_sub(trend.first_at) as f64 / 1e9).max(1e-9);
            let bytes_per_sec = (bytes as f64 - trend.first_bytes as f64) / secs;
            found.push(if unscoped {
                Finding::Unscoped(Unscoped {
                    bytes: bytes as usize,
                    blocks: count as usize,
                    samples: trend.streak,
                    bytes_per_sec,
                })
            } else {
                Finding::Retained(Retained {
                    scope: name.name,
                    bytes: bytes as usize,
                    instances: count as usize,
                    samples: trend.streak,
                    bytes_per_sec,
                    sites: heap_profile::top_sites(index as u32, SITES_NAMED),
                })
            });
        }
    }
    found
}

/// How many sampled sites a `retained` warning names.
const SITES_NAMED: usize = 3;
