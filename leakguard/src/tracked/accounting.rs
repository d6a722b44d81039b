//! The instrumentation state of one tracked collection, and everything it does that does not
//! depend on the collection's type: budgets, hoarding, registration and publishing. Compiled
//! once in leakguard, whatever the collections and structs that use it.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use crate::budget::{self, Crossing, Limit, Step};
use crate::clock::monotonic_now;
use crate::events::{self, Finding, Hoard};
use crate::harness;
use crate::heap_size::{Footprint, HeapChange, HeapSize, HeapUsage, running_heap};
use crate::meta::FieldMeta;
use crate::registry::{self, FLAG_OVER_BUDGET, First, Origin, Registration, Slot, SlotCell};
use crate::scope;
use crate::settings::SETTINGS;
use crate::site::in_user_code;

use super::state::State;
use super::window::Marks;

/// The instrumentation of one tracked collection: its description and, once it has changed,
/// the registry slot that holds its [`State`]. Two words: a collection made and dropped
/// without changing sets up nothing else, and the struct it belongs to moves as cheaply as
/// one without instrumentation.
///
/// The state is reached through `&self` as well as `&mut self`; it is only ever written
/// through `&mut self` of the collection, or through `&self` with atomic read-modify-writes
/// where readers can race.
pub(crate) struct Accounting {
    /// What the collection is: its name, budget and bounds.
    pub(super) meta: &'static FieldMeta,
    /// Its slot in the registry, once it changed.
    slot: SlotCell,
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
    /// The instrumentation of a collection known to be empty. A scoped one notes the scope
    /// it is created in, and one made under a test check notes the check: both take their
    /// slot at once to keep it, which nothing else does before the collection changes.
    ///
    /// Always inlined: `meta` is a constant, and for a collection that is not scoped the
    /// whole scope branch then folds away.
    #[inline(always)]
    fn empty(meta: &'static FieldMeta) -> Self {
        let mut this = Self {
            meta,
            slot: SlotCell::empty(),
        };
        let test = if meta.global { 0 } else { harness::current() };
        if meta.scoped || test != 0 {
            this.made_in_view(test);
        }
        this
    }

    /// Takes a slot for a collection made in a scope or under a test check, and notes them.
    #[cold]
    #[inline(never)]
    fn made_in_view(&mut self, test: u32) {
        let scope = if self.meta.scoped {
            let scope = scope::current();
            if scope.is_none() {
                no_scope(self.meta);
            }
            scope
        } else {
            None
        };
        if scope.is_none() && test == 0 {
            return;
        }
        if let Some(state) = self.claim_mut(test) {
            if let Some(scope) = scope {
                state.set_scope(scope);
            }
        }
    }

    /// The collection's state, if it has changed since it was made.
    #[inline]
    pub(super) fn state(&self) -> Option<&'static State> {
        self.slot.get().map(|slot| &slot.owner)
    }

    /// The collection's state, for its owner; a slot is taken for it the first time. `None`
    /// only once the registry is full: the collection then goes untracked.
    #[inline]
    fn state_mut(&mut self) -> Option<&'static State> {
        match self.slot.get_mut() {
            Some(slot) => Some(&slot.owner),
            None => self.claim_mut(0),
        }
    }

    #[cold]
    #[inline(never)]
    fn claim_mut(&mut self, test: u32) -> Option<&'static State> {
        let slot = registry::claim()?;
        slot.owner.reset(test);
        self.slot.fill_mut(slot);
        Some(&slot.owner)
    }

    /// [`state_mut`](Self::state_mut) through `&self`, for content that arrives while the
    /// collection is only borrowed: two threads racing to take a slot keep one.
    #[inline]
    fn state_shared(&self) -> Option<&'static State> {
        match self.slot.get() {
            Some(slot) => Some(&slot.owner),
            None => self.claim_shared(),
        }
    }

    #[cold]
    #[inline(never)]
    fn claim_shared(&self) -> Option<&'static State> {
        let slot = registry::claim()?;
        slot.owner.reset(0);
        let (kept, won) = self.slot.fill(slot);
        if !won {
            registry::unclaim(slot);
        }
        Some(&kept.owner)
    }

    /// The slot the collection registered in, if it did.
    #[inline]
    fn registered_slot(&self) -> Option<&'static Slot> {
        self.slot
            .get()
            .filter(|slot| slot.owner.registered.load(Relaxed))
    }

    /// Whether the figures may be stale: `DerefMut` handed the collection out, or an entry
    /// of it, since they were last evaluated.
    #[inline]
    pub(super) fn needs_refresh(&self) -> bool {
        self.state()
            .is_some_and(|state| state.dirty.load(Relaxed) || state.watch.is_set())
    }

    /// Whether `DerefMut` handed the collection out since the figures were last current.
    #[inline]
    pub(super) fn is_dirty(&self) -> bool {
        self.state().is_some_and(|state| state.dirty.load(Relaxed))
    }

    /// Clears `dirty`; whether it was set.
    #[inline]
    pub(super) fn take_dirty(&self) -> bool {
        self.state()
            .is_some_and(|state| state.dirty.load(Relaxed) && state.dirty.swap(false, Relaxed))
    }

    /// Makes the next growth or removal leave the window, so that it re-evaluates.
    #[inline]
    pub(super) fn shut_window(&mut self) {
        if let Some(state) = self.state() {
            state.window.close();
        }
    }

    /// Records `added` entry heap at length `len`, after the collection grew; whether the
    /// figures left their window. A collection that never changed before has no window yet.
    #[inline]
    pub(super) fn grew(&mut self, len: usize, added: HeapUsage) -> bool {
        let Some(state) = self.state_mut() else {
            return false;
        };
        let mut leave = state.window.above(len);
        if added.bytes != 0 {
            add(&state.elem_heap, added.bytes);
            add(&state.elem_unused, added.unused);
            add(&state.elem_nested, added.nested);
            // The unused part moves by no more than the bytes do.
            leave |= state.window.drifted(added.bytes);
        }
        leave
    }

    /// Records `removed` entry heap going out at length `len`, after the collection shrank;
    /// whether the figures left their window.
    #[inline]
    pub(super) fn shrank(&mut self, len: usize, removed: HeapUsage) -> bool {
        let Some(state) = self.state_mut() else {
            return false;
        };
        let mut leave = state.window.below(len);
        if removed.bytes != 0 {
            sub(&state.elem_heap, removed.bytes);
            sub(&state.elem_unused, removed.unused);
            sub(&state.elem_nested, removed.nested);
            leave |= state.window.drifted(removed.bytes);
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
        let Some(state) = self.state_mut() else {
            return false;
        };
        add(&state.elem_heap, added.bytes);
        sub(&state.elem_heap, removed.bytes);
        add(&state.elem_unused, added.unused);
        sub(&state.elem_unused, removed.unused);
        add(&state.elem_nested, added.nested);
        sub(&state.elem_nested, removed.nested);
        state
            .window
            .drifted(added.bytes.abs_diff(removed.bytes) + added.unused.abs_diff(removed.unused))
    }

    /// Applies `change` to the entry heap, as a self-evicting collection reports it.
    pub(super) fn add_heap(&mut self, change: HeapChange) {
        let Some(state) = self.state_mut() else {
            return;
        };
        for (figure, by) in [
            (&state.elem_heap, change.bytes),
            (&state.elem_unused, change.unused),
            (&state.elem_nested, change.nested),
        ] {
            figure.store(figure.load(Relaxed).saturating_add_signed(by), Relaxed);
        }
    }

    /// Records that entries may have changed through `&mut`, as `DerefMut` does, at `at` in
    /// the user's code if known.
    #[inline]
    pub(super) fn touched(&mut self, at: Option<&'static Location<'static>>) {
        let Some(state) = self.state_mut() else {
            return;
        };
        if !state.dirty.load(Relaxed) {
            state.touched_at.store(at);
            state.dirty.store(true, Relaxed);
        }
        state.window.close();
    }

    /// Hands out `part`, an entry of the collection, through `&mut`: its heap is left out of
    /// the figures until [`take_watched`](Self::take_watched) measures it again. A `new`
    /// entry's heap is not in them yet.
    ///
    /// # Safety
    /// As [`Watch::lend`](super::watch::Watch::lend)'s.
    #[inline]
    pub(super) unsafe fn lend<'a, P: HeapSize>(&mut self, part: &'a mut P, new: bool) -> &'a mut P {
        let Some(state) = self.state_mut() else {
            return part;
        };
        let before = if new {
            HeapUsage::NONE
        } else {
            running_heap(&*part)
        };
        sub(&state.elem_heap, before.bytes);
        sub(&state.elem_unused, before.unused);
        // Its nested part goes out with it: the totals leave out only what the figures hold.
        sub(&state.elem_nested, before.nested);
        // Shut while the entry is out: reads through `&self` apply its change without the
        // window, so the next growth or removal re-evaluates.
        state.window.close();
        // SAFETY: the caller's contract is `Watch::lend`'s.
        unsafe { state.watch.lend(part, new, before.bytes) }
    }

    /// Measures the entry handed out through `&mut` last, if any, and puts its heap back into
    /// the figures; whether they changed.
    pub(super) fn take_watched(&self) -> bool {
        let Some(taken) = self.state().and_then(|state| state.watch.take()) else {
            return false;
        };
        if let Some(state) = self.state() {
            state.elem_heap.fetch_add(taken.after.bytes, Relaxed);
            state.elem_unused.fetch_add(taken.after.unused, Relaxed);
            state.elem_nested.fetch_add(taken.after.nested, Relaxed);
        }
        taken.new || taken.moved
    }

    /// [`take_watched`](Self::take_watched) by the owner, without atomic read-modify-writes;
    /// whether the figures left their window and must be evaluated. An entry changed in
    /// place within the window (a value rewritten to the same size) costs no evaluation.
    #[inline]
    pub(super) fn take_watched_mut(&mut self) -> bool {
        let Some(state) = self.slot.get_mut().map(|slot| &slot.owner) else {
            return false;
        };
        if !state.watch.is_set_mut() {
            return false;
        }
        let Some(taken) = state.watch.take_mut() else {
            return false;
        };
        add(&state.elem_heap, taken.after.bytes);
        add(&state.elem_unused, taken.after.unused);
        add(&state.elem_nested, taken.after.nested);
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
        match self.state() {
            Some(state) => state.watch.seen().swap(word, Relaxed) != word,
            // Never seen: it moved if it holds anything; the slot is taken when it does.
            None => match self.state_shared() {
                Some(state) if footprint.len > 0 || footprint.storage_bytes > 0 => {
                    state.watch.seen().swap(word, Relaxed) != word
                }
                _ => false,
            },
        }
    }

    /// Notes `at` as where the collection grew, for the next evaluation to record, unless a
    /// `&mut` access since the figures were last current came first.
    pub(super) fn grew_at(&mut self, at: &'static Location<'static>) {
        if let Some(state) = self.state_mut() {
            if !state.dirty.load(Relaxed) {
                state.touched_at.store(Some(at));
            }
        }
    }

    /// Where the collection was first handed out through `&mut` since its figures were
    /// last current; to be read once `dirty` was found set.
    pub(super) fn touched_at(&self) -> Option<&'static Location<'static>> {
        self.state().and_then(|state| state.touched_at.get())
    }

    /// Marks the figures as unknown while user code runs on the collection; returns what
    /// [`restore`](Self::restore) puts back once it returned.
    #[inline]
    pub(super) fn suspend(&mut self) -> (bool, u32) {
        let Some(state) = self.state_mut() else {
            return (false, 0);
        };
        let saved = (
            state.dirty.load(Relaxed),
            state.dirty_since_walk.load(Relaxed),
        );
        if !saved.0 {
            state.touched_at.store(None);
        }
        state.dirty.store(true, Relaxed);
        state.dirty_since_walk.store(NEVER_WALKED, Relaxed);
        state.window.close();
        saved
    }

    #[inline]
    pub(super) fn restore(&mut self, (dirty, since_walk): (bool, u32)) {
        if let Some(state) = self.state_mut() {
            state.dirty.store(dirty, Relaxed);
            state.dirty_since_walk.store(since_walk, Relaxed);
        }
    }

    /// Whether enough accesses through `DerefMut` have paid for a walk of `len` entries (at
    /// most 64 entries per access, amortized); counts this access.
    pub(super) fn walk_due(&self, len: usize) -> bool {
        let Some(state) = self.state() else {
            return true;
        };
        let accesses = state.dirty_since_walk.fetch_add(1, Relaxed) as usize + 1;
        accesses.saturating_mul(64) >= len
    }

    /// Records a full measurement of the entries' heap.
    pub(super) fn walked(&self, entries: HeapUsage) {
        let state = match self.state() {
            Some(state) => state,
            // Nothing measured in a collection that never changed: nothing to record.
            None if entries == HeapUsage::NONE => return,
            None => match self.state_shared() {
                Some(state) => state,
                None => return,
            },
        };
        state.elem_heap.store(entries.bytes, Relaxed);
        state.elem_unused.store(entries.unused, Relaxed);
        state.elem_nested.store(entries.nested, Relaxed);
        state.dirty_since_walk.store(0, Relaxed);
    }

    /// The heap the collection owns by the running figures: its storage and its entries'.
    pub(super) fn bytes(&self, footprint: Option<Footprint>) -> usize {
        footprint.map_or(0, |fp| fp.storage_bytes)
            + self
                .state()
                .map_or(0, |state| state.elem_heap.load(Relaxed))
    }

    /// Checks the current figures against the budget and for hoarded capacity, warning on
    /// a crossing, and publishes them to the registry.
    #[inline(never)]
    pub(super) fn evaluate(&self, footprint: Option<Footprint>) {
        let Some(state) = self.state() else {
            return;
        };
        let meta = self.meta;
        let marks = &state.marks;
        let len = footprint.map_or(0, |fp| fp.len);
        let bytes = self.bytes(footprint);
        let budget = meta.budget;
        for (limit, value, max) in [
            (Limit::Len, len, budget.len),
            (Limit::Bytes, bytes, budget.bytes),
        ] {
            let Some(max) = max else { continue };
            match budget::step(Marks::level(marks, limit), value, max) {
                Step::Stay => {}
                Step::Rearm => Marks::set_level(marks, limit, 0),
                Step::Warn(next) => {
                    // Back over after falling under: the crossing of a collection that is
                    // flushed and refilled. A doubling is never a return.
                    let back =
                        Marks::level(marks, limit) == 0 && Marks::warns_again(marks, Ok(limit));
                    Marks::set_level(marks, limit, next);
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
                        test: state.test.load(Relaxed),
                        again: if back { self.instance() } else { 0 },
                    });
                }
            }
        }
        let storage_unused = footprint.map_or(0, |fp| fp.unused_bytes());
        let entries = HeapUsage::with_unused(
            state.elem_heap.load(Relaxed),
            state.elem_unused.load(Relaxed),
        );
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
                if Marks::swap_hoard(marks, cause, hoarding) != hoarding && hoarding {
                    let back = Marks::warns_again(marks, Err(cause));
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
        if let Some(slot) = self.registered_slot() {
            slot.publish(len, bytes, unused, state.elem_nested.load(Relaxed));
            let over = Marks::level(marks, Limit::Len) > 0 || Marks::level(marks, Limit::Bytes) > 0;
            slot.set_flag(slot.generation(), FLAG_OVER_BUDGET, over);
        }
    }

    fn site(&self) -> registry::Site {
        self.registered_slot().map(Slot::site).unwrap_or_default()
    }

    fn instance(&self) -> u64 {
        self.registered_slot().map_or(0, Slot::instance)
    }

    /// Registers the collection, which holds memory, with its scope and test check, and
    /// notes `site` as where it grew. Through `&self`: content can arrive while the
    /// collection is only borrowed, as after a replacement through `&mut`; of two threads
    /// racing to register it, one does.
    #[cold]
    #[inline(never)]
    fn register(&self, site: Option<&'static Location<'static>>) {
        let Some(state) = self.state_shared() else {
            return;
        };
        if state.registered.load(Relaxed) || state.registered.swap(true, Relaxed) {
            return;
        }
        let Some(slot) = self.slot.get() else { return };
        registry::register_in(
            slot,
            self.registration(
                state,
                First {
                    site,
                    ..First::default()
                },
            ),
        );
        registered(state);
    }

    /// [`register`](Self::register) by the collection's owner, through `&mut self`: no
    /// other thread can race for the slot, and `first` (where it grew, or how, and the
    /// figures about to be published) goes in with the rest of the slot.
    #[inline(never)]
    fn register_mut(&mut self, first: First) {
        let Some(state) = self.state_mut() else {
            return;
        };
        if state.registered.load(Relaxed) {
            return;
        }
        state.registered.store(true, Relaxed);
        let Some(slot) = self.slot.get_mut() else {
            return;
        };
        registry::register_in(slot, self.registration(state, first));
        registered(state);
    }

    fn registration(&self, state: &State, first: First) -> Registration {
        events::arm();
        let scope = state.scope();
        Registration {
            meta: self.meta,
            scope: scope.as_ref().map_or(0, |s| s.id),
            scope_name: scope.as_ref().map_or(0, |s| s.name_hash),
            test: state.test.load(Relaxed),
            now: monotonic_now(),
            first,
        }
    }

    /// Whether the collection is unregistered where a scope or a test check needs to see it
    /// even before it holds memory: it may be about to, through `&mut`. Such a collection
    /// took its slot when it was made.
    #[inline]
    pub(super) fn unregistered_in_view(&self) -> bool {
        self.state().is_some_and(|state| {
            !state.registered.load(Relaxed)
                && (state.test.load(Relaxed) != 0 || state.scope().is_some())
        })
    }

    /// Whether `len` is past the next warning of the length budget.
    #[inline]
    pub(super) fn len_over_budget(&self, len: usize) -> bool {
        let level = self
            .state()
            .map_or(0, |state| Marks::level(&state.marks, Limit::Len));
        self.meta
            .budget
            .len
            .is_some_and(|max| len > budget::warn_above(max, level))
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
        match self.registered_slot() {
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
        match self.registered_slot() {
            None => {
                let len = footprint.map_or(0, |fp| fp.len);
                let bytes = self.bytes(footprint);
                self.register_mut(First {
                    site: None,
                    origin: Some(origin),
                    len,
                    bytes,
                });
            }
            Some(slot) => slot.made_by(origin),
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
        match self.registered_slot() {
            None if len > 0 || storage > 0 => {
                let bytes = self.bytes(footprint);
                self.register_mut(First {
                    site,
                    origin: None,
                    len,
                    bytes,
                });
            }
            Some(slot) if len > 0 => {
                if let Some(site) = site {
                    slot.grew_at(site);
                }
            }
            _ => {}
        }
        let Some(state) = self.state_mut() else {
            return;
        };
        // A collection made outside the running check on this thread: what the check's
        // scenario changes in it is the check's own, whatever other threads change.
        let outside = self
            .registered_slot()
            .filter(|_| harness::active())
            .map(|slot| (slot, harness::current()))
            .filter(|&(slot, check)| harness::changes_outside(check, slot))
            .map(|(slot, check)| (slot, check, slot.figures()));
        self.evaluate(footprint);
        if let Some((slot, check, before)) = outside {
            harness::record_change(check, slot, before, slot.figures());
        }

        let heap = state.elem_heap.load(Relaxed);
        let levels = (
            Marks::level(&state.marks, Limit::Len),
            Marks::level(&state.marks, Limit::Bytes),
        );
        // Under a test check, figures are exact.
        state.window.reopen(
            (len, capacity, heap, storage),
            self.meta.budget,
            levels,
            harness::active(),
        );
    }
}

/// Tells the scope, if any, that a collection of it registered.
fn registered(state: &State) {
    if let Some(scope) = state.scope() {
        scope::registered(&scope);
    }
}

/// `figure += by`, saturating, by the collection's owner: a plain load and store.
#[inline(always)]
fn add(figure: &AtomicUsize, by: usize) {
    figure.store(figure.load(Relaxed).saturating_add(by), Relaxed);
}

/// `figure -= by`, saturating, by the collection's owner.
#[inline(always)]
fn sub(figure: &AtomicUsize, by: usize) {
    figure.store(figure.load(Relaxed).saturating_sub(by), Relaxed);
}

impl Drop for Accounting {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(slot) = self.slot.get_mut() {
            release(slot);
        }
    }
}

/// Lets go of the slot of a collection being dropped, and of its scope.
#[inline(never)]
fn release(slot: &'static Slot) {
    let scope = slot.owner.take_scope();
    if slot.owner.registered.load(Relaxed) {
        registry::release(slot);
        if let Some(scope) = &scope {
            scope::released(scope);
        }
    } else {
        registry::unclaim(slot);
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
