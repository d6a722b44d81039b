//! [`State`]: the instrumentation state of a tracked collection that has changed, kept in
//! the registry slot the collection takes at its first change rather than in the collection.
//!
//! A tracked field carries three words (its description, its slot and the upper bound of
//! its length's window); a collection that is made and dropped without ever changing takes
//! no slot and sets up nothing else, and moving the struct it belongs to copies those three
//! words alone (issue 23: the state inline, some 120 bytes a field, made `memmove` half of
//! creating and dropping a struct).
//!
//! Every field is an atomic so that it can live in a slot shared with the registry's
//! readers, but only the collection's owner touches it: readers of the registry read the
//! figures published beside it, never this.

use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering::*};

use crate::scope::ScopeInfo;
use crate::site::SiteCell;

use super::watch::Watch;
use super::window::Window;

/// The state of one tracked collection that has changed, in its registry slot.
pub(crate) struct State {
    /// Heap owned by the entries, kept current by the growth and removal methods.
    pub(crate) elem_heap: AtomicUsize,
    /// The part of `elem_heap` that holds nothing: spare capacity inside the entries.
    pub(crate) elem_unused: AtomicUsize,
    /// The part of `elem_heap` held by tracked collections inside the entries, which
    /// report it on rows of their own.
    pub(crate) elem_nested: AtomicUsize,
    /// Set by `DerefMut`: the collection may have changed in ways the figures missed.
    pub(crate) dirty: AtomicBool,
    /// Whether the collection registered in the slot: published its identity and figures
    /// for readers. A slot is taken at the first change, which may leave it empty (a
    /// `DerefMut` that only reads); it registers once it holds memory.
    pub(crate) registered: AtomicBool,
    /// The entry handed out through `&mut` last, whose heap `elem_heap` leaves out until it
    /// is measured again.
    pub(crate) watch: Watch,
    /// Where the first `DerefMut` access since `dirty` was last clear was made: where a
    /// collection filled through `&mut` (`entry(..).or_insert_with(..)`, a `#[track]` type)
    /// grew, for it to be found at the next access.
    pub(crate) touched_at: SiteCell,
    /// The warning levels of the len and bytes budgets and where the collection was last
    /// seen hoarding, in one word (see `Marks` of the tracked fields).
    pub(crate) marks: AtomicU32,
    /// Accesses through `DerefMut` since the entries were last walked.
    pub(crate) dirty_since_walk: AtomicU32,
    /// The test check the collection was created under, 0 for none.
    pub(crate) test: AtomicU32,
    /// The scope the collection belongs to, for a scoped collection created in one: an
    /// `Arc` made raw, owned by this state from [`set_scope`](Self::set_scope) to
    /// [`take_scope`](Self::take_scope).
    scope: AtomicPtr<ScopeInfo>,
    /// The figures stay inside this window until something needs re-evaluating.
    pub(crate) window: Window,
}

impl Default for State {
    fn default() -> Self {
        Self {
            elem_heap: AtomicUsize::new(0),
            elem_unused: AtomicUsize::new(0),
            elem_nested: AtomicUsize::new(0),
            dirty: AtomicBool::new(false),
            registered: AtomicBool::new(false),
            watch: Watch::new(),
            touched_at: SiteCell::empty(),
            marks: AtomicU32::new(0),
            dirty_since_walk: AtomicU32::new(0),
            test: AtomicU32::new(0),
            scope: AtomicPtr::new(ptr::null_mut()),
            window: Window::shut(),
        }
    }
}

impl State {
    /// Makes the state that of a collection just made empty under test check `test`, for a
    /// slot just taken. The last collection in the slot took its scope back when it let go.
    pub(crate) fn reset(&self, test: u32) {
        self.elem_heap.store(0, Relaxed);
        self.elem_unused.store(0, Relaxed);
        self.elem_nested.store(0, Relaxed);
        self.dirty.store(false, Relaxed);
        self.registered.store(false, Relaxed);
        self.watch.clear();
        self.touched_at.store(None);
        self.marks.store(0, Relaxed);
        self.dirty_since_walk.store(0, Relaxed);
        self.test.store(test, Relaxed);
        self.window.close();
    }

    /// Keeps `scope` for the collection, which owns it until [`take_scope`](Self::take_scope).
    pub(crate) fn set_scope(&self, scope: Arc<ScopeInfo>) {
        // A load and a store, not a swap: only the owner writes (a locked instruction was
        // most of the time of letting go of a slot, issue 23's 8-thread profile).
        let old = self.scope.load(Relaxed);
        self.scope.store(Arc::into_raw(scope).cast_mut(), Relaxed);
        if !old.is_null() {
            // SAFETY: a non-null pointer here came from `Arc::into_raw` in this function and
            // was not taken back since (`take_scope` nulls it as it does): this drops the
            // reference it stood for, once.
            drop(unsafe { Arc::from_raw(old) });
        }
    }

    /// The collection's scope, borrowed as an `Arc` (without touching its count): valid as
    /// long as the collection, which alone takes it back, is borrowed.
    pub(crate) fn scope(&self) -> Option<ManuallyDrop<Arc<ScopeInfo>>> {
        let raw = self.scope.load(Relaxed);
        if raw.is_null() {
            return None;
        }
        // SAFETY: non-null, it came from `Arc::into_raw` and its reference is held by this
        // state until `take_scope`, which only the collection's drop calls; `ManuallyDrop`
        // keeps this copy from releasing that reference.
        Some(ManuallyDrop::new(unsafe { Arc::from_raw(raw) }))
    }

    /// Takes the collection's scope back, as it lets go of the slot.
    pub(crate) fn take_scope(&self) -> Option<Arc<ScopeInfo>> {
        let raw = self.scope.load(Relaxed);
        if raw.is_null() {
            return None;
        }
        // Only the owner writes: a store, not a swap, as in `set_scope`.
        self.scope.store(ptr::null_mut(), Relaxed);
        // SAFETY: as in `set_scope`: the reference `raw` stood for is taken back once, the
        // pointer being nulled as it is.
        Some(unsafe { Arc::from_raw(raw) })
    }
}
