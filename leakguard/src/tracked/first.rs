//! A collection's first registration the short way: the slot written once with every
//! figure, when its first change leaves nothing to warn of (issue 23).

use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;

use crate::heap_size::Footprint;
use crate::registry::{self, First};

use super::accounting::{Accounting, quiet, registered};
use super::marks::Marks;

impl Accounting {
    /// [`resync`](Self::resync) of a collection at its first change that holds memory,
    /// `footprint`, with no test check running: when its figures are under its budget and
    /// hoard nothing, and it has no figure or mark of its own yet (a slot it took as it was
    /// made, in a scope, holds none until it changes), registering it is all there is to
    /// do. Its slot is written once, with every figure [`evaluate`] would publish, and the
    /// window opens; otherwise returns `false`, having done nothing, for the general path
    /// (issue 23: the first change of a collection took its registration, then an
    /// evaluation that republished the same figures).
    ///
    /// [`evaluate`]: Self::evaluate
    pub(super) fn register_quietly(
        &mut self,
        fp: Footprint,
        site: Option<&'static Location<'static>>,
    ) -> bool {
        // The state of a slot taken at creation, if any: what `evaluate` would find in it
        // must be what a fresh one holds.
        let taken = self.slot.get_mut().map(|slot| &slot.owner);
        if taken.is_some_and(|state| {
            !Marks::is_clear(&state.marks)
                || state.elem_heap.load(Relaxed) != 0
                || state.elem_unused.load(Relaxed) != 0
                || state.elem_nested.load(Relaxed) != 0
        }) {
            return false;
        }
        // What `evaluate` finds of a fresh state (no entry heap, no mark): nothing to warn
        // of, as its quiet case says.
        let budget = self.meta.budget;
        let storage_unused = fp.unused_bytes();
        if !quiet(budget, fp.len, fp.storage_bytes, Some((storage_unused, 0))) {
            return false;
        }
        // The registry is full: the collection goes untracked, as in the general path.
        let Some(state) = taken.or_else(|| self.claim_mut(0)) else {
            return true;
        };
        state.registered.store(true, Relaxed);
        if let Some(slot) = self.slot.get_mut() {
            let first = First {
                site,
                origin: None,
                len: fp.len,
                bytes: fp.storage_bytes,
                unused: storage_unused,
            };
            registry::register_in(slot, self.registration(state, first));
            registered(state);
        }
        self.len_hi = state.window.reopen(
            (fp.len, fp.capacity, 0, fp.storage_bytes),
            budget,
            (0, 0),
            false,
        );
        true
    }
}
