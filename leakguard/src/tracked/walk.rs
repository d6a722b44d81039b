//! The cold paths of an [`Accounted`](super::accounted::Accounted): walking a collection
//! and re-evaluating its figures after `&mut` access or a change of its storage.
//!
//! None of them is generic. They see the collection as a `&dyn Walk`, so they are compiled
//! once, here, rather than once for each collection type in every crate that tracks one:
//! in a debug build of 20 structs of 5 collection fields, that code was a third of what
//! leakguard's generic code added to the user's crate (issue 23). Their callers, the hot
//! paths, stay generic and inline, and hand them what costs nothing to know there: the
//! collection's footprint and whether it is exact after `&mut` access. The one call through
//! the vtable is the walk itself, which costs far more than the call.

use std::panic::Location;

use super::accounting::Accounting;
use crate::heap_size::{Footprint, HeapSize, HeapUsage, Measurement};
use crate::registry::Origin;

/// What the cold paths need of a collection that its caller does not hand them.
pub(super) trait Walk {
    /// The heap the collection owns, walked in full.
    fn walk(&self) -> HeapUsage;
}

impl<C: HeapSize> Walk for C {
    fn walk(&self) -> HeapUsage {
        self.heap_usage_in(&mut Measurement::new())
    }
}

/// A collection as the cold paths see it: walked through `inner`, with its `footprint` and
/// [`HeapSize::__LEAKGUARD_EXACT_AFTER_MUT`] as `exact` from the caller.
#[derive(Clone, Copy)]
pub(super) struct Seen<'a> {
    pub(super) inner: &'a dyn Walk,
    pub(super) footprint: Option<Footprint>,
    pub(super) exact: bool,
}

impl<'a> Seen<'a> {
    /// `inner` as it is now.
    #[inline]
    pub(super) fn of<C: HeapSize>(inner: &'a C) -> Self {
        Self {
            inner,
            footprint: inner.footprint(),
            exact: C::__LEAKGUARD_EXACT_AFTER_MUT,
        }
    }
}

/// Re-measures the heap the entries own, in full.
fn walk_entries(accounting: &Accounting, seen: Seen<'_>) {
    walked(accounting, seen.inner.walk(), seen.footprint);
}

/// Records a walk of the collection that found `total` heap, `footprint` its storage.
fn walked(accounting: &Accounting, total: HeapUsage, footprint: Option<Footprint>) {
    let storage = footprint.unwrap_or_default();
    accounting.walked(total.saturating_sub(HeapUsage::with_unused(
        storage.storage_bytes,
        storage.unused_bytes(),
    )));
}

/// Brings the figures up to date after `DerefMut` access: a walk of the entries, at once for
/// a collection whose every other change the field's methods see, else when enough
/// accesses have paid for it.
fn catch_up(accounting: &Accounting, seen: Seen<'_>) {
    if seen.exact || accounting.walk_due(seen.footprint.map_or(0, |fp| fp.len)) {
        walk_entries(accounting, seen);
    }
}

/// Walks the collection and corrects the figures, whatever they say.
#[inline(never)]
pub(super) fn walk(accounting: &Accounting, seen: Seen<'_>) {
    walk_entries(accounting, seen);
}

/// A collection constructed with content, at `site`: measured (its caller walked it, to
/// `total`, as the constructor's own code, where a call through the vtable would cost each
/// construction a little more) and registered, with where its content came from when the
/// caller's line is not the user's.
#[inline(never)]
pub(super) fn settle_constructed(
    accounting: &mut Accounting,
    total: HeapUsage,
    footprint: Option<Footprint>,
    site: &'static Location<'static>,
    origin: Origin,
) {
    walked(accounting, total, footprint);
    accounting.settle_constructed(footprint, site, origin);
}

/// Before handing out `&mut` again: evaluates what the last `&mut` access changed (`part`
/// when it was one entry, whose heap is back in the figures): a std collection handed out
/// whole is walked in full; a user type marked `#[track]` is walked at once when its length
/// crossed its budget or it is not a sized collection, else when enough accesses have paid
/// for a walk; and registers a collection a scope or a test check must see before it is
/// read again.
#[cold]
#[inline(never)]
pub(super) fn catch_up_mut(accounting: &Accounting, seen: Seen<'_>, part: bool) {
    let footprint = seen.footprint;
    let dirty = accounting.is_dirty();
    let due = dirty
        && match footprint {
            _ if seen.exact => true,
            None => true,
            Some(fp) => accounting.len_over_budget(fp.len) || accounting.walk_due(fp.len.max(4096)),
        };
    if due {
        accounting.take_dirty();
        walk_entries(accounting, seen);
    }
    if due || part || accounting.unregistered_in_view() {
        // Where the `&mut` access that left the figures unknown was made, or the entry
        // filled through `entry(..)`.
        let grown = if due || part {
            accounting.touched_at()
        } else {
            None
        };
        accounting.refresh(footprint, grown);
        accounting.register_in_view();
    }
}

/// Re-evaluates the figures through `&self`, after `DerefMut` access.
#[cold]
#[inline(never)]
pub(super) fn refresh(accounting: &Accounting, seen: Seen<'_>) {
    let part = accounting.take_watched();
    let dirty = accounting.take_dirty();
    if !(dirty || part) {
        return;
    }
    if dirty {
        catch_up(accounting, seen);
    }
    let grown = accounting.touched_at();
    accounting.refresh(seen.footprint, grown);
}

/// Re-evaluates the figures of a collection that can change through `&self`, when its
/// footprint moved since they were last evaluated; its entries' heap follows by a walk
/// amortized over the reads that saw it move.
#[cold]
#[inline(never)]
pub(super) fn follow_shared(accounting: &Accounting, seen: Seen<'_>) {
    catch_up(accounting, seen);
    accounting.refresh(seen.footprint, None);
}

/// Re-evaluates the figures and recomputes the window of the fast path; `site` is where
/// the collection grew, if it did.
#[cold]
#[inline(never)]
pub(super) fn resync(
    accounting: &mut Accounting,
    seen: Seen<'_>,
    mut site: Option<&'static Location<'static>>,
) {
    let footprint = seen.footprint;
    if accounting.take_dirty() {
        catch_up(accounting, seen);
        // What came through `&mut` came first.
        site = accounting.touched_at().or(site);
    }
    accounting.republish_or_resync(footprint, site);
}
