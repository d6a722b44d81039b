//! The checks that need a clock: scoped collections alive after their scope ended, and
//! collections that grow at every sample. They read what collections published in the
//! registry, never the collections themselves.

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::{Nanos, monotonic_now};
use crate::events::{self, Finding, Outlived, Suspect};
use crate::meta::FieldKey;
use crate::registry::{self, FLAG_OUTLIVED, FLAG_SUSPECTED, Site};
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
            let recipient = &d.scope.recipient;
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
                recipient: scope.recipient.clone(),
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
