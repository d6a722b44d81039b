//! The wrapper `#[track_growth]` puts around each tracked field.

mod caches;
mod collections;

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};

use crate::budget::{self, Budget, Limit, Step};
use crate::clock::monotonic_now;
use crate::heap_size::{Footprint, HeapSize, Measurement};
use crate::meta::{FieldMeta, FromMeta, TrackedStruct};
use crate::registry::{self, FLAG_OVER_BUDGET, Registration, Slot};
use crate::scope;
use crate::settings::SETTINGS;
use crate::testing;
use std::panic::Location;

/// A collection field of a `#[track_growth]` struct, with its figures kept current.
///
/// `#[track_growth]` rewrites the type of each tracked field `C` to `Tracked<C, Self, N>`,
/// where `N` is the field's position. You keep using the field as the collection it wraps:
/// it dereferences to `C`, its growth and removal methods (`push`, `insert`, `extend`,
/// `append`, `remove`, `pop`, `truncate`, `clear`, `retain`, `drain`, ...) have the same
/// signatures as the collection's own and update the figures in O(1) as they run, and it
/// forwards `Debug`, `Clone`, `PartialEq`, `Hash`, `Default`, iteration and (with the
/// `serde` feature) serde to the collection.
///
/// Build one from its collection with `.into()` or `Default::default()`:
///
/// ```
/// use leakguard::track_growth;
///
/// #[track_growth]
/// struct Inbox {
///     #[budget(len = 100)]
///     messages: Vec<String>,
/// }
///
/// let mut inbox = Inbox { messages: vec!["hello".to_string()].into() };
/// inbox.messages.push("world".to_string());
/// assert_eq!(inbox.messages.len(), 2);
/// assert_eq!(&inbox.messages[..], ["hello", "world"]);
/// ```
///
/// Its own functions are associated functions, called as `Tracked::name(&field)`, so that
/// they never shadow a method of the collection.
pub struct Tracked<C, O, const I: usize> {
    inner: C,
    state: State,
    owner: PhantomData<fn() -> O>,
}

/// One [`Active`] when instrumentation is compiled in, none (zero bytes) when it is not.
type State = [Active; crate::ENABLED as usize];

/// The instrumentation state of one tracked collection.
///
/// Fields read through `&self` (from `Deref`) are atomics; the fast-path window is only
/// touched through `&mut self`.
pub(crate) struct Active {
    /// Heap owned by the entries, kept current by the growth and removal methods.
    elem_heap: AtomicUsize,
    /// Set by `DerefMut`: the collection may have changed in ways the figures missed.
    dirty: AtomicBool,
    /// Warning levels of the len and bytes budgets (see [`budget::warn_above`]).
    len_level: AtomicU8,
    bytes_level: AtomicU8,
    /// Whether the collection was last seen hoarding unused capacity.
    hoarding: AtomicBool,
    /// Accesses through `DerefMut` since the entries were last walked.
    dirty_since_walk: AtomicUsize,
    /// Its slot in the registry, once it holds memory.
    slot: Option<&'static Slot>,
    /// The scope it belongs to, for a scoped collection created in one; 0 otherwise.
    scope: u64,
    /// The test check it was created under, 0 for none.
    test: u32,
    /// The figures stay inside these bounds until something needs re-evaluating.
    len_lo: usize,
    len_hi: usize,
    heap_lo: usize,
    heap_hi: usize,
}

/// `dirty_since_walk` of a collection whose entries have never been measured: the next
/// access walks them whatever their number.
const NEVER_WALKED: usize = usize::MAX / 64;

impl Active {
    /// The state of a collection known to be empty; a scoped one notes the scope it is
    /// created in.
    ///
    /// Always inlined: `meta` is a constant, and for a collection that is not scoped the
    /// whole scope branch then folds away.
    #[inline(always)]
    fn empty(meta: &'static FieldMeta) -> Self {
        let mut active = Self {
            elem_heap: AtomicUsize::new(0),
            dirty: AtomicBool::new(false),
            len_level: AtomicU8::new(0),
            bytes_level: AtomicU8::new(0),
            hoarding: AtomicBool::new(false),
            dirty_since_walk: AtomicUsize::new(0),
            slot: None,
            scope: 0,
            test: testing::current(),
            len_lo: 0,
            len_hi: 0,
            heap_lo: 0,
            heap_hi: 0,
        };
        active.poison_window();
        if meta.scoped {
            // It registers when it first holds memory: one that never does retains nothing.
            active.scope = Self::scope_of_new();
        }
        active
    }

    #[inline(never)]
    fn scope_of_new() -> u64 {
        scope::current()
    }

    /// The state of a collection with entries nobody has measured yet: its first access
    /// walks them.
    #[inline]
    fn unwalked(meta: &'static FieldMeta) -> Self {
        let active = Self::empty(meta);
        active.dirty.store(true, Relaxed);
        active.dirty_since_walk.store(NEVER_WALKED, Relaxed);
        active
    }

    /// Makes the next growth or removal leave the window, so that it re-evaluates.
    #[inline]
    fn poison_window(&mut self) {
        self.len_lo = usize::MAX;
        self.len_hi = 0;
        self.heap_lo = usize::MAX;
        self.heap_hi = 0;
    }
}

impl Drop for Active {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            Self::release(slot);
        }
    }
}

impl Active {
    #[inline(never)]
    fn release(slot: &'static Slot) {
        registry::release(slot);
    }
}

/// Heap owned by one value entering or leaving a tracked collection; 0 when compiled out.
#[inline]
pub(crate) fn running_heap<T: ?Sized + HeapSize>(value: &T) -> usize {
    if crate::ENABLED {
        value.heap_size_in(&mut Measurement::running())
    } else {
        0
    }
}

/// Heap owned by a run of values entering or leaving a tracked collection.
#[inline]
pub(crate) fn running_heap_of<'a, T: HeapSize + 'a>(
    values: impl IntoIterator<Item = &'a T>,
) -> usize {
    if crate::ENABLED {
        values.into_iter().map(running_heap).sum()
    } else {
        0
    }
}

/// `keep`, adding the element's `heap` to `removed` when it goes: a `retain` predicate that
/// tallies what it drops.
#[inline]
pub(crate) fn kept(keep: bool, heap: impl FnOnce() -> usize, removed: &mut usize) -> bool {
    if !keep {
        *removed += heap();
    }
    keep
}

/// The published figures move in steps of at most 1/1024 of themselves: fine enough that
/// reports are within 0.1% and the sampler sees growth, coarse enough that republishing
/// costs next to nothing amortized.
#[inline]
fn publish_step(value: usize, floor: usize) -> usize {
    (value / 1024).max(floor)
}

impl<C, O, const I: usize> Tracked<C, O, I> {
    /// The collection, without its tracking.
    pub fn into_inner(this: Self) -> C {
        this.inner
    }
}

impl<C, O: TrackedStruct, const I: usize> Tracked<C, O, I> {
    const META: &'static FieldMeta = &O::FIELDS[I];

    /// Wraps a collection of unknown content; its figures are taken on first access.
    #[inline]
    fn unwalked(inner: C) -> Self {
        Self {
            inner,
            state: std::array::from_fn(|_| Active::unwalked(Self::META)),
            owner: PhantomData,
        }
    }

    /// Wraps an empty collection.
    #[inline]
    fn empty(inner: C) -> Self {
        Self {
            inner,
            state: std::array::from_fn(|_| Active::empty(Self::META)),
            owner: PhantomData,
        }
    }

    /// The collection's name as warnings and reports show it: `Type.field`.
    pub fn name(_this: &Self) -> &'static str {
        Self::META.name
    }

    /// The budget declared for the field.
    pub fn budget(_this: &Self) -> Budget {
        Self::META.budget
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> Tracked<C, O, I> {
    /// Heap bytes the collection owns by its running figures, without walking it.
    ///
    /// Exact for changes made through the collection's growth and removal methods; a change
    /// made inside an entry through `&mut` access is picked up by the next
    /// [`measure`](Tracked::measure). With instrumentation compiled out there are no running
    /// figures, and this measures the collection.
    pub fn bytes(this: &Self) -> usize {
        let _ = &**this;
        match this.state.first() {
            Some(active) => {
                let storage = this.inner.footprint().map_or(0, |fp| fp.storage_bytes);
                storage + active.elem_heap.load(Relaxed)
            }
            None => this.inner.heap_size(),
        }
    }

    /// Walks the collection, corrects its running figures and returns its heap bytes.
    pub fn measure(this: &mut Self) -> usize {
        if this.state.is_empty() {
            return this.inner.heap_size();
        }
        this.walk_entries();
        this.resync(None);
        Self::bytes(this)
    }

    /// Re-measures the heap the entries own, in full.
    fn walk_entries(&self) {
        let Some(active) = self.state.first() else {
            return;
        };
        let total = self.inner.heap_size();
        let storage = self.inner.footprint().map_or(0, |fp| fp.storage_bytes);
        active
            .elem_heap
            .store(total.saturating_sub(storage), Relaxed);
        active.dirty_since_walk.store(0, Relaxed);
    }

    /// Brings the figures up to date after `DerefMut` access: a walk of the entries when
    /// enough accesses have paid for it (at most 64 entries per access, amortized).
    fn catch_up(&self, active: &Active, footprint: Option<Footprint>) {
        let accesses = active.dirty_since_walk.fetch_add(1, Relaxed) + 1;
        let len = footprint.map_or(0, |fp| fp.len);
        if accesses.saturating_mul(64) >= len {
            self.walk_entries();
        }
    }

    /// Checks the current figures against the budget and for hoarded capacity, warning on
    /// a crossing, and publishes them to the registry.
    fn evaluate(&self, active: &Active, footprint: Option<Footprint>) {
        let meta = Self::META;
        let len = footprint.map_or(0, |fp| fp.len);
        let bytes = footprint.map_or(0, |fp| fp.storage_bytes) + active.elem_heap.load(Relaxed);
        let budget = meta.budget;
        for (limit, level, value, max) in [
            (Limit::Len, &active.len_level, len, budget.len),
            (Limit::Bytes, &active.bytes_level, bytes, budget.bytes),
        ] {
            let Some(max) = max else { continue };
            match budget::step(level.load(Relaxed), value, max) {
                Step::Stay => {}
                Step::Rearm => level.store(0, Relaxed),
                Step::Warn(next) => {
                    level.store(next, Relaxed);
                    budget::warn_over_budget(meta, limit, next, len, bytes);
                    if active.test != 0 {
                        let site = active.slot.and_then(Slot::site);
                        let what = budget::crossing(limit, next, len, bytes, budget);
                        testing::record_crossing(
                            active.test,
                            meta,
                            site,
                            limit == Limit::Bytes,
                            next,
                            what,
                        );
                    }
                }
            }
        }
        let unused = footprint.map_or(0, |fp| fp.unused_bytes());
        if let Some(fp) = footprint {
            let hoarding = unused >= SETTINGS.hoard_bytes()
                && fp.capacity >= fp.len.saturating_mul(SETTINGS.hoard_ratio() as usize);
            if hoarding != active.hoarding.swap(hoarding, Relaxed) && hoarding {
                let site = active.slot.and_then(Slot::site);
                budget::report_hoarding(meta, site, len, fp.capacity, unused, bytes);
            }
        }
        if let Some(slot) = active.slot {
            slot.len.store(len, Relaxed);
            slot.bytes.store(bytes, Relaxed);
            slot.unused.store(unused, Relaxed);
            let over = active.len_level.load(Relaxed) > 0 || active.bytes_level.load(Relaxed) > 0;
            slot.set_flag(FLAG_OVER_BUDGET, over);
        }
    }

    /// Re-evaluates the figures through `&self`, after `DerefMut` access.
    #[cold]
    #[inline(never)]
    fn refresh(&self) {
        let Some(active) = self.state.first() else {
            return;
        };
        if !active.dirty.swap(false, Relaxed) {
            return;
        }
        let footprint = self.inner.footprint();
        self.catch_up(active, footprint);
        self.evaluate(active, footprint);
    }

    /// Re-evaluates the figures and recomputes the window of the fast path; `site` is where
    /// the collection grew, if it did.
    #[cold]
    #[inline(never)]
    fn resync(&mut self, site: Option<&'static Location<'static>>) {
        let footprint = self.inner.footprint();
        let (len, capacity, storage) = footprint.map_or((0, usize::MAX, 0), |fp| {
            (fp.len, fp.capacity, fp.storage_bytes)
        });
        let Some(active) = self.state.first_mut() else {
            return;
        };
        if active.slot.is_none() && (len > 0 || storage > 0) {
            active.slot = registry::register(Registration {
                meta: Self::META,
                scope: active.scope,
                test: active.test,
                now: monotonic_now(),
            });
            if active.scope != 0 {
                scope::registered(active.scope);
            }
        }
        if let (Some(slot), Some(site), true) = (active.slot, site, len > 0) {
            slot.grew_at(site);
        }
        let Some(active) = self.state.first() else {
            return;
        };
        if active.dirty.swap(false, Relaxed) {
            self.catch_up(active, footprint);
        }
        self.evaluate(active, footprint);

        let budget = Self::META.budget;
        let heap = active.elem_heap.load(Relaxed);
        let len_level = active.len_level.load(Relaxed);
        let bytes_level = active.bytes_level.load(Relaxed);
        let Some(active) = self.state.first_mut() else {
            return;
        };
        // Storage grows only when the entries outgrow the capacity; figures republish after
        // a step, and a budget warns past its next threshold.
        // Under a test check, figures are exact.
        let exact = testing::active();
        let len_step = if exact { 1 } else { publish_step(len, 1) };
        active.len_hi = capacity.max(len).min(len.saturating_add(len_step - 1));
        active.len_lo = len.saturating_sub(len_step - 1);
        let heap_step = if exact { 1 } else { publish_step(heap, 64) };
        active.heap_hi = heap.saturating_add(heap_step - 1);
        active.heap_lo = heap.saturating_sub(heap_step - 1);
        if let Some(max) = budget.len {
            active.len_hi = active.len_hi.min(budget::warn_above(max, len_level));
            if len_level > 0 {
                active.len_lo = active.len_lo.max(max + 1);
            }
        }
        if let Some(max) = budget.bytes {
            active.heap_hi = active
                .heap_hi
                .min(budget::warn_above(max, bytes_level).saturating_sub(storage));
            if bytes_level > 0 {
                active.heap_lo = active.heap_lo.max((max + 1).saturating_sub(storage));
            }
        }
    }

    /// Records that `added` bytes of entry heap came in; call after the collection grew.
    ///
    /// For entries that own no heap `added` is a constant 0, and only the length check stays.
    #[inline]
    #[track_caller]
    pub(crate) fn grew(&mut self, added: usize) {
        let Some(active) = self.state.first_mut() else {
            return;
        };
        let len = self.inner.footprint().map_or(0, |fp| fp.len);
        let mut leave = len > active.len_hi;
        if added != 0 {
            let heap = active.elem_heap.get_mut();
            *heap = heap.saturating_add(added);
            leave |= *heap > active.heap_hi;
        }
        if leave {
            self.resync(Some(Location::caller()));
        }
    }

    /// Records that `removed` bytes of entry heap went out; call after the collection shrank.
    #[inline]
    pub(crate) fn shrank(&mut self, removed: usize) {
        let Some(active) = self.state.first_mut() else {
            return;
        };
        let len = self.inner.footprint().map_or(0, |fp| fp.len);
        let mut leave = len < active.len_lo;
        if removed != 0 {
            let heap = active.elem_heap.get_mut();
            *heap = heap.saturating_sub(removed);
            leave |= *heap < active.heap_lo;
        }
        if leave {
            self.resync(None);
        }
    }

    /// Records an in-place change of entry heap, as when a map replaces a value.
    #[inline]
    #[track_caller]
    pub(crate) fn replaced(&mut self, added: usize, removed: usize) {
        if added >= removed {
            self.grew(added - removed);
        } else {
            self.shrank(removed - added);
        }
    }

    /// Re-evaluates after the storage itself changed (`reserve`, `shrink_to_fit`).
    #[inline]
    pub(crate) fn storage_changed(&mut self) {
        if !self.state.is_empty() {
            self.resync(None);
        }
    }

    /// Records that the entries in a draining iterator left with `removed` bytes of heap.
    ///
    /// The collection's length settles when the iterator is dropped, so the window
    /// re-evaluates on the next growth or removal.
    pub(crate) fn drained(&mut self, removed: usize) {
        if let Some(active) = self.state.first_mut() {
            let heap = active.elem_heap.get_mut();
            *heap = heap.saturating_sub(removed);
            active.poison_window();
        }
    }

    /// Records the entry heap a self-evicting collection reports as gone in or out, and
    /// re-evaluates: such a collection's storage changes without its length growing.
    /// `site` is where it grew, if it did.
    pub(crate) fn settle(&mut self, delta: isize, site: Option<&'static Location<'static>>) {
        if let Some(active) = self.state.first_mut() {
            let heap = active.elem_heap.get_mut();
            *heap = heap.saturating_add_signed(delta);
            self.resync(site);
        }
    }

    /// Records that entries may have changed through `&mut`, as `DerefMut` does.
    pub(crate) fn touched(&mut self) {
        if let Some(active) = self.state.first_mut() {
            *active.dirty.get_mut() = true;
            active.poison_window();
        }
    }

    /// Runs `op`, which may call user code (a closure, `Clone`, `Drop`, `Ord`), on the
    /// collection. Should that code panic, the figures are not left wrong: the next access
    /// walks the collection again.
    #[inline]
    pub(crate) fn guarded<R>(&mut self, op: impl FnOnce(&mut C) -> R) -> R {
        let saved = self.state.first_mut().map(|active| {
            let saved = (*active.dirty.get_mut(), *active.dirty_since_walk.get_mut());
            *active.dirty.get_mut() = true;
            *active.dirty_since_walk.get_mut() = NEVER_WALKED;
            active.poison_window();
            saved
        });
        let result = op(&mut self.inner);
        if let (Some(active), Some((dirty, since_walk))) = (self.state.first_mut(), saved) {
            *active.dirty.get_mut() = dirty;
            *active.dirty_since_walk.get_mut() = since_walk;
        }
        result
    }

    /// The collection, for the growth and removal methods that keep the figures themselves.
    #[inline]
    pub(crate) fn raw(&mut self) -> &mut C {
        &mut self.inner
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> Deref for Tracked<C, O, I> {
    type Target = C;

    #[inline]
    fn deref(&self) -> &C {
        if let Some(active) = self.state.first() {
            if active.dirty.load(Relaxed) {
                self.refresh();
            }
        }
        &self.inner
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> DerefMut for Tracked<C, O, I> {
    /// Hands out the collection; changes made through it are picked up on the next access.
    #[inline]
    fn deref_mut(&mut self) -> &mut C {
        self.touched();
        &mut self.inner
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> AsRef<C> for Tracked<C, O, I> {
    fn as_ref(&self) -> &C {
        self
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> AsMut<C> for Tracked<C, O, I> {
    fn as_mut(&mut self) -> &mut C {
        self
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> Borrow<C> for Tracked<C, O, I> {
    fn borrow(&self) -> &C {
        self
    }
}

impl<C, O: TrackedStruct, const I: usize> From<C> for Tracked<C, O, I> {
    fn from(inner: C) -> Self {
        Self::unwalked(inner)
    }
}

impl<C: FromMeta, O: TrackedStruct, const I: usize> Default for Tracked<C, O, I> {
    /// An empty collection; for a `#[scoped_cache]` field, one with the field's bounds.
    fn default() -> Self {
        Self::empty(C::from_meta(&O::FIELDS[I]))
    }
}

impl<C: Clone, O: TrackedStruct, const I: usize> Clone for Tracked<C, O, I> {
    /// Clones the collection; the clone is tracked on its own.
    fn clone(&self) -> Self {
        Self::unwalked(self.inner.clone())
    }
}

impl<C: fmt::Debug, O, const I: usize> fmt::Debug for Tracked<C, O, I> {
    /// Formats exactly as the collection does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<C: fmt::Display, O, const I: usize> fmt::Display for Tracked<C, O, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<C, D, O, P, const I: usize, const J: usize> PartialEq<Tracked<D, P, J>> for Tracked<C, O, I>
where
    C: PartialEq<D>,
{
    fn eq(&self, other: &Tracked<D, P, J>) -> bool {
        self.inner == other.inner
    }
}

impl<C: Eq, O, const I: usize> Eq for Tracked<C, O, I> {}

impl<C, D, O, P, const I: usize, const J: usize> PartialOrd<Tracked<D, P, J>> for Tracked<C, O, I>
where
    C: PartialOrd<D>,
{
    fn partial_cmp(&self, other: &Tracked<D, P, J>) -> Option<Ordering> {
        self.inner.partial_cmp(&other.inner)
    }
}

impl<C: Ord, O, const I: usize> Ord for Tracked<C, O, I> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.inner.cmp(&other.inner)
    }
}

impl<C: Hash, O, const I: usize> Hash for Tracked<C, O, I> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl<C: HeapSize, O, const I: usize> HeapSize for Tracked<C, O, I> {
    fn heap_size(&self) -> usize {
        self.inner.heap_size()
    }

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.inner.heap_size_in(m)
    }

    fn footprint(&self) -> Option<Footprint> {
        self.inner.footprint()
    }
}

impl<C: IntoIterator, O, const I: usize> IntoIterator for Tracked<C, O, I> {
    type Item = C::Item;
    type IntoIter = C::IntoIter;

    fn into_iter(self) -> C::IntoIter {
        self.inner.into_iter()
    }
}

impl<'a, C: HeapSize, O: TrackedStruct, const I: usize> IntoIterator for &'a Tracked<C, O, I>
where
    &'a C: IntoIterator,
{
    type Item = <&'a C as IntoIterator>::Item;
    type IntoIter = <&'a C as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

impl<'a, C: HeapSize, O: TrackedStruct, const I: usize> IntoIterator for &'a mut Tracked<C, O, I>
where
    &'a mut C: IntoIterator,
{
    type Item = <&'a mut C as IntoIterator>::Item;
    type IntoIter = <&'a mut C as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

impl<C: FromIterator<A>, A, O: TrackedStruct, const I: usize> FromIterator<A> for Tracked<C, O, I> {
    fn from_iter<T: IntoIterator<Item = A>>(iter: T) -> Self {
        Self::unwalked(C::from_iter(iter))
    }
}

#[cfg(feature = "serde")]
impl<C: serde::Serialize, O, const I: usize> serde::Serialize for Tracked<C, O, I> {
    /// Serializes exactly as the collection does.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de, C: serde::Deserialize<'de>, O: TrackedStruct, const I: usize> serde::Deserialize<'de>
    for Tracked<C, O, I>
{
    /// Deserializes the collection and tracks it.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        C::deserialize(deserializer).map(Self::unwalked)
    }
}
