//! A registered collection's re-evaluation the short way: a growth or removal that left the
//! window of the fast path with nothing to warn of, as every push to a collection shorter
//! than 2,048 entries does (its figures are published exactly; issue 23: the general path,
//! `in_user_code`, the checks for a first registration and a test check, then `evaluate`,
//! cost some 300 instructions a push of W6's request log).

use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;

use crate::harness;
use crate::heap_size::Footprint;
use crate::registry::{FLAG_OVER_BUDGET, Slot, State};

use super::accounting::{Accounting, quiet};
use super::marks::Marks;

impl Accounting {
    /// [`republish`](Self::republish) if it can, [`resync`](Self::resync) otherwise. Whether
    /// the collection registered is checked here, inline: a first change, which cannot take
    /// the short way, pays a load and a branch for it rather than a call.
    #[inline]
    pub(super) fn republish_or_resync(
        &mut self,
        footprint: Option<Footprint>,
        site: Option<&'static Location<'static>>,
    ) {
        if let (Some(fp), Some(slot)) = (footprint, self.slot.get_mut()) {
            if slot.owner.registered.load(Relaxed) && self.republish(slot, fp, site) {
                return;
            }
        }
        self.resync(footprint, site);
    }

    /// [`resync`](Self::resync) of a collection registered in `slot`, at `footprint`, when
    /// it has nothing to do but publish: no test check runs, no budget is at a warning level
    /// and nothing was seen hoarding, the figures are under every budget and hoard nothing,
    /// and where it first grew is known, or it did not grow. Publishes what
    /// [`evaluate`](Self::evaluate) would, and reopens the window as `resync` would;
    /// otherwise returns `false`, having done nothing, for the general path.
    ///
    /// Called before `resync` rather than from it: its own frame is a few registers, where
    /// `resync`'s saves them all.
    #[inline(never)]
    fn republish(
        &mut self,
        slot: &'static Slot,
        fp: Footprint,
        site: Option<&'static Location<'static>>,
    ) -> bool {
        let state = &slot.owner;
        // A test check reads exact figures and records what its scenario changes: the
        // general path.
        if !Marks::is_clear(&state.marks) || harness::active() {
            return false;
        }
        // The general path notes a site of the user's code as where it first grew.
        if site.is_some() && fp.len > 0 && !slot.growth_noted() {
            return false;
        }
        let heap = state.elem_heap.load(Relaxed);
        let Some((bytes, unused)) = self.quiet_figures(fp, heap, state.elem_unused.load(Relaxed))
        else {
            return false;
        };
        slot.publish(fp.len, bytes, unused, state.elem_nested.load(Relaxed));
        // No level is set: the collection is not over budget.
        slot.set_flag(slot.generation(), FLAG_OVER_BUDGET, false);
        self.reopen_quietly(state, fp, heap);
        true
    }

    /// What [`evaluate`](Self::evaluate) publishes for a collection with no mark at `fp`,
    /// its entries holding `heap` bytes of which `entries_unused` are unused: its bytes and
    /// unused bytes, when its [`quiet`] case holds; `None` for the general path. The one
    /// reckoning of the short ways of a first registration and of a republication.
    #[inline(always)]
    pub(super) fn quiet_figures(
        &self,
        fp: Footprint,
        heap: usize,
        entries_unused: usize,
    ) -> Option<(usize, usize)> {
        let bytes = fp.storage_bytes + heap;
        let storage_unused = fp.unused_bytes();
        let unused = Some((storage_unused, entries_unused));
        quiet(self.meta.budget, fp.len, bytes, unused)
            .then(|| (bytes, storage_unused.saturating_add(entries_unused)))
    }

    /// Reopens the fast path's window on `fp`, its entries holding `heap` bytes, after a
    /// short way published them: no budget at a warning level, lengths published at their
    /// usual steps.
    #[inline(always)]
    pub(super) fn reopen_quietly(&mut self, state: &State, fp: Footprint, heap: usize) {
        self.len_hi = state.window.reopen(
            (fp.len, fp.capacity, heap, fp.storage_bytes),
            self.meta.budget,
            (0, 0),
            false,
        );
    }
}
