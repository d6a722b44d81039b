//! The running figures of a tracked collection: what its growth and removal methods and
//! its `&mut` access record in its [`State`](crate::registry::State), on the fast path.

use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::heap_size::{Footprint, HeapChange, HeapSize, HeapUsage, running_heap};

use super::accounting::Accounting;

/// `dirty_since_walk` of a collection whose entries have never been measured: the next
/// access walks them whatever their number.
const NEVER_WALKED: u32 = u32::MAX / 64;

impl Accounting {
    /// Makes the next growth or removal leave the window, so that it re-evaluates.
    #[inline]
    pub(super) fn shut_window(&mut self) {
        self.len_hi = 0;
        if let Some(state) = self.state() {
            state.window.close();
        }
    }

    /// Records `added` entry heap at length `len`, after the collection grew; whether the
    /// figures left their window. A collection that never changed before has no window yet.
    #[inline]
    pub(super) fn grew(&mut self, len: usize, added: HeapUsage) -> bool {
        let mut leave = len > self.len_hi;
        if added.bytes != 0 {
            let Some(state) = self.state_mut() else {
                return false;
            };
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
        self.shut_window();
    }

    /// Hands out `part`, an entry of the collection, through `&mut`: its heap is left out of
    /// the figures until [`take_watched`](Self::take_watched) measures it again. A `new`
    /// entry's heap is not in them yet.
    ///
    /// # Safety
    /// As `Watch::lend`'s (in the registry).
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
        // window, so the next growth or removal re-evaluates; a shut window also tells the
        // next access to look for the entry.
        self.shut_window();
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
        // An entry is lent only with the window shut.
        if self.window_open() {
            return false;
        }
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
        self.shut_window();
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
