//! The instrumentation state of one tracked collection, and everything it does that does not
//! depend on the collection's type: budgets, hoarding, registration and publishing. Compiled
//! once in leakguard, whatever the collections and structs that use it.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed};

use crate::budget::{self, Crossing, Limit, Step};
use crate::clock::monotonic_now;
use crate::events::{self, Finding, Hoard};
use crate::harness;
use crate::heap_size::{Footprint, HeapChange, HeapUsage};
use crate::meta::FieldMeta;
use crate::registry::{self, FLAG_OVER_BUDGET, Registration, Slot, SlotCell};
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
    /// Set by `DerefMut`: the collection may have changed in ways the figures missed.
    pub(super) dirty: AtomicBool,
    /// The warning levels of the len and bytes budgets (see [`budget::warn_above`]) and
    /// where the collection was last seen hoarding, in one word: see [`Marks`].
    marks: AtomicU32,
    /// Accesses through `DerefMut` since the entries were last walked.
    dirty_since_walk: AtomicU32,
    /// Its slot in the registry, once it holds memory.
    slot: SlotCell,
    /// The scope it belongs to, for a scoped collection created in one.
    scope: Option<Arc<ScopeInfo>>,
    /// The test check it was created under, 0 for none.
    test: u32,
    /// The figures stay inside this window until something needs re-evaluating.
    window: Window,
}

/// Bounds of the figures between two evaluations: a growth or removal that stays inside
/// needs no more than a comparison.
///
/// The length has bounds; the entry heap and its unused part have a drift instead, what
/// they moved by in all since the last evaluation, which is at least their net change: one
/// figure where bounds would take four, for a struct that is created and dropped often.
struct Window {
    len_lo: usize,
    len_hi: usize,
    /// Bytes the entry heap and its unused part moved by since the last evaluation.
    drift: u32,
    /// The most `drift` may reach before the figures re-evaluate.
    drift_max: u32,
}

impl Window {
    /// Adds `bytes` to the drift; whether it left the window.
    #[inline]
    fn drifted(&mut self, bytes: usize) -> bool {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.drift = self.drift.saturating_add(bytes);
        self.drift > self.drift_max
    }

    /// A window every figure is outside of: the next growth or removal re-evaluates.
    const SHUT: Window = Window {
        len_lo: usize::MAX,
        len_hi: 0,
        drift: 0,
        drift_max: 0,
    };
}

/// The word of an [`Accounting`] that holds its budget levels, one byte per limit, and a bit
/// per place it was last seen hoarding: one field to set up for a collection that is
/// created and dropped often, where five took a store each.
struct Marks;

impl Marks {
    fn shift(limit: Limit) -> u32 {
        match limit {
            Limit::Len => 0,
            Limit::Bytes => 8,
        }
    }

    fn hoard_bit(cause: Hoard) -> u32 {
        match cause {
            Hoard::Storage => 1 << 16,
            Hoard::Entries => 1 << 17,
        }
    }

    fn level(marks: &AtomicU32, limit: Limit) -> u8 {
        (marks.load(Relaxed) >> Self::shift(limit)) as u8
    }

    fn set_level(marks: &AtomicU32, limit: Limit, level: u8) {
        let shift = Self::shift(limit);
        let _ = marks.fetch_update(Relaxed, Relaxed, |word| {
            Some(word & !(0xFF << shift) | u32::from(level) << shift)
        });
    }

    /// Sets whether the collection hoards in the place `cause` names; whether it did.
    fn swap_hoard(marks: &AtomicU32, cause: Hoard, hoarding: bool) -> bool {
        let bit = Self::hoard_bit(cause);
        let before = if hoarding {
            marks.fetch_or(bit, Relaxed)
        } else {
            marks.fetch_and(!bit, Relaxed)
        };
        before & bit != 0
    }
}

/// One [`Accounting`] when instrumentation is compiled in, none (zero bytes) when it is not.
pub(super) type Instrument = [Accounting; crate::mode::ENABLED as usize];

/// The instrument of a collection known to be empty.
#[inline(always)]
pub(super) fn empty(meta: &'static FieldMeta) -> Instrument {
    std::array::from_fn(|_| Accounting::empty(meta))
}

/// `dirty_since_walk` of a collection whose entries have never been measured: the next
/// access walks them whatever their number.
const NEVER_WALKED: u32 = u32::MAX / 64;

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
            dirty: AtomicBool::new(false),
            marks: AtomicU32::new(0),
            dirty_since_walk: AtomicU32::new(0),
            slot: SlotCell::empty(),
            // It registers when it first holds memory: one that never does retains nothing.
            scope: if meta.scoped {
                Self::scope_of_new(meta)
            } else {
                None
            },
            test: if meta.global { 0 } else { harness::current() },
            window: Window::SHUT,
        }
    }

    #[inline(never)]
    fn scope_of_new(meta: &'static FieldMeta) -> Option<Arc<ScopeInfo>> {
        let scope = scope::current();
        if scope.is_none() {
            no_scope(meta);
        }
        scope
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
            let heap = self.elem_heap.get_mut();
            *heap = heap.saturating_add(added.bytes);
            let unused = self.elem_unused.get_mut();
            *unused = unused.saturating_add(added.unused);
            // The unused part moves by no more than the bytes do.
            leave |= self.window.drifted(added.bytes);
        }
        leave
    }

    /// Records `removed` entry heap going out at length `len`, after the collection shrank;
    /// whether the figures left their window.
    #[inline]
    pub(super) fn shrank(&mut self, len: usize, removed: HeapUsage) -> bool {
        let mut leave = len < self.window.len_lo;
        if removed.bytes != 0 {
            let heap = self.elem_heap.get_mut();
            *heap = heap.saturating_sub(removed.bytes);
            let unused = self.elem_unused.get_mut();
            *unused = unused.saturating_sub(removed.unused);
            leave |= self.window.drifted(removed.bytes);
        }
        leave
    }

    /// Records an entry changed in place, `removed` heap replaced by `added`, the length
    /// staying; whether the figures left their window. The unused part can change alone.
    #[inline]
    pub(super) fn replaced(&mut self, added: HeapUsage, removed: HeapUsage) -> bool {
        if added == removed {
            return false;
        }
        let heap = self.elem_heap.get_mut();
        *heap = heap
            .saturating_add(added.bytes)
            .saturating_sub(removed.bytes);
        let unused = self.elem_unused.get_mut();
        *unused = unused
            .saturating_add(added.unused)
            .saturating_sub(removed.unused);
        self.window
            .drifted(added.bytes.abs_diff(removed.bytes) + added.unused.abs_diff(removed.unused))
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
    pub(super) fn suspend(&mut self) -> (bool, u32) {
        let saved = (*self.dirty.get_mut(), *self.dirty_since_walk.get_mut());
        *self.dirty.get_mut() = true;
        *self.dirty_since_walk.get_mut() = NEVER_WALKED;
        self.shut_window();
        saved
    }

    #[inline]
    pub(super) fn restore(&mut self, (dirty, since_walk): (bool, u32)) {
        *self.dirty.get_mut() = dirty;
        *self.dirty_since_walk.get_mut() = since_walk;
    }

    /// Whether enough accesses through `DerefMut` have paid for a walk of `len` entries (at
    /// most 64 entries per access, amortized); counts this access.
    pub(super) fn walk_due(&self, len: usize) -> bool {
        let accesses = self.dirty_since_walk.fetch_add(1, Relaxed) as usize + 1;
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
        for (limit, value, max) in [
            (Limit::Len, len, budget.len),
            (Limit::Bytes, bytes, budget.bytes),
        ] {
            let Some(max) = max else { continue };
            match budget::step(Marks::level(&self.marks, limit), value, max) {
                Step::Stay => {}
                Step::Rearm => Marks::set_level(&self.marks, limit, 0),
                Step::Warn(next) => {
                    Marks::set_level(&self.marks, limit, next);
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
            for (hoarding, cause, unused) in [
                (storage, Hoard::Storage, storage_unused),
                (inside, Hoard::Entries, entries.unused),
            ] {
                if Marks::swap_hoard(&self.marks, cause, hoarding) != hoarding && hoarding {
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
        if let Some(slot) = self.slot.get() {
            slot.publish(len, bytes, unused);
            let over = Marks::level(&self.marks, Limit::Len) > 0
                || Marks::level(&self.marks, Limit::Bytes) > 0;
            slot.set_flag(slot.generation(), FLAG_OVER_BUDGET, over);
        }
    }

    fn site(&self) -> registry::Site {
        self.slot.get().map(Slot::site).unwrap_or_default()
    }

    fn instance(&self) -> u64 {
        self.slot.get().map_or(0, Slot::instance)
    }

    /// Registers the collection, which holds memory, with its scope and test check, and
    /// notes `site` as where it grew. Through `&self`: content can arrive while the
    /// collection is only borrowed, as after a replacement through `&mut`.
    #[cold]
    #[inline(never)]
    fn register(&self, site: Option<&'static Location<'static>>) {
        events::arm();
        let Some(slot) = self.slot.register(Registration {
            meta: self.meta,
            scope: self.scope.as_ref().map_or(0, |s| s.id),
            scope_name: self.scope.as_ref().map_or(0, |s| s.name_hash),
            test: self.test,
            now: monotonic_now(),
        }) else {
            return;
        };
        if let Some(scope) = &self.scope {
            scope::registered(scope);
        }
        if let Some(site) = site {
            slot.grew_at(site);
        }
    }

    /// Whether the collection is unregistered where a scope or a test check needs to see it
    /// even before it holds memory: it may be about to, through `&mut`.
    #[inline]
    pub(super) fn unregistered_in_view(&self) -> bool {
        (self.scope.is_some() || self.test != 0) && self.slot.get().is_none()
    }

    /// Whether `len` is past the next warning of the length budget.
    #[inline]
    pub(super) fn len_over_budget(&self, len: usize) -> bool {
        self.meta
            .budget
            .len
            .is_some_and(|max| len > budget::warn_above(max, Marks::level(&self.marks, Limit::Len)))
    }

    /// Registers the collection if a scope or a test check needs to see it.
    pub(super) fn register_in_view(&self) {
        if self.unregistered_in_view() {
            self.register(None);
        }
    }

    /// Registers the collection if it holds memory and has not yet, and re-evaluates the
    /// figures: what a read through `&self` does after the collection changed through `&mut`.
    pub(super) fn refresh(&self, footprint: Option<Footprint>) {
        let holds = footprint.is_none_or(|fp| fp.len > 0 || fp.storage_bytes > 0);
        if holds && self.slot.get().is_none() && self.bytes(footprint) > 0 {
            self.register(None);
        }
        self.evaluate(footprint);
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
        let site = site.filter(|site| in_user_code(site));
        if self.slot.get_mut().is_none() && (len > 0 || storage > 0) {
            self.register(site);
        }
        let slot = self.slot.get_mut();
        if let (Some(slot), Some(site), true) = (slot, site, len > 0) {
            slot.grew_at(site);
        }
        if let (Some(slot), true) = (slot, harness::active()) {
            let check = harness::current();
            if check != 0 {
                slot.touch(check);
            }
        }
        self.evaluate(footprint);

        let budget = self.meta.budget;
        let heap = *self.elem_heap.get_mut();
        let len_level = Marks::level(&self.marks, Limit::Len);
        let bytes_level = Marks::level(&self.marks, Limit::Bytes);
        // Storage grows only when the entries outgrow the capacity; figures republish after
        // a step, and a budget warns past its next threshold. Under a test check, figures
        // are exact.
        let exact = harness::active();
        let len_step = if exact { 1 } else { publish_step(len, 1) };
        let heap_step = if exact { 1 } else { publish_step(heap, 64) };
        let window = &mut self.window;
        window.len_hi = capacity.max(len).min(len.saturating_add(len_step - 1));
        window.len_lo = len.saturating_sub(len_step - 1);
        let mut drift_max = heap_step - 1;
        if let Some(max) = budget.len {
            window.len_hi = window.len_hi.min(budget::warn_above(max, len_level));
            if len_level > 0 {
                window.len_lo = window.len_lo.max(max + 1);
            }
        }
        if let Some(max) = budget.bytes {
            // The entry heap that would cross the next threshold up, or fall back under the
            // budget: the drift that could get there.
            let up = budget::warn_above(max, bytes_level).saturating_sub(storage);
            drift_max = drift_max.min(up.saturating_sub(heap));
            if bytes_level > 0 {
                let down = (max + 1).saturating_sub(storage);
                drift_max = drift_max.min(heap.saturating_sub(down));
            }
        }
        window.drift = 0;
        window.drift_max = u32::try_from(drift_max).unwrap_or(u32::MAX);
    }
}

impl Drop for Accounting {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(slot) = self.slot.get_mut() {
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

/// Whether `site` is in code the user wrote, rather than in the toolchain's library or a
/// dependency's source, where `#[track_caller]` stops when content arrives through
/// `.into()`, `collect()` or serde.
fn in_user_code(site: &Location<'_>) -> bool {
    let file = site.file();
    !(file.starts_with("/rustc/")
        || file.contains("/.cargo/registry/")
        || file.contains("/cargo/registry/"))
}

/// Says once per process, to the first subscriber there is, that a scoped collection was
/// created outside any scope: what a filter that disables the spans it runs in looks like.
#[cold]
fn no_scope(meta: &'static FieldMeta) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if SAID.load(Relaxed) || !events::listening() {
        return;
    }
    if !SAID.swap(true, Relaxed) {
        events::emit_now(Finding::NoScope(meta));
    }
}
