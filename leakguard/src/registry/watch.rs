//! [`Watch`]: the one entry of a tracked collection handed out through `&mut` (`get_mut`,
//! `last_mut`, an index, an `entry`), re-measured alone at the collection's next access.
//!
//! The entry is found again by its address, not by its key: no key is cloned or stored, and
//! the next access costs one measurement of one entry whatever the collection's size. The
//! unsafe code of tracked fields is here and nowhere else.

use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicPtr, AtomicUsize};

use crate::heap_size::{HeapSize, HeapUsage, running_heap};

/// How to measure the entry behind a type-erased address; one `'static` per entry type.
#[repr(align(2))]
struct Measure {
    heap: unsafe fn(*const ()) -> HeapUsage,
}

/// Measures the `P` at `part`.
///
/// # Safety
/// `part` points to a live `P` that nothing writes to for the duration of the call.
unsafe fn heap_of<P: HeapSize>(part: *const ()) -> HeapUsage {
    // SAFETY: the caller guarantees `part` is a live, unwritten `P`.
    running_heap(unsafe { &*part.cast::<P>() })
}

/// The entry of a collection last handed out through `&mut`, if any.
pub(crate) struct Watch {
    part: AtomicPtr<()>,
    measure: AtomicPtr<Measure>,
    /// The heap bytes of the entry when it was handed out. A collection that changes
    /// through `&self` has no entry methods and never lends one: it keeps its footprint
    /// last seen here instead, see [`seen`](Self::seen).
    word: AtomicUsize,
}

/// What a watched entry became.
pub(crate) struct Taken {
    pub(crate) after: HeapUsage,
    /// The entry is new: the length changed with it.
    pub(crate) new: bool,
    /// Whether its heap bytes moved since it was lent.
    pub(crate) moved: bool,
}

impl Watch {
    pub(crate) const fn new() -> Self {
        Self {
            part: AtomicPtr::new(ptr::null_mut()),
            measure: AtomicPtr::new(ptr::null_mut()),
            word: AtomicUsize::new(0),
        }
    }

    /// The footprint last seen of a collection that changes through `&self`, mixed into one
    /// word.
    pub(crate) fn seen(&self) -> &AtomicUsize {
        &self.word
    }

    /// Hands `part`, which owns `before` heap bytes, out again, watching it until
    /// [`take`](Self::take). A `new` entry has just come in.
    ///
    /// # Safety
    /// `part` is an entry of the collection this watch belongs to, stored in memory the
    /// collection owns on the heap (so that moving the collection does not move it), and the
    /// collection is neither changed nor dropped through any path that does not first call
    /// `take`. `Accounted` gives every `&mut` of its collection out through such
    /// a path, and `&self` access cannot change a collection that has entry methods.
    pub(crate) unsafe fn lend<'a, P: HeapSize>(
        &self,
        part: &'a mut P,
        new: bool,
        before: usize,
    ) -> &'a mut P {
        let measure: &'static Measure = const { &Measure { heap: heap_of::<P> } };
        self.word.store(before, Relaxed);
        let part: *mut P = part;
        // `Measure` is aligned to at least 2: its low bit is free to carry `new`.
        self.measure.store(
            ptr::from_ref(measure)
                .cast_mut()
                .map_addr(|addr| addr | usize::from(new)),
            Relaxed,
        );
        // Release: a reader through `&self` that sees the entry sees how to measure it.
        self.part.store(part.cast::<()>(), Release);
        // SAFETY: `part` comes from a unique borrow for `'a`, which this one replaces; the
        // watch keeps the address, from which the reference handed out is derived, so that
        // reading through it once that reference has ended is reading through its parent.
        unsafe { &mut *part }
    }

    /// Whether an entry is watched.
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        !self.part.load(Acquire).is_null()
    }

    /// Whether an entry is watched, for the collection's owner, which lent it: a plain load.
    #[inline]
    pub(crate) fn is_set_mut(&self) -> bool {
        !self.part.load(Relaxed).is_null()
    }

    /// Forgets the entry without measuring it, for a slot taken by a new collection.
    pub(crate) fn clear(&self) {
        self.part.store(ptr::null_mut(), Relaxed);
    }

    /// Stops watching and measures the entry; `None` when none was watched or another
    /// reader took it first.
    pub(crate) fn take(&self) -> Option<Taken> {
        let part = self.part.swap(ptr::null_mut(), AcqRel);
        Self::measure(part, self.measure.load(Acquire), self.word.load(Relaxed))
    }

    /// [`take`](Self::take) by the collection's owner, through `&mut` of the collection,
    /// without the atomic swap: what the growth methods and the next `&mut` access do, on
    /// the path a loop of `get_mut` takes.
    #[inline]
    pub(crate) fn take_mut(&self) -> Option<Taken> {
        let part = self.part.load(Relaxed);
        if part.is_null() {
            return None;
        }
        self.part.store(ptr::null_mut(), Relaxed);
        let (tagged, before) = (self.measure.load(Relaxed), self.word.load(Relaxed));
        Self::measure(part, tagged, before)
    }

    fn measure(part: *mut (), tagged: *mut Measure, before: usize) -> Option<Taken> {
        if part.is_null() {
            return None;
        }
        let new = tagged.addr() & 1 == 1;
        // SAFETY: `measure` was stored with `part`, before it, from a `&'static Measure`,
        // with `new` in its low bit.
        let measure = unsafe { &*tagged.map_addr(|addr| addr & !1) };
        // SAFETY: `lend`'s contract: the entry is still live and unchanged since the `&mut`
        // that was handed out ended (the borrow checker ends it before any access, and every
        // access that could change the collection takes the watch first); readers only read.
        let after = unsafe { (measure.heap)(part) };
        Some(Taken {
            after,
            new,
            moved: after.bytes != before,
        })
    }
}
