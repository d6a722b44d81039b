//! The instrumentation state of one tracked collection, and everything it does that does not
//! depend on the collection's type: budgets, hoarding, registration and publishing. Compiled
//! once in leakguard, whatever the collections and structs that use it.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};

use crate::budget::{self, Crossing, Limit, Step};
use crate::clock::monotonic_now;
use crate::events::{self, Finding, Hoard};
use crate::harness;
use crate::heap_size::{Footprint, HeapChange, HeapUsage};
use crate::meta::FieldMeta;
use crate::registry::{self, FLAG_OVER_BUDGET, Registration, Slot};
use crate::scope::{self, ScopeInfo};
use crate::settings::SETTINGS;

/// The instrumentation state of one tracked collection.
///
/// Fields read through `&self` (from `Deref`) are atomics; the window of the fast path is
/// only touched through `&mut self`.
pub(crate) struct Accounting {
    /// What the collection is: its name, budget and bounds.
    pub(super) meta: &'static FieldMeta,
    /// Heap owned by the entries, kept current by the growth and removal methods.
    pub(super) elem_heap: AtomicUsize,
    /// The part of `elem_heap` that holds nothing: spare capacity inside the entries.
    elem_unused: AtomicUsize,
    /// Whether the entries were last seen hoarding unused capacity.
    entries_hoarding: AtomicBool,
    /// Set by `DerefMut`: the collection may have changed in ways the figures missed.
    pub(super) dirty: AtomicBool,
    /// Warning levels of the len and bytes budgets (see [`budget::warn_above`]).
    len_level: AtomicU8,
    bytes_level: AtomicU8,
    /// Whether the collection's storage was last seen hoarding unused capacity.
    hoarding: AtomicBool,
    /// Accesses through `DerefMut` since the entries were last walked.
    dirty_since_walk: AtomicUsize,
    /// Its slot in the registry, once it holds memory.
    slot: Option<&'static Slot>,
    /// The scope it belongs to, for a scoped collection created in one.
    scope: Option<Arc<ScopeInfo>>,
    /// The test check it was created under, 0 for none.
    test: u32,
    /// The figures stay inside this window until something needs re-evaluating.
    window: Window,
}

/// Bounds of the figures between two evaluations: a growth or removal that stays inside
/// needs no more than a comparison.
struct Window {
    len_lo: usize,
    len_hi: usize,
    heap_lo: usize,
    heap_hi: usize,
    unused_lo: usize,
    unused_hi: usize,
}

impl Window {
    /// A window every figure is outside of: the next growth or removal re-evaluates.
    const SHUT: Window = Window {
        len_lo: usize::MAX,
        len_hi: 0,
        heap_lo: usize::MAX,
        heap_hi: 0,
        unused_lo: usize::MAX,
        unused_hi: 0,
    };
}

/// One [`Accounting`] when instrumentation is compiled in, none (zero bytes) when it is not.
pub(super) type Instrument = [Accounting; crate::ENABLED as usize];

/// The instrument of a collection known to be empty.
#[inline(always)]
pub(super) fn empty(meta: &'static FieldMeta) -> Instrument {
    std::array::from_fn(|_| Accounting::empty(meta))
}

/// The instrument of a collection with entries nobody has measured yet.
#[inline]
pub(super) fn unwalked(meta: &'static FieldMeta) -> Instrument {
    std::array::from_fn(|_| Accounting::unwalked(meta))
}

/// The instrument of a clone of the collection `of` instruments: the same field, with
/// entries nobody has measured yet.
#[inline]
pub(super) fn cloned(of: &Instrument) -> Instrument {
    of.each_ref()
        .map(|accounting| Accounting::unwalked(accounting.meta))
}

/// `dirty_since_walk` of a collection whose entries have never been measured: the next
/// access walks them whatever their number.
const NEVER_WALKED: usize = usize::MAX / 64;

/// The published figures move in steps of at most 1/1024 of themselves: fine enough that
/// reports are within 0.1% and the sampler sees growth, coarse enough that republishing
/// costs next to nothing amortized.
#[inline]
fn publish_step(value: usize, floor: usize) -> usize {
    (value / 1024).max(floor)
}

impl Accounting {
    /// The state of a collection known to be empty; a scoped one notes the scope it is
    /// created in.
    ///
    /// Always inlined: `meta` is a constant, and for a collection that is not scoped the
    /// whole scope branch then folds away.
    #[inline(always)]
    fn empty(meta: &'static FieldMeta) -> Self {
        Self {
            meta,
            elem_heap: AtomicUsize::new(0),
            elem_unused: AtomicUsize::new(0),
            entries_hoarding: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            len_level: AtomicU8::new(0),
            bytes_level: AtomicU8::new(0),
            hoarding: AtomicBool::new(false),
            dirty_since_walk: AtomicUsize::new(0),
            slot: None,
            // It registers when it first holds memory: one that never does retains nothing.
            scope: if meta.scoped {
                Self::scope_of_new()
            } else {
                None
            },
            test: harness::current(),
            window: Window::SHUT,
        }
    }

    #[inline(never)]
    fn scope_of_new() -> Option<Arc<ScopeInfo>> {
        scope::current()
    }

    /// The state of a collection with entries nobody has measured yet: its first access
    /// walks them.
    #[inline]
    fn unwalked(meta: &'static FieldMeta) -> Self {
        let accounting = Self::empty(meta);
        accounting.dirty.store(true, Relaxed);
        accounting.dirty_since_walk.store(NEVER_WALKED, Relaxed);
        accounting
    }

    /// Makes the next growth or removal leave the window, so that it re-evaluates.
    #[inline]
    pub(super) fn shut_window(&mut self) {
        self.window = Window::SHUT;
    }

    /// Records `added` entry heap at length `len`, after the collection grew; whether the
    /// figures left their window.
    #[inline]
    pub(super) fn grew(&mut self, len: usize, added: HeapUsage) -> bool {
        let mut leave = len > self.window.len_hi;
        if added.bytes != 0 {
            leave |= self.changed(added, HeapUsage::NONE);
        }
        leave
    }

    /// Records `removed` entry heap going out at length `len`, after the collection shrank;
    /// whether the figures left their window.
    #[inline]
    pub(super) fn shrank(&mut self, len: usize, removed: HeapUsage) -> bool {
        let mut leave = len < self.window.len_lo;
        if removed.bytes != 0 {
            leave |= self.changed(HeapUsage::NONE, removed);
        }
        leave
    }

    /// Records an entry changed in place, `removed` heap replaced by `added`, the length
    /// staying; whether the figures left their window.
    #[inline]
    pub(super) fn replaced(&mut self, added: HeapUsage, removed: HeapUsage) -> bool {
        added != removed && self.changed(added, removed)
    }

    /// Applies a change of entry heap; whether it left the window. The unused part has its
    /// own window: replacing an entry can change it alone.
    #[inline]
    fn changed(&mut self, added: HeapUsage, removed: HeapUsage) -> bool {
        let heap = self.elem_heap.get_mut();
        *heap = heap
            .saturating_add(added.bytes)
            .saturating_sub(removed.bytes);
        let unused = self.elem_unused.get_mut();
        *unused = unused
            .saturating_add(added.unused)
            .saturating_sub(removed.unused);
        let window = &self.window;
        !(window.heap_lo..=window.heap_hi).contains(heap)
            || !(window.unused_lo..=window.unused_hi).contains(unused)
    }

    /// Applies `change` to the entry heap, as a self-evicting collection reports it.
    pub(super) fn add_heap(&mut self, change: HeapChange) {
        let heap = self.elem_heap.get_mut();
        *heap = heap.saturating_add_signed(change.bytes);
        let unused = self.elem_unused.get_mut();
        *unused = unused.saturating_add_signed(change.unused);
    }

    /// Records that entries may have changed through `&mut`, as `DerefMut` does.
    #[inline]
    pub(super) fn touched(&mut self) {
        *self.dirty.get_mut() = true;
        self.shut_window();
    }

    /// Marks the figures as unknown while user code runs on the collection; returns what
    /// [`restore`](Self::restore) puts back once it returned.
    #[inline]
    pub(super) fn suspend(&mut self) -> (bool, usize) {
        let saved = (*self.dirty.get_mut(), *self.dirty_since_walk.get_mut());
        *self.dirty.get_mut() = true;
        *self.dirty_since_walk.get_mut() = NEVER_WALKED;
        self.shut_window();
        saved
    }

    #[inline]
    pub(super) fn restore(&mut self, (dirty, since_walk): (bool, usize)) {
        *self.dirty.get_mut() = dirty;
        *self.dirty_since_walk.get_mut() = since_walk;
    }

    /// Whether enough accesses through `DerefMut` have paid for a walk of `len` entries (at
    /// most 64 entries per access, amortized); counts this access.
    pub(super) fn walk_due(&self, len: usize) -> bool {
        let accesses = self.dirty_since_walk.fetch_add(1, Relaxed) + 1;
        accesses.saturating_mul(64) >= len
    }

    /// Records a full measurement of the entries' heap.
    pub(super) fn walked(&self, entries: HeapUsage) {
        self.elem_heap.store(entries.bytes, Relaxed);
        self.elem_unused.store(entries.unused, Relaxed);
        self.dirty_since_walk.store(0, Relaxed);
    }

    /// The heap the collection owns by the running figures: its storage and its entries'.
    pub(super) fn bytes(&self, footprint: Option<Footprint>) -> usize {
        footprint.map_or(0, |fp| fp.storage_bytes) + self.elem_heap.load(Relaxed)
    }

    /// Checks the current figures against the budget and for hoarded capacity, warning on
    /// a crossing, and publishes them to the registry.
    #[inline(never)]
    pub(super) fn evaluate(&self, footprint: Option<Footprint>) {
        let meta = self.meta;
        let len = footprint.map_or(0, |fp| fp.len);
        let bytes = self.bytes(footprint);
        let budget = meta.budget;
        for (limit, level, value, max) in [
            (Limit::Len, &self.len_level, len, budget.len),
            (Limit::Bytes, &self.bytes_level, bytes, budget.bytes),
        ] {
            let Some(max) = max else { continue };
            match budget::step(level.load(Relaxed), value, max) {
                Step::Stay => {}
                Step::Rearm => level.store(0, Relaxed),
                Step::Warn(next) => {
                    level.store(next, Relaxed);
                    events::emit_now(Finding::OverBudget {
                        meta,
                        crossing: Crossing {
                            limit,
                            level: next,
                            len,
                            bytes,
                            budget,
                        },
                        site: self.site(),
                        test: self.test,
                        instance: self.instance(),
                    });
                }
            }
        }
        let storage_unused = footprint.map_or(0, |fp| fp.unused_bytes());
        let entries = HeapUsage {
            bytes: self.elem_heap.load(Relaxed),
            unused: self.elem_unused.load(Relaxed),
        };
        let unused = storage_unused.saturating_add(entries.unused);
        if let Some(fp) = footprint {
            let ratio = SETTINGS.hoard_ratio() as usize;
            let floor = SETTINGS.hoard_bytes();
            // The storage holds `ratio` times the entries it has room for; the entries hold
            // `ratio` times the bytes they use.
            let storage = storage_unused >= floor && fp.capacity >= fp.len.saturating_mul(ratio);
            let entries_used = entries.bytes.saturating_sub(entries.unused);
            let inside =
                entries.unused >= floor && entries.bytes >= entries_used.saturating_mul(ratio);
            for (hoarding, was, cause, unused) in [
                (storage, &self.hoarding, Hoard::Storage, storage_unused),
                (
                    inside,
                    &self.entries_hoarding,
                    Hoard::Entries,
                    entries.unused,
                ),
            ] {
                if hoarding != was.swap(hoarding, Relaxed) && hoarding {
                    events::emit_now(Finding::HoardedCapacity {
                        meta,
                        site: self.site(),
                        instance: self.instance(),
                        cause,
                        len,
                        capacity: fp.capacity,
                        unused,
                        bytes,
                    });
                }
            }
        }
        if let Some(slot) = self.slot {
            slot.len.store(len, Relaxed);
            slot.bytes.store(bytes, Relaxed);
            slot.unused.store(unused, Relaxed);
            let over = self.len_level.load(Relaxed) > 0 || self.bytes_level.load(Relaxed) > 0;
            slot.set_flag(slot.generation(), FLAG_OVER_BUDGET, over);
        }
    }

    fn site(&self) -> registry::Site {
        self.slot.map(Slot::site).unwrap_or_default()
    }

    fn instance(&self) -> u64 {
        self.slot.map_or(0, Slot::instance)
    }

    /// Registers the collection once it holds memory, notes where it grew, evaluates the
    /// figures and recomputes the window of the fast path. `site` is where the collection
    /// grew, if it did.
    #[inline(never)]
    pub(super) fn resync(
        &mut self,
        footprint: Option<Footprint>,
        site: Option<&'static Location<'static>>,
    ) {
        let (len, capacity, storage) = footprint.map_or((0, usize::MAX, 0), |fp| {
            (fp.len, fp.capacity, fp.storage_bytes)
        });
        if self.slot.is_none() && (len > 0 || storage > 0) {
            events::arm();
            self.slot = registry::register(Registration {
                meta: self.meta,
                scope: self.scope.as_ref().map_or(0, |s| s.id),
                scope_name: self.scope.as_ref().map_or(0, |s| s.name_hash),
                test: self.test,
                now: monotonic_now(),
            });
            if let (Some(scope), Some(_)) = (&self.scope, self.slot) {
                scope::registered(scope);
            }
        }
        if let (Some(slot), Some(site), true) = (self.slot, site, len > 0) {
            slot.grew_at(site);
        }
        if let (Some(slot), true) = (self.slot, harness::active()) {
            let check = harness::current();
            if check != 0 {
                slot.touched.store(check, Relaxed);
            }
        }
        self.evaluate(footprint);

        let budget = self.meta.budget;
        let heap = *self.elem_heap.get_mut();
        let len_level = *self.len_level.get_mut();
        let bytes_level = *self.bytes_level.get_mut();
        // Storage grows only when the entries outgrow the capacity; figures republish after
        // a step, and a budget warns past its next threshold. Under a test check, figures
        // are exact.
        let exact = harness::active();
        let len_step = if exact { 1 } else { publish_step(len, 1) };
        let heap_step = if exact { 1 } else { publish_step(heap, 64) };
        let unused = *self.elem_unused.get_mut();
        let unused_step = if exact { 1 } else { publish_step(unused, 64) };
        let window = &mut self.window;
        window.len_hi = capacity.max(len).min(len.saturating_add(len_step - 1));
        window.len_lo = len.saturating_sub(len_step - 1);
        window.heap_hi = heap.saturating_add(heap_step - 1);
        window.heap_lo = heap.saturating_sub(heap_step - 1);
        window.unused_hi = unused.saturating_add(unused_step - 1);
        window.unused_lo = unused.saturating_sub(unused_step - 1);
        if let Some(max) = budget.len {
            window.len_hi = window.len_hi.min(budget::warn_above(max, len_level));
            if len_level > 0 {
                window.len_lo = window.len_lo.max(max + 1);
            }
        }
        if let Some(max) = budget.bytes {
            window.heap_hi = window
                .heap_hi
                .min(budget::warn_above(max, bytes_level).saturating_sub(storage));
            if bytes_level > 0 {
                window.heap_lo = window.heap_lo.max((max + 1).saturating_sub(storage));
            }
        }
    }
}

impl Drop for Accounting {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            release(slot, self.scope.as_deref());
        }
    }
}

#[inline(never)]
fn release(slot: &'static Slot, scope: Option<&ScopeInfo>) {
    registry::release(slot);
    if let Some(scope) = scope {
        scope::released(scope);
    }
}
