//! What a running test check needs from below: its tag, current on the thread that runs it
//! (collections made there carry it), the budget crossings of those collections, which
//! the event pipeline records, and the changes its thread made to collections made before
//! it or elsewhere. [`testing`](crate::testing) builds the assertions on it.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

use crate::accounts;
use crate::budget::Crossing;
use crate::meta::FieldMeta;
use crate::registry::{Site, Slot};
use crate::scope;
use crate::sync::{self, lock};

/// Checks running in the process; while any is, figures are published exactly.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

static NEXT_TAG: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// The check running on this thread, 0 for none.
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

/// Whether a check is running anywhere in the process.
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Relaxed) != 0
}

/// The check running on this thread, for a collection created now; 0 for none.
#[inline]
pub(crate) fn current() -> u32 {
    if !active() {
        return 0;
    }
    CURRENT.try_with(Cell::get).unwrap_or(0)
}

/// A budget crossing of a collection made under a check: the highest of its field and limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recorded {
    pub(crate) collection: &'static str,
    pub(crate) site: Site,
    pub(crate) crossing: Crossing,
}

static CROSSINGS: Mutex<Option<HashMap<u32, Vec<Recorded>>>> = Mutex::new(None);

pub(crate) fn poison() {
    sync::poison(&CROSSINGS);
    sync::poison(&CHANGES);
}

/// Records that a collection made under check `tag` went over its budget; only the highest
/// crossing of each field and limit is kept.
pub(crate) fn record_crossing(tag: u32, meta: &'static FieldMeta, site: Site, crossing: Crossing) {
    let mut guard = lock(&CROSSINGS);
    let log = guard
        .get_or_insert_with(HashMap::new)
        .entry(tag)
        .or_default();
    let same = |r: &&mut Recorded| r.collection == meta.name && r.crossing.limit == crossing.limit;
    match log.iter_mut().find(same) {
        Some(known) if known.crossing.level >= crossing.level => {}
        Some(known) => {
            known.crossing = crossing;
            known.site = if known.site.is_known() {
                known.site
            } else {
                site
            };
        }
        None => log.push(Recorded {
            collection: meta.name,
            site,
            crossing,
        }),
    }
}

/// What a check's thread changed in one collection made outside the check, in all since
/// the check began: what its scenario grew there, whatever other threads did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) len: i64,
    pub(crate) bytes: i64,
}

/// Each running check's changes, by the collection's [`instance`](Slot::instance): one
/// entry per collection its thread changed, for as long as the check runs.
static CHANGES: Mutex<Option<HashMap<u32, HashMap<u64, Change>>>> = Mutex::new(None);

/// Whether `slot`'s figures should be recorded as changed by check `tag` when they change:
/// the collection was made outside that check.
#[inline]
pub(crate) fn changes_outside(tag: u32, slot: &Slot) -> bool {
    tag != 0 && slot.test.load(Relaxed) != tag
}

/// Records that check `tag`'s thread moved the figures of the collection in `slot` from
/// `before` to `after` (len, bytes).
pub(crate) fn record_change(tag: u32, slot: &Slot, before: (usize, usize), after: (usize, usize)) {
    if before == after {
        return;
    }
    let delta = |a: usize, b: usize| (a as i64).wrapping_sub(b as i64);
    let mut guard = lock(&CHANGES);
    let change = guard
        .get_or_insert_with(HashMap::new)
        .entry(tag)
        .or_default()
        .entry(slot.instance())
        .or_default();
    change.len = change.len.wrapping_add(delta(after.0, before.0));
    change.bytes = change.bytes.wrapping_add(delta(after.1, before.1));
}

/// A check as a thread or a future enters it: its tag, and its heap account (0 without
/// [`Alloc`](crate::Alloc)), which what the thread allocates outside any scope is charged
/// to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) tag: u32,
    pub(crate) account: u32,
}

impl Check {
    /// The check current on this thread, for a task that joins it.
    pub(crate) fn current() -> Self {
        let tag = current();
        let account = if tag == 0 { 0 } else { accounts::base() };
        Check { tag, account }
    }
}

/// A running check: its tag is current on this thread until it is dropped.
pub(crate) struct CheckGuard {
    pub(crate) check: Check,
    outer: Option<Check>,
}

impl CheckGuard {
    /// A check current on this thread until dropped.
    pub(crate) fn start() -> Self {
        let mut guard = Self::detached();
        guard.outer = Some(enter(guard.check));
        guard
    }

    /// A check current on no thread: what a future enters on each poll, for an
    /// asynchronous check.
    pub(crate) fn detached() -> Self {
        let tag = NEXT_TAG.fetch_add(1, Relaxed).max(1);
        ACTIVE.fetch_add(1, Relaxed);
        let account = if crate::mode::ENABLED {
            accounts::open_check("test check", tag)
        } else {
            0
        };
        CheckGuard {
            check: Check { tag, account },
            outer: None,
        }
    }

    /// The changes this check's thread made to collections made outside it, by instance.
    pub(crate) fn changes(&self) -> HashMap<u64, Change> {
        lock(&CHANGES)
            .as_ref()
            .and_then(|map| map.get(&self.check.tag).cloned())
            .unwrap_or_default()
    }

    /// The bytes and blocks allocated under this check, on any thread, and still live.
    pub(crate) fn heap_held(&self) -> (u64, u64) {
        accounts::held_by_check(self.check.tag)
    }

    /// Takes the crossings recorded under this check.
    pub(crate) fn crossings(&self) -> Vec<Recorded> {
        lock(&CROSSINGS)
            .as_mut()
            .and_then(|map| map.remove(&self.check.tag))
            .unwrap_or_default()
    }
}

/// Makes `check` current on this thread; returns the one it replaces, for [`leave`].
pub(crate) fn enter(check: Check) -> Check {
    let tag = CURRENT.try_with(|c| c.replace(check.tag)).unwrap_or(0);
    let account = accounts::set_base(check.account);
    scope::refresh_account();
    Check { tag, account }
}

/// Makes `outer` current again on this thread, after [`enter`].
pub(crate) fn leave(outer: Check) {
    let _ = CURRENT.try_with(|c| c.set(outer.tag));
    accounts::set_base(outer.account);
    scope::refresh_account();
}

impl Drop for CheckGuard {
    fn drop(&mut self) {
        if let Some(outer) = self.outer {
            leave(outer);
        }
        accounts::end(self.check.account);
        ACTIVE.fetch_sub(1, Relaxed);
        if let Some(map) = lock(&CROSSINGS).as_mut() {
            map.remove(&self.check.tag);
        }
        if let Some(map) = lock(&CHANGES).as_mut() {
            map.remove(&self.check.tag);
        }
    }
}
