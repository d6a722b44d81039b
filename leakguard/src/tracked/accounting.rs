//! The instrumentation state of one tracked collection, and everything it does that does not
//! depend on the collection's type: budgets, hoarding, registration and publishing. Compiled
//! once in leakguard, whatever the collections and structs that use it.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::budget::{self, Budget, Crossing, Limit, Step};
use crate::clock::monotonic_now;
use crate::events::{self, Finding, Hoard};
use crate::harness;
use crate::heap_size::{Footprint, HeapUsage};
use crate::meta::FieldMeta;
use crate::registry::{self, FLAG_OVER_BUDGET, First, Origin, Registration, Slot, SlotCell, State};
use crate::scope;
use crate::settings::SETTINGS;
use crate::site::in_user_code;

use super::marks::Marks;

/// The instrumentation of one tracked collection: its description, the upper bound of the
/// window its length moves in without re-evaluating and, once it has changed, the registry
/// slot that holds the rest of its [`State`]. Three words: a collection made and dropped
/// without changing sets up nothing else, and the struct it belongs to moves nearly as
/// cheaply as one without instrumentation.
///
/// The state is reached through `&self` as well as `&mut self`; it is only ever written
/// through `&mut self` of the collection, or through `&self` with atomic read-modify-writes
/// where readers can race.
pub(crate) struct Accounting {
    /// What the collection is: its name, budget and bounds.
    pub(super) meta: &'static FieldMeta,
    /// Its slot in the registry, once it changed.
    pub(super) slot: SlotCell,
    /// The most entries the collection may hold before a growth re-evaluates; 0 while the
    /// window is shut. Here rather than in the slot: a loop of pushes keeps it in a
    /// register. An entry is lent through `&mut`, or the collection handed out whole, only
    /// with the window shut, so that an open window also says that nothing of that kind
    /// is pending.
    pub(super) len_hi: usize,
}

/// One [`Accounting`] when instrumentation is compiled in, none (zero bytes) when it is not.
pub(super) type Instrument = [Accounting; crate::mode::ENABLED as usize];

/// The instrument of a collection known to be empty.
#[inline(always)]
pub(super) fn empty(meta: &'static FieldMeta) -> Instrument {
    std::array::from_fn(|_| Accounting::empty(meta))
}

impl Accounting {
    /// The instrumentation of a collection known to be empty. A scoped one notes the scope
    /// it is created in, and one made under a test check notes the check: both take their
    /// slot at once to keep it, which nothing else does before the collection changes.
    ///
    /// Always inlined: `meta` is a constant, and for a collection that is not scoped the
    /// whole scope branch then folds away.
    ///
    /// Built by value from its three words, with nothing between the fields of a struct
    /// that could unwind: a collection made in view has its slot taken in a call that cannot
    /// (see [`made_in_view`]). A call that could would need cleanup of the fields made
    /// before it, and the struct would then be built on the stack and copied, not inlined
    /// and built in place.
    #[inline(always)]
    fn empty(meta: &'static FieldMeta) -> Self {
        let mut slot = SlotCell::empty();
        // One load where no check runs: the check's thread-local is read out of line.
        if meta.scoped || !meta.global && harness::active() {
            if let Some(taken) = made_in_view(meta) {
                slot.fill_mut(taken);
            }
        }
        Self {
            meta,
            slot,
            len_hi: 0,
        }
    }

    /// Takes a slot for a collection made in a scope or under a test check, and notes them.
    fn note_view(&mut self, test: u32) {
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
    pub(super) fn state_mut(&mut self) -> Option<&'static State> {
        match self.slot.get_mut() {
            Some(slot) => Some(&slot.owner),
            None => self.claim_mut(0),
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn claim_mut(&mut self, test: u32) -> Option<&'static State> {
        let slot = registry::claim()?;
        slot.owner.reset(test);
        self.slot.fill_mut(slot);
        Some(&slot.owner)
    }

    /// [`state_mut`](Self::state_mut) through `&self`, for content that arrives while the
    /// collection is only borrowed: two threads racing to take a slot keep one.
    #[inline]
    pub(super) fn state_shared(&self) -> Option<&'static State> {
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
    pub(super) fn registered_slot(&self) -> Option<&'static Slot> {
        self.slot
            .get()
            .filter(|slot| slot.owner.registered.load(Relaxed))
    }

    /// Whether the figures may be stale: `DerefMut` handed the collection out, or an entry
    /// of it, since they were last evaluated. Never with the window open.
    #[inline]
    pub(super) fn needs_refresh(&self) -> bool {
        self.len_hi == 0
            && self
                .state()
                .is_some_and(|state| state.dirty.load(Relaxed) || state.watch.is_set())
    }

    /// Whether the window of the fast path is open: no entry is lent, the collection was not
    /// handed out whole since the figures were evaluated, and a growth within it needs no
    /// more than a comparison.
    #[inline]
    pub(super) fn window_open(&self) -> bool {
        self.len_hi != 0
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

    /// Checks the current figures against the budget and for hoarded capacity, warning on
    /// a crossing, and publishes them to the registry.
    #[inline(never)]
    pub(super) fn evaluate(&self, footprint: Option<Footprint>) {
        let Some(state) = self.state() else {
            return;
        };
        let len = footprint.map_or(0, |fp| fp.len);
        let bytes = self.bytes(footprint);
        let storage_unused = footprint.map_or(0, |fp| fp.unused_bytes());
        let entries = HeapUsage::with_unused(
            state.elem_heap.load(Relaxed),
            state.elem_unused.load(Relaxed),
        );
        // The common case, a collection under its budget that hoards nothing and has not
        // warned: every step below would stay where it is, so none is taken (issue 23: the
        // checks were most of a first registration's evaluation).
        let unused = footprint.map(|_| (storage_unused, entries.unused));
        if !(Marks::is_clear(&state.marks) && quiet(self.meta.budget, len, bytes, unused)) {
            self.check(state, footprint, (len, bytes), storage_unused, entries);
        }
        if let Some(slot) = self.registered_slot() {
            let unused = storage_unused.saturating_add(entries.unused);
            slot.publish(len, bytes, unused, state.elem_nested.load(Relaxed));
            let marks = &state.marks;
            let over = Marks::level(marks, Limit::Len) > 0 || Marks::level(marks, Limit::Bytes) > 0;
            slot.set_flag(slot.generation(), FLAG_OVER_BUDGET, over);
        }
    }

    /// The budget and hoarding steps of [`evaluate`](Self::evaluate), with the warnings they
    /// give.
    #[inline(never)]
    fn check(
        &self,
        state: &State,
        footprint: Option<Footprint>,
        (len, bytes): (usize, usize),
        storage_unused: usize,
        entries: HeapUsage,
    ) {
        let meta = self.meta;
        let marks = &state.marks;
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

    /// What the collection registers with. Inlined into each of its three callers: called
    /// out of line, its result went through the stack and a copy (issue 23).
    #[inline(always)]
    pub(super) fn registration(&self, state: &State, first: First) -> Registration {
        events::arm();
        let scope = state.scope();
        Registration {
            meta: self.meta,
            scope: scope.as_ref().map_or(0, |s| s.id),
            scope_name: scope.as_ref().map_or(0, |s| s.name_hash),
            test: state.test.load(Relaxed),
            // Only the check of an ended scope reads when a collection registered (its age
            // in the finding): a collection of no scope reads no clock (issue 23).
            now: if scope.is_some() { monotonic_now() } else { 0 },
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
                    ..First::default()
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
        if let Some(fp) = footprint {
            if self.registered_slot().is_none()
                && (len > 0 || storage > 0)
                && !harness::active()
                && self.register_quietly(fp, site, None)
            {
                return;
            }
        }
        match self.registered_slot() {
            None if len > 0 || storage > 0 => {
                let bytes = self.bytes(footprint);
                self.register_mut(First {
                    site,
                    origin: None,
                    len,
                    bytes,
                    ..First::default()
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
        let checking = harness::active();
        // A collection made outside the running check on this thread: what the check's
        // scenario changes in it is the check's own, whatever other threads change.
        let outside = self
            .registered_slot()
            .filter(|_| checking)
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
        self.len_hi = state.window.reopen(
            (len, capacity, heap, storage),
            self.meta.budget,
            levels,
            checking,
        );
    }
}

/// Whether figures of `len` entries and `bytes` bytes are under every limit of `budget` and,
/// with `unused` storage and entry-heap bytes (`None` for a collection of no footprint,
/// which is never seen hoarding), hoard nothing: for a collection with no mark set, every
/// step of [`Accounting::evaluate`]'s checks would stay where it is. The one test of that
/// case, for `evaluate` and for the short ways of a first registration and of a growth.
pub(super) fn quiet(
    budget: Budget,
    len: usize,
    bytes: usize,
    unused: Option<(usize, usize)>,
) -> bool {
    let floor = SETTINGS.hoard_bytes();
    budget.len.is_none_or(|max| len <= max)
        && budget.bytes.is_none_or(|max| bytes <= max)
        && unused.is_none_or(|(storage, entries)| storage < floor && entries < floor)
}

/// The slot of a collection made in a scope or under a test check, taken and noted, for
/// [`Accounting::empty`]; `None` where it needs none.
///
/// `extern "C"` so that it cannot unwind (see `empty`). Nothing of leakguard's in it panics;
/// a panic of a subscriber told of a scoped collection made outside any scope is caught,
/// and the collection then goes without a slot until it first changes, as when the registry
/// is full.
#[cold]
#[inline(never)]
extern "C" fn made_in_view(meta: &'static FieldMeta) -> Option<&'static Slot> {
    std::panic::catch_unwind(|| {
        let test = if meta.global { 0 } else { harness::current() };
        let mut this = Accounting {
            meta,
            slot: SlotCell::empty(),
            len_hi: 0,
        };
        this.note_view(test);
        // `this` drops with an empty cell: the slot is the new collection's.
        std::mem::take(&mut this.slot).get_mut()
    })
    .ok()
    .flatten()
}

/// Tells the scope, if any, that a collection of it registered.
pub(super) fn registered(state: &State) {
    if let Some(scope) = state.scope() {
        scope::registered(&scope);
    }
}

impl Drop for Accounting {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(slot) = self.slot.get_mut() {
            release(slot);
        }
    }
}

/// Lets go of the slot of a collection being dropped, and then of its scope: its handle,
/// which is what counts it among the scope's live collections.
///
/// `extern "C"` so that it cannot unwind: the drop of a struct then needs no cleanup path
/// for the fields after each one, and its fields' drops inline into one short function
/// rather than a call each. Nothing of leakguard's in
/// it panics; the last reference to a scope may drop a subscriber's handle with it, and a
/// panic there is caught.
#[inline(never)]
extern "C" fn release(slot: &'static Slot) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let scope = slot.owner.take_scope();
        if slot.owner.registered.load(Relaxed) {
            registry::release(slot);
        } else {
            registry::unclaim(slot);
        }
        drop(scope);
    }));
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
