//! [`Watch`]: the one entry of a tracked collection handed out through `&mut` (`get_mut`,
//! `last_mut`, an index, an `entry`), re-measured alone at the collection's next access.
//!
//! The entry is found again by its address, not by its key: no key is cloned or stored, and
//! the next access costs one measurement of one entry whatever the collection's size. The
//! unsafe code of tracked fields is here and nowhere else.

use std::ptr;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

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
pub(super) struct Watch {
    part: AtomicPtr<()>,
    measure: AtomicPtr<Measure>,
}

impl Watch {
    pub(super) const fn new() -> Self {
        Self {
            part: AtomicPtr::new(ptr::null_mut()),
            measure: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Hands `part` out again, watching it until [`take`](Self::take); `evaluate` when the
    /// figures must be evaluated then whatever the entry's heap (it owned heap before, or
    /// it is new).
    ///
    /// # Safety
    /// `part` is an entry of the collection this watch belongs to, stored in memory the
    /// collection owns on the heap (so that moving the collection does not move it), and the
    /// collection is neither changed nor dropped through any path that does not first call
    /// `take`. `Accounted` gives every `&mut` of its collection out through such
    /// a path, and `&self` access cannot change a collection that has entry methods.
    pub(super) unsafe fn lend<'a, P: HeapSize>(
        &mut self,
        part: &'a mut P,
        evaluate: bool,
    ) -> &'a mut P {
        let measure: &'static Measure = const { &Measure { heap: heap_of::<P> } };
        let part: *mut P = part;
        // `Measure` is aligned to a pointer: its low bit is free to carry `evaluate`.
        *self.measure.get_mut() = ptr::from_ref(measure)
            .cast_mut()
            .map_addr(|addr| addr | usize::from(evaluate));
        *self.part.get_mut() = part.cast::<()>();
        // SAFETY: `part` comes from a unique borrow for `'a`, which this one replaces; the
        // watch keeps the address, from which the reference handed out is derived, so that
        // reading through it once that reference has ended is reading through its parent.
        unsafe { &mut *part }
    }

    /// Whether an entry is watched.
    #[inline]
    pub(super) fn is_set(&self) -> bool {
        !self.part.load(Acquire).is_null()
    }

    /// Stops watching and measures the entry, with the `evaluate` it was lent with; `None`
    /// when none was watched or another reader took it first.
    pub(super) fn take(&self) -> Option<(HeapUsage, bool)> {
        let part = self.part.swap(ptr::null_mut(), AcqRel);
        if part.is_null() {
            return None;
        }
        let tagged = self.measure.load(Acquire);
        let evaluate = tagged.addr() & 1 == 1;
        // SAFETY: `measure` was stored with `part`, before it, from a `&'static Measure`,
        // with `evaluate` in its low bit.
        let measure = unsafe { &*tagged.map_addr(|addr| addr & !1) };
        // SAFETY: `lend`'s contract: the entry is still live and unchanged since the `&mut`
        // that was handed out ended (the borrow checker ends it before any access, and every
        // access that could change the collection takes the watch first); readers only read.
        Some((unsafe { (measure.heap)(part) }, evaluate))
    }
}
