//! A collection's first registration the short way: the slot written once with every
//! figure, when its first change, or the content it was constructed with, leaves nothing to
//! warn of (issue 23).

use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;

use crate::harness;
use crate::heap_size::Footprint;
use crate::registry::{self, First, Origin};
use crate::site::in_user_code;

use super::accounting::{Accounting, registered};
use super::marks::Marks;

impl Accounting {
    /// Settles a collection constructed with content (`From`, `collect()`, serde, ...) at
    /// `footprint`, its entries just walked: registers it with where it was made, `site`, if
    /// that is the user's code, else with `origin`, and publishes its figures.
    ///
    /// In one write of its slot when nothing is to be warned of (see
    /// [`register_quietly`](Self::register_quietly)); else as a registration followed by a
    /// [`resync`](Self::resync). Issue 23: a scoped collection serde made in a request was
    /// registered with its figures, then published them again, and reopened its window.
    ///
    /// Inlined into its one caller, [`walk::settle_constructed`](super::walk), which is out
    /// of line and not generic.
    #[inline]
    pub(super) fn settle_constructed(
        &mut self,
        footprint: Option<Footprint>,
        site: &'static Location<'static>,
        origin: Origin,
    ) {
        let user = in_user_code(site);
        // How it came by its content is noted for a collection that has entries; one that
        // only reserved storage has none to tell of.
        let made_by = !user && footprint.is_none_or(|fp| fp.len > 0);
        if let Some(fp) = footprint {
            if self.registered_slot().is_none()
                && (fp.len > 0 || fp.storage_bytes > 0)
                && !harness::active()
                && self.register_quietly_outlined(
                    fp,
                    user.then_some(site),
                    made_by.then_some(origin),
                )
            {
                return;
            }
        }
        if made_by {
            self.made_by(origin, footprint);
        }
        self.republish_or_resync(footprint, Some(site));
    }

    /// [`register_quietly`](Self::register_quietly), out of line.
    #[inline(never)]
    fn register_quietly_outlined(
        &mut self,
        fp: Footprint,
        site: Option<&'static Location<'static>>,
        origin: Option<Origin>,
    ) -> bool {
        self.register_quietly(fp, site, origin)
    }

    /// [`resync`](Self::resync) of a collection at its first change that holds memory,
    /// `footprint`, with no test check running: when its figures are under its budget and
    /// hoard nothing, and it has no mark of its own yet, registering it is all there is to
    /// do. Its slot is written once, with every figure [`evaluate`] would publish (its
    /// entries' heap as last walked, if it was), `site` or else `origin`, and the window
    /// opens; otherwise returns `false`, having done nothing, for the general path (issue 23:
    /// the first change of a collection took its registration, then an evaluation that
    /// republished the same figures).
    ///
    /// Inlined into `resync`, as it was before it had another caller: called out of line, it
    /// cost a first change some 40 instructions more. (Inlined into
    /// [`settle_constructed`](Self::settle_constructed) too, it cost a constructed
    /// collection some 25 more: that one calls
    /// [`register_quietly_outlined`](Self::register_quietly_outlined).)
    ///
    /// [`evaluate`]: Self::evaluate
    #[inline(always)]
    pub(super) fn register_quietly(
        &mut self,
        fp: Footprint,
        site: Option<&'static Location<'static>>,
        origin: Option<Origin>,
    ) -> bool {
        // The state of a slot taken already (as the collection was made, in a scope, or as
        // its entries were walked), if any: `evaluate` would read its entries' figures.
        let taken = self.slot.get_mut().map(|slot| &slot.owner);
        let (heap, entries_unused, nested) = match taken {
            Some(state) if !Marks::is_clear(&state.marks) => return false,
            Some(state) => (
                state.elem_heap.load(Relaxed),
                state.elem_unused.load(Relaxed),
                state.elem_nested.load(Relaxed),
            ),
            None => (0, 0, 0),
        };
        // What `evaluate` finds (no mark): nothing to warn of, as its quiet case says.
        let Some((bytes, unused)) = self.quiet_figures(fp, heap, entries_unused) else {
            return false;
        };
        // The registry is full: the collection goes untracked, as in the general path.
        let Some(state) = taken.or_else(|| self.claim_mut(0)) else {
            return true;
        };
        state.registered.store(true, Relaxed);
        if let Some(slot) = self.slot.get_mut() {
            let first = First {
                site,
                origin,
                len: fp.len,
                bytes,
                unused,
                nested,
            };
            registry::register_in(slot, self.registration(state, first));
            registered(state);
        }
        self.reopen_quietly(state, fp, heap);
        true
    }
}
