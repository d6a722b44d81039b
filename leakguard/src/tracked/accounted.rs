//! [`Accounted`]: a collection and its [`Accounting`], with the code that depends on the
//! collection's type alone. Every field of the same collection type shares it, whatever
//! struct it belongs to.

use std::fmt;
use std::ops::{Bound, Deref, DerefMut, RangeBounds};
use std::panic::Location;

use super::accounting::{self, Accounting, Instrument};
use crate::heap_size::{Footprint, HeapChange, HeapSize, HeapUsage, Measurement};
use crate::meta::{FieldMeta, FromMeta};
use crate::registry::Origin;

/// The collection inside a [`Tracked`](crate::Tracked) field, with its figures: everything
/// a field does that does not depend on which field it is.
pub(crate) struct Accounted<C> {
    inner: C,
    accounting: Instrument,
}

impl<C> Accounted<C> {
    /// `inner`, empty, as the field `meta` describes.
    #[inline]
    pub(crate) fn empty(inner: C, meta: &'static FieldMeta) -> Self {
        Self {
            inner,
            accounting: accounting::empty(meta),
        }
    }

    /// An empty collection for the field `meta` describes: what every field's `Default`
    /// makes, written here once per collection type, so that the `Default` of each field
    /// (one per field of every struct) is a single call.
    pub(crate) fn for_field(meta: &'static FieldMeta) -> Self
    where
        C: FromMeta,
    {
        Self::empty(C::from_meta(meta), meta)
    }

    pub(crate) fn into_inner(self) -> C {
        self.inner
    }

    /// The collection, for the growth and removal methods that keep the figures themselves.
    #[inline]
    pub(crate) fn raw(&mut self) -> &mut C {
        if self.take_watched() {
            // The method that follows re-evaluates on its way out.
            if let Some(accounting) = self.accounting.first_mut() {
                accounting.shut_window();
            }
        }
        &mut self.inner
    }

    /// Measures the entry handed out through `&mut` last, before the collection changes
    /// again and the entry may move; whether the figures must be evaluated.
    #[inline]
    fn take_watched(&mut self) -> bool {
        match self.accounting.first_mut() {
            Some(accounting) => accounting.take_watched_mut(),
            None => false,
        }
    }

    /// The collection, without the refresh of `Deref`.
    #[inline]
    pub(crate) fn collection(&self) -> &C {
        &self.inner
    }

    /// Records that entries may have changed through `&mut`, without growing.
    #[inline]
    pub(crate) fn touched(&mut self) {
        if let Some(accounting) = self.accounting.first_mut() {
            accounting.touched(None);
        }
    }

    /// Records that the entries of a draining iterator left with `removed` heap.
    ///
    /// The collection's length settles when the iterator is dropped, so the window
    /// re-evaluates on the next growth or removal.
    pub(crate) fn drained(&mut self, removed: HeapUsage) {
        if let Some(accounting) = self.accounting.first_mut() {
            let mut change = HeapChange::default();
            change -= removed;
            accounting.add_heap(change);
            accounting.shut_window();
        }
    }

    /// Runs `op`, which may call user code (a closure, `Clone`, `Drop`, `Ord`), on the
    /// collection. Should that code panic, the figures are not left wrong: the next access
    /// walks the collection again.
    #[inline]
    pub(crate) fn guarded<R>(&mut self, op: impl FnOnce(&mut C) -> R) -> R {
        self.take_watched();
        let saved = self.accounting.first_mut().map(Accounting::suspend);
        let result = op(&mut self.inner);
        if let (Some(accounting), Some(saved)) = (self.accounting.first_mut(), saved) {
            accounting.restore(saved);
        }
        result
    }
}

impl<C: HeapSize> Accounted<C> {
    /// `inner`, with whatever content it arrived with (`From`, `FromIterator`, `Clone`,
    /// serde, a `Default` that fills it): measured now, and registered with the scope and
    /// test check it is constructed under and where, so that reports and checks see it
    /// before it first grows.
    ///
    /// `origin` says how the content came where the caller's line is not the user's: std's
    /// `collect()` or `into()`, serde.
    #[inline]
    #[track_caller]
    pub(crate) fn constructed(inner: C, meta: &'static FieldMeta, origin: Origin) -> Self {
        let empty = inner
            .footprint()
            .is_some_and(|fp| fp.len == 0 && fp.storage_bytes == 0);
        let mut this = Self::empty(inner, meta);
        if !empty && !this.accounting.is_empty() {
            this.settle_constructed(Location::caller(), origin);
        }
        this
    }

    #[inline(never)]
    fn settle_constructed(&mut self, site: &'static Location<'static>, origin: Origin) {
        self.walk_entries();
        if let Some(accounting) = self.accounting.first_mut() {
            accounting.settle_constructed(self.inner.footprint(), site, origin);
        }
    }

    /// Records that `added` bytes of entry heap came in; call after the collection grew.
    ///
    /// For entries that own no heap `added` is a constant 0, and only the length check stays.
    #[inline]
    #[track_caller]
    pub(crate) fn grew(&mut self, added: HeapUsage) {
        let Some(accounting) = self.accounting.first_mut() else {
            return;
        };
        let len = self.inner.footprint().map_or(0, |fp| fp.len);
        if accounting.grew(len, added) {
            self.resync(Some(Location::caller()));
        }
    }

    /// Records that `removed` bytes of entry heap went out; call after the collection shrank.
    #[inline]
    pub(crate) fn shrank(&mut self, removed: HeapUsage) {
        let Some(accounting) = self.accounting.first_mut() else {
            return;
        };
        let len = self.inner.footprint().map_or(0, |fp| fp.len);
        if accounting.shrank(len, removed) {
            self.resync(None);
        }
    }

    /// Records that the collection holds no entry any more, after `clear`: its entries own
    /// no heap, whatever the figures said, and there is nothing to walk to know it.
    #[inline]
    pub(crate) fn emptied(&mut self) {
        if let Some(accounting) = self.accounting.first_mut() {
            accounting.walked(HeapUsage::NONE);
            accounting.shut_window();
        }
        self.shrank(HeapUsage::NONE);
    }

    /// Records an in-place change of entry heap, as when a map replaces a value.
    #[inline]
    #[track_caller]
    pub(crate) fn replaced(&mut self, added: HeapUsage, removed: HeapUsage) {
        let Some(accounting) = self.accounting.first_mut() else {
            return;
        };
        if accounting.replaced(added, removed) {
            self.resync(Some(Location::caller()));
        }
    }

    /// Re-evaluates after the storage itself changed (`reserve`, `shrink_to_fit`).
    #[inline]
    pub(crate) fn storage_changed(&mut self) {
        if !self.accounting.is_empty() {
            self.resync(None);
        }
    }

    /// Records the entry heap a self-evicting collection reports as gone in or out, and
    /// re-evaluates: such a collection's storage changes without its length growing.
    /// `site` is where it grew, if it did.
    pub(crate) fn settle(&mut self, delta: HeapChange, site: Option<&'static Location<'static>>) {
        if let Some(accounting) = self.accounting.first_mut() {
            accounting.add_heap(delta);
            self.resync(site);
        }
    }

    /// Heap bytes by the running figures; the collection measured when compiled out.
    pub(crate) fn bytes(&self) -> usize {
        let _ = &**self;
        match self.accounting.first() {
            Some(accounting) => accounting.bytes(self.inner.footprint()),
            None => self.inner.heap_size(),
        }
    }

    /// Walks the collection, corrects the running figures and returns its heap bytes.
    pub(crate) fn measure(&mut self) -> usize {
        if self.accounting.is_empty() {
            return self.inner.heap_size();
        }
        self.walk_entries();
        self.resync(None);
        self.bytes()
    }

    /// Re-measures the heap the entries own, in full.
    fn walk_entries(&self) {
        let Some(accounting) = self.accounting.first() else {
            return;
        };
        let total = self.inner.heap_usage_in(&mut Measurement::new());
        let storage = self.inner.footprint().unwrap_or_default();
        accounting.walked(total.saturating_sub(HeapUsage::with_unused(
            storage.storage_bytes,
            storage.unused_bytes(),
        )));
    }

    /// Brings the figures up to date after `DerefMut` access: a walk of the entries, at
    /// once for a collection whose every other change the field's methods see, else when
    /// enough accesses have paid for it.
    fn catch_up(&self, accounting: &Accounting, footprint: Option<Footprint>) {
        if C::__LEAKGUARD_EXACT_AFTER_MUT || accounting.walk_due(footprint.map_or(0, |fp| fp.len)) {
            self.walk_entries();
        }
    }

    /// Hands out one entry of the collection through `&mut`, found by `find`: the next
    /// access measures that entry again, and that one alone.
    #[inline]
    pub(crate) fn part_mut<'a, P: HeapSize>(
        &'a mut self,
        find: impl FnOnce(&'a mut C) -> Option<&'a mut P>,
    ) -> Option<&'a mut P> {
        self.settle_mut();
        let part = find(&mut self.inner)?;
        match self.accounting.first_mut() {
            // A type without drop glue frees nothing, so owns no heap (a counter, a
            // timestamp): changing it changes no figure, and it needs no watch.
            Some(accounting) if std::mem::needs_drop::<P>() => {
                // SAFETY: `part` is an entry of `inner`, a collection whose entries live on
                // the heap (only collections with entry methods call this), and `inner` is
                // changed only through `raw`, `guarded`, `DerefMut` and this function, which
                // all take the watch first; `&self` access cannot change it.
                Some(unsafe { accounting.lend(part, false) })
            }
            _ => Some(part),
        }
    }

    /// The collection, its accounting and its footprint, for an entry that keeps the
    /// figures as it is used.
    #[inline]
    pub(crate) fn entry_parts(&mut self) -> (&mut C, Option<&mut Accounting>, Footprint) {
        self.settle_mut();
        let footprint = self.inner.footprint().unwrap_or_default();
        (&mut self.inner, self.accounting.first_mut(), footprint)
    }

    /// What `DerefMut` does before handing out `&mut`, for the methods that hand out part
    /// of the collection instead.
    #[inline]
    fn settle_mut(&mut self) {
        let part = self.take_watched();
        if let Some(accounting) = self.accounting.first_mut() {
            // An open window says that nothing is pending: no `&mut` access since the figures
            // were evaluated, and the collection registered where it had to.
            if part
                || !accounting.window_open()
                    && (accounting.is_dirty() || accounting.unregistered_in_view())
            {
                self.catch_up_mut(part);
            }
        }
    }

    /// Before handing out `&mut` again: evaluates what the last `&mut` access changed (`part`
    /// when it was one entry, whose heap is back in the figures): a std collection handed
    /// out whole is walked in full; a user type marked `#[track]` is walked at once when its
    /// length crossed its budget or it is not a sized collection, else when enough accesses
    /// have paid for a walk; and registers a collection a scope or a test check must see
    /// before it is read again.
    #[cold]
    #[inline(never)]
    fn catch_up_mut(&self, part: bool) {
        let Some(accounting) = self.accounting.first() else {
            return;
        };
        let footprint = self.inner.footprint();
        let dirty = accounting.is_dirty();
        let due = dirty
            && match footprint {
                _ if C::__LEAKGUARD_EXACT_AFTER_MUT => true,
                None => true,
                Some(fp) => {
                    accounting.len_over_budget(fp.len) || accounting.walk_due(fp.len.max(4096))
                }
            };
        if due {
            accounting.take_dirty();
            self.walk_entries();
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
    fn refresh(&self) {
        let Some(accounting) = self.accounting.first() else {
            return;
        };
        let part = accounting.take_watched();
        let dirty = accounting.take_dirty();
        if !(dirty || part) {
            return;
        }
        let footprint = self.inner.footprint();
        if dirty {
            self.catch_up(accounting, footprint);
        }
        let grown = accounting.touched_at();
        accounting.refresh(footprint, grown);
    }

    /// Re-evaluates the figures of a collection that can change through `&self`, when its
    /// footprint moved since they were last evaluated; its entries' heap follows by a walk
    /// amortized over the reads that saw it move.
    #[cold]
    #[inline(never)]
    fn follow_shared(&self, accounting: &Accounting, footprint: Footprint) {
        self.catch_up(accounting, Some(footprint));
        accounting.refresh(Some(footprint), None);
    }

    /// Re-evaluates the figures and recomputes the window of the fast path; `site` is where
    /// the collection grew, if it did.
    #[cold]
    #[inline(never)]
    fn resync(&mut self, mut site: Option<&'static Location<'static>>) {
        let footprint = self.inner.footprint();
        if let Some(accounting) = self.accounting.first() {
            if accounting.take_dirty() {
                self.catch_up(accounting, footprint);
                // What came through `&mut` came first.
                site = accounting.touched_at().or(site);
            }
        }
        if let Some(accounting) = self.accounting.first_mut() {
            accounting.republish_or_resync(footprint, site);
        }
    }
}

impl<C: HeapSize> Deref for Accounted<C> {
    type Target = C;

    #[inline]
    fn deref(&self) -> &C {
        if let Some(accounting) = self.accounting.first() {
            if accounting.needs_refresh() {
                self.refresh();
            }
            if C::__LEAKGUARD_SHARED_MUT {
                if let Some(footprint) = self.inner.footprint() {
                    if accounting.footprint_moved(footprint) {
                        self.follow_shared(accounting, footprint);
                    }
                }
            }
        }
        &self.inner
    }
}

impl<C: HeapSize> DerefMut for Accounted<C> {
    /// Hands out the collection; changes made through it are picked up on the next access,
    /// this one included when it follows another: a std collection's entries are walked in
    /// full there; a user type marked `#[track]` has its footprint evaluated there and its
    /// entries walked amortized over 64 accesses. The caller's line is kept as where such a
    /// collection grew.
    #[inline]
    #[track_caller]
    fn deref_mut(&mut self) -> &mut C {
        self.settle_mut();
        if let Some(accounting) = self.accounting.first_mut() {
            accounting.touched(Some(Location::caller()));
        }
        &mut self.inner
    }
}

/// The instrument of a build with instrumentation compiled out, which has no accounting to
/// make. Out of line and not generic, so that its `from_fn` is compiled once, here, rather
/// than beside the `clone` of every collection type in every crate that clones one.
#[inline(never)]
fn compiled_out() -> Instrument {
    std::array::from_fn(|_| unreachable!("compiled out"))
}

impl<C: Clone + HeapSize> Clone for Accounted<C> {
    /// Clones the collection; the clone is tracked on its own, as the same field, and
    /// registered where it is cloned.
    #[track_caller]
    fn clone(&self) -> Self {
        let inner = self.inner.clone();
        match self.accounting.first() {
            Some(accounting) => Self::constructed(inner, accounting.meta, Origin::Cloned),
            // Compiled out: the instrument has no accounting to make.
            None => Self {
                inner,
                accounting: compiled_out(),
            },
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for Accounted<C> {
    /// Formats exactly as the collection does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<C: HeapSize> HeapSize for Accounted<C> {
    fn heap_size(&self) -> usize {
        self.inner.heap_size()
    }

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.inner.heap_size_in(m)
    }

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.inner.heap_usage_in(m)
    }

    fn footprint(&self) -> Option<Footprint> {
        self.inner.footprint()
    }
}

/// `keep`, adding the element's `heap` to `removed` when it goes: a `retain` predicate that
/// tallies what it drops.
#[inline]
pub(super) fn kept(keep: bool, heap: impl FnOnce() -> HeapUsage, removed: &mut HeapUsage) -> bool {
    if !keep {
        *removed += heap();
    }
    keep
}

/// `range` resolved against `len`, or `None` where the collection itself would panic.
pub(super) fn resolve(range: &impl RangeBounds<usize>, len: usize) -> Option<(usize, usize)> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.checked_add(1)?,
        Bound::Excluded(&e) => e,
        Bound::Unbounded => len,
    };
    (start <= end && end <= len).then_some((start, end))
}

/// `reserve`, `shrink_to_fit` and friends: the storage changes, so the figures re-evaluate.
/// `body` writes them on `Accounted<C>`, `shell` on the field; see `#[__field_methods]`.
macro_rules! storage_methods {
    (body) => {
        #[inline]
        pub(crate) fn reserve(&mut self, additional: usize) {
            self.raw().reserve(additional);
            self.storage_changed();
        }

        #[inline]
        pub(crate) fn shrink_to_fit(&mut self) {
            self.raw().shrink_to_fit();
            self.storage_changed();
        }

        #[inline]
        pub(crate) fn shrink_to(&mut self, min_capacity: usize) {
            self.raw().shrink_to(min_capacity);
            self.storage_changed();
        }
    };
    (shell) => {
        /// Reserves room for at least `additional` more entries.
        #[inline]
        pub fn reserve(&mut self, additional: usize) {
            self.accounted.reserve(additional);
        }

        /// Shrinks the storage as close to the length as it can.
        #[inline]
        pub fn shrink_to_fit(&mut self) {
            self.accounted.shrink_to_fit();
        }

        /// Shrinks the storage to at least `min_capacity` entries.
        #[inline]
        pub fn shrink_to(&mut self, min_capacity: usize) {
            self.accounted.shrink_to(min_capacity);
        }
    };
}
pub(super) use storage_methods;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::tracked::entry::Entry;

    static META: FieldMeta = FieldMeta::new("Test.field", "Test", "field", "tests", ("t.rs", 1, 1));

    /// The unsafe path of entry-level `&mut` access, which CI runs under Miri: the entry is
    /// read again through its address after the collection moved, and a watch left set when
    /// the collection is dropped is never read.
    #[test]
    fn an_entry_lent_through_mut_is_measured_again_after_the_collection_moved() {
        let mut map = Accounted::empty(HashMap::<u64, String>::new(), &META);
        map.insert(1, String::new());
        map.insert(2, "two".to_string());
        map.part_mut(|m| m.get_mut(&1)).unwrap().push_str("hello");
        let moved = Box::new(map);
        assert_eq!(moved.bytes(), moved.inner.heap_size());

        let mut map = *moved;
        map.part_mut(|m| m.get_mut(&2))
            .unwrap()
            .push_str(" and more");
        let (inner, accounting, footprint) = map.entry_parts();
        Entry::new(
            inner.entry(3),
            accounting,
            footprint,
            std::panic::Location::caller(),
        )
        .or_default()
        .push_str("three");
        // A growth method takes the watch before the map can rehash and move the entry.
        for key in 4..40 {
            map.insert(key, key.to_string());
        }
        assert_eq!(map.bytes(), map.inner.heap_size());

        let mut lines = Accounted::empty(Vec::<String>::new(), &META);
        lines.push(String::new());
        lines
            .part_mut(|v| v.last_mut())
            .unwrap()
            .push_str("left watched");
        drop(lines);
    }
}
