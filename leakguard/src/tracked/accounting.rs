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
use crate::heap_size::{Footprint, HeapChange, HeapSize, HeapUsage, running_heap};
use crate::meta::FieldMeta;
use crate::registry::{self, FLAG_OVER_BUDGET, First, Origin, Registration, Slot, SlotCell};
use crate::scope::{self, ScopeInfo};
use crate::settings::SETTINGS;
use crate::site::{SiteCell, in_user_code};

use super::watch::Watch;
use super::window::{Marks, Window};

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
    /// The part of `elem_heap` held by tracked collections inside the entries, which
    /// report it on rows of their own.
    elem_nested: AtomicUsize,
    /// Set by `DerefMut`: the collection may have changed in ways the figures missed.
    pub(super) dirty: AtomicBool,
    /// The entry handed out through `&mut` last, whose heap `elem_heap` leaves out until it
    /// is measured again.
    pub(super) watch: Watch,
    /// Where the first `DerefMut` access since `dirty` was last clear was made: where a
    /// collection filled through `&mut` (`entry(..).or_insert_with(..)`, a `#[track]` type)
    /// grew, for it to be found at the next access.
    touched_at: SiteCell,
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
            elem_nested: AtomicUsize::new(0),
            dirty: AtomicBool::new(false),
            watch: Watch::new(),
            touched_at: SiteCell::empty(),
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
            let nested = self.elem_nested.get_mut();
            *nested = nested.saturating_add(added.nested);
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
            let nested = self.elem_nested.get_mut();
            *nested = nested.saturating_sub(removed.nested);
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
        let nested = self.elem_nested.get_mut();
        *nested = nested
            .saturating_add(added.nested)
            .saturating_sub(removed.nested);
        self.window
            .drifted(added.bytes.abs_diff(removed.bytes) + added.unused.abs_diff(removed.unused))
    }

    /// Applies `change` to the entry heap, as a self-evicting collection reports it.
    pub(super) fn add_heap(&mut self, change: HeapChange) {
        let heap = self.elem_heap.get_mut();
        *heap = heap.saturating_add_signed(change.bytes);
        let unused = self.elem_unused.get_mut();
        *unused = unused.saturating_add_signed(change.unused);
        let nested = self.elem_nested.get_mut();
        *nested = nested.saturating_add_signed(change.nested);
    }

    /// Records that entries may have changed through `&mut`, as `DerefMut` does, at `at` in
    /// the user's code if known.
    #[inline]
    pub(super) fn touched(&mut self, at: Option<&'static Location<'static>>) {
        if !*self.dirty.get_mut() {
            self.touched_at.set(at);
        }
        *self.dirty.get_mut() = true;
        self.shut_window();
    }

    /// Hands out `part`, an entry of the collection, through `&mut`: its heap is left out of
    /// the figures until [`take_watched`](Self::take_watched) measures it again. A `new`
    /// entry's heap is not in them yet.
    ///
    /// # Safety
    /// As [`Watch::lend`]'s.
    #[inline]
    pub(super) unsafe fn lend<'a, P: HeapSize>(&mut self, part: &'a mut P, new: bool) -> &'a mut P {
        let before = if new {
            HeapUsage::NONE
        } else {
            running_heap(&*part)
        };
        let bytes = self.elem_heap.get_mut();
        *bytes = bytes.saturating_sub(before.bytes);
        let unused = self.elem_unused.get_mut();
        *unused = unused.saturating_sub(before.unused);
        // Its nested part goes out with it: the totals leave out only what the figures hold.
        let nested = self.elem_nested.get_mut();
        *nested = nested.saturating_sub(before.nested);
        // Shut while the entry is out: reads through `&self` apply its change without the
        // window, so the next growth or removal re-evaluates.
        self.shut_window();
        // SAFETY: the caller's contract is `Watch::lend`'s.
        unsafe { self.watch.lend(part, new, before.bytes) }
    }

    /// Measures the entry handed out through `&mut` last, if any, and puts its heap back into
    /// the figures; whether they changed.
    pub(super) fn take_watched(&self) -> bool {
        let Some(taken) = self.watch.take() else {
            return false;
        };
        self.elem_heap.fetch_add(taken.after.bytes, Relaxed);
        self.elem_unused.fetch_add(taken.after.unused, Relaxed);
        self.elem_nested.fetch_add(taken.after.nested, Relaxed);
        taken.new || taken.moved
    }

    /// [`take_watched`](Self::take_watched) through `&mut`, without atomic read-modify-writes;
    /// whether the figures left their window and must be evaluated. An entry changed in
    /// place within the window (a value rewritten to the same size) costs no evaluation.
    #[inline]
    pub(super) fn take_watched_mut(&mut self) -> bool {
        let Some(taken) = self.watch.take_mut() else {
            return false;
        };
        *self.elem_heap.get_mut() += taken.after.bytes;
        *self.elem_unused.get_mut() += taken.after.unused;
        *self.elem_nested.get_mut() += taken.after.nested;
        taken.new || taken.moved
    }

    /// Whether `footprint`, of a collection that can change through `&self`, differs from
    /// the one last seen; notes it as seen.
    pub(super) fn footprint_moved(&self, footprint: Footprint) -> bool {
        let word = footprint
            .len
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(footprint.storage_bytes)
            | 1;
        self.watch.seen().swap(word, Relaxed) != word
    }

    /// Notes `at` as where the collection grew, for the next evaluation to record, unless a
    /// `&mut` access since the figures were last current came first.
    pub(super) fn grew_at(&mut self, at: &'static Location<'static>) {
        if !*self.dirty.get_mut() {
            self.touched_at.set(Some(at));
        }
    }

    /// Where the collection was first handed out through `&mut` since its figures were
    /// last current; to be read once `dirty` was found set.
    pub(super) fn touched_at(&self) -> Option<&'static Location<'static>> {
        self.touched_at.get()
    }

    /// Marks the figures as unknown while user code runs on the collection; returns what
    /// [`restore`](Self::restore) puts back once it returned.
    #[inline]
    pub(super) fn suspend(&mut self) -> (bool, u32) {
        let saved = (*self.dirty.get_mut(), *self.dirty_since_walk.get_mut());
        if !saved.0 {
            self.touched_at.set(None);
        }
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
        self.elem_nested.store(entries.nested, Relaxed);
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
                    // Back over after falling under: the crossing of a collection that is
                    // flushed and refilled. A doubling is never a return.
                    let back = Marks::level(&self.marks, limit) == 0
                        && Marks::warns_again(&self.marks, Ok(limit));
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
                        again: if back { self.instance() } else { 0 },
                    });
                }
            }
        }
        let storage_unused = footprint.map_or(0, |fp| fp.unused_bytes());
        let entries =
            HeapUsage::with_unused(self.elem_heap.load(Relaxed), self.elem_unused.load(Relaxed));
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
                    let back = Marks::warns_again(&self.marks, Err(cause));
                    events::emit_now(Finding::HoardedCapacity {
                        meta,
                        site: self.site(),
                        again: if back { self.instance() } else { 0 },
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
            slot.publish(len, bytes, unused, self.elem_nested.load(Relaxed));
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
        let registration = self.registration(First {
            site,
            ..First::default()
        });
        if self.slot.register(registration).is_some() {
            self.registered();
        }
    }

    /// [`register`](Self::register) by the collection's owner, through `&mut self`: no
    /// other thread can race for the slot, and `first` (where it grew, or how, and the
    /// figures about to be published) goes in with the rest of the slot.
    #[inline(never)]
    fn register_mut(&mut self, first: First) {
        let registration = self.registration(first);
        if self.slot.register_mut(registration).is_some() {
            self.registered();
        }
    }

    fn registration(&self, first: First) -> Registration {
        events::arm();
        Registration {
            meta: self.meta,
            scope: self.scope.as_ref().map_or(0, |s| s.id),
            scope_name: self.scope.as_ref().map_or(0, |s| s.name_hash),
            test: self.test,
            now: monotonic_now(),
            first,
        }
    }

    /// Tells the scope, if any, that a collection of it registered.
    fn registered(&self) {
        if let Some(scope) = &self.scope {
            scope::registered(scope);
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

    /// Registers the collection if it holds memory and has not yet, notes `site` as where it
    /// grew if it did, and re-evaluates the figures: what a read through `&self` does after
    /// the collection changed through `&mut`.
    pub(super) fn refresh(
        &self,
        footprint: Option<Footprint>,
        site: Option<&'static Location<'static>>,
    ) {
        let site = site.filter(|site| in_user_code(site));
        let holds = footprint.is_none_or(|fp| fp.len > 0 || fp.storage_bytes > 0);
        match self.slot.get() {
            None if holds && self.bytes(footprint) > 0 => self.register(site),
            Some(slot) if footprint.is_none_or(|fp| fp.len > 0) => {
                if let Some(site) = site {
                    slot.grew_at(site);
                }
            }
            _ => {}
        }
        self.evaluate(footprint);
    }

    /// Registers the collection, constructed with content (`footprint`), and notes how it
    /// came by it, where no line of the user's code is known.
    pub(super) fn made_by(&mut self, origin: Origin, footprint: Option<Footprint>) {
        if self.slot.get_mut().is_none() {
            let len = footprint.map_or(0, |fp| fp.len);
            let bytes = self.bytes(footprint);
            self.register_mut(First {
                site: None,
                origin: Some(origin),
                len,
                bytes,
            });
        } else if let Some(slot) = self.slot.get_mut() {
            slot.made_by(origin);
        }
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
            let bytes = self.bytes(footprint);
            self.register_mut(First {
                site,
                origin: None,
                len,
                bytes,
            });
        } else if let (Some(slot), Some(site), true) = (self.slot.get_mut(), site, len > 0) {
            slot.grew_at(site);
        }
        let slot = self.slot.get_mut();
        // A collection made outside the running check on this thread: what the check's
        // scenario changes in it is the check's own, whatever other threads change.
        let outside = slot
            .filter(|_| harness::active())
            .map(|slot| (slot, harness::current()))
            .filter(|&(slot, check)| harness::changes_outside(check, slot))
            .map(|(slot, check)| (slot, check, slot.figures()));
        self.evaluate(footprint);
        if let Some((slot, check, before)) = outside {
            harness::record_change(check, slot, before, slot.figures());
        }

        let heap = *self.elem_heap.get_mut();
        let levels = (
            Marks::level(&self.marks, Limit::Len),
            Marks::level(&self.marks, Limit::Bytes),
        );
        // Under a test check, figures are exact.
        self.window.reopen(
            (len, capacity, heap, storage),
            self.meta.budget,
            levels,
            harness::active(),
        );
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

/// Says once per process, to the first subscriber there is, that a scoped collection was
/// created outside any scope: what a filter that disables the spans it runs in looks like.
#[cold]
fn no_scope(meta: &'static FieldMeta) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if SAID.load(Relaxed) || !events::listening() {
        return;
    }
    if !SAID.swap(true, Relaxed) {
        events::emit_now(Finding::NoScope(meta, scope::outside()));
    }
}
