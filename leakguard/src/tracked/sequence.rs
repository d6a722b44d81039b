//! Growth and removal methods of tracked sequences: `Vec`, `VecDeque`, `BinaryHeap` and
//! `LinkedList`.
//!
//! Each method has the signature of the collection's own and keeps the figures current in
//! O(1) beyond the work the collection does anyway: entries coming in are measured on the
//! way in, entries going out on the way out.

use std::collections::{BinaryHeap, LinkedList, VecDeque};
use std::ops::RangeBounds;

use leakguard_macros::__field_methods;

use super::Tracked;
use super::accounted::{Accounted, kept, resolve, storage_methods};
use crate::heap_size::{HeapSize, HeapUsage, running_heap, running_heap_of};

#[__field_methods]
impl<T: HeapSize> Accounted<Vec<T>> {
    storage_methods!();

    /// Reserves room for exactly `additional` more entries.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.raw().reserve_exact(additional);
        self.storage_changed();
    }

    /// The element at `index`, through `&mut`; see [`slice::get_mut`]. The next access to
    /// the field measures that element again, and that element alone. Takes an index, not a
    /// range: for a range, `field.get_mut(a..b)` is `(*field).get_mut(a..b)`, measured in
    /// full at the next access.
    #[inline]
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.part_mut(|c| c.get_mut(index))
    }

    /// The first element, through `&mut`; see [`slice::first_mut`]. The next access to the
    /// field measures that element again, and that element alone.
    #[inline]
    pub fn first_mut(&mut self) -> Option<&mut T> {
        self.part_mut(|c| c.first_mut())
    }

    /// The last element, through `&mut`; see [`slice::last_mut`]. The next access to the
    /// field measures that element again, and that element alone.
    #[inline]
    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.part_mut(|c| c.last_mut())
    }

    /// Appends an element; see [`Vec::push`].
    #[inline]
    #[track_caller]
    pub fn push(&mut self, value: T) {
        let added = running_heap(&value);
        self.raw().push(value);
        self.grew(added);
    }

    /// Inserts an element at `index`; see [`Vec::insert`].
    #[track_caller]
    pub fn insert(&mut self, index: usize, element: T) {
        let added = running_heap(&element);
        self.raw().insert(index, element);
        self.grew(added);
    }

    /// Moves all elements of `other` to the end; see [`Vec::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut Vec<T>) {
        let added = running_heap_of(other.iter());
        self.raw().append(other);
        self.grew(added);
    }

    /// Clones and appends all elements of `other`; see [`Vec::extend_from_slice`].
    #[track_caller]
    pub fn extend_from_slice(&mut self, other: &[T])
    where
        T: Clone,
    {
        let start = self.len();
        self.guarded(|c| c.extend_from_slice(other));
        let added = running_heap_of(&self.raw()[start..]);
        self.grew(added);
    }

    /// Resizes in place to `new_len`, cloning `value` into new slots; see [`Vec::resize`].
    #[track_caller]
    pub fn resize(&mut self, new_len: usize, value: T)
    where
        T: Clone,
    {
        let len = self.len();
        if new_len <= len {
            self.truncate(new_len);
            return;
        }
        self.guarded(|c| c.resize(new_len, value));
        let added = running_heap_of(&self.raw()[len..]);
        self.grew(added);
    }

    /// Removes and returns the last element; see [`Vec::pop`].
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let value = self.raw().pop()?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the element at `index`, shifting the rest; see [`Vec::remove`].
    #[track_caller]
    pub fn remove(&mut self, index: usize) -> T {
        let value = self.raw().remove(index);
        self.shrank(running_heap(&value));
        value
    }

    /// Removes the element at `index`, replacing it with the last; see [`Vec::swap_remove`].
    #[track_caller]
    pub fn swap_remove(&mut self, index: usize) -> T {
        let value = self.raw().swap_remove(index);
        self.shrank(running_heap(&value));
        value
    }

    /// Keeps the first `len` elements, dropping the rest; see [`Vec::truncate`].
    pub fn truncate(&mut self, len: usize) {
        let removed = running_heap_of(self.raw().get(len..).unwrap_or_default());
        self.guarded(|c| c.truncate(len));
        self.shrank(removed);
    }

    /// Removes all elements, keeping the storage; see [`Vec::clear`].
    pub fn clear(&mut self) {
        self.guarded(|c| c.clear());
        self.emptied();
    }

    /// Keeps the elements for which `f` returns `true`; see [`Vec::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = HeapUsage::default();
        self.guarded(|c| c.retain(|e| kept(f(e), || running_heap(e), &mut removed)));
        self.shrank(removed);
    }

    /// Keeps the elements for which `f` returns `true`; see [`Vec::retain_mut`].
    pub fn retain_mut<F: FnMut(&mut T) -> bool>(&mut self, mut f: F) {
        let mut removed = HeapUsage::default();
        self.guarded(|c| c.retain_mut(|e| kept(f(e), || running_heap(e), &mut removed)));
        self.shrank(removed);
        // Kept elements may have changed through `&mut`.
        self.touched();
    }

    /// Removes the elements in `range`, returning them; see [`Vec::drain`].
    #[track_caller]
    pub fn drain<R: RangeBounds<usize>>(&mut self, range: R) -> std::vec::Drain<'_, T> {
        if let Some((start, end)) = resolve(&range, self.len()) {
            let removed = running_heap_of(&self.raw()[start..end]);
            // The drained elements leave now; the iterator only hands them over.
            self.drained(removed);
        }
        self.raw().drain(range)
    }

    /// Splits off the elements from `at` on; see [`Vec::split_off`].
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> Vec<T> {
        let tail = self.raw().split_off(at);
        self.shrank(running_heap_of(&tail));
        tail
    }
}

#[__field_methods]
impl<T: HeapSize> Extend<T> for Accounted<Vec<T>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        let mut added = HeapUsage::default();
        self.raw()
            .extend(iter.into_iter().inspect(|e| added += running_heap(e)));
        self.grew(added);
    }
}

#[__field_methods]
impl<'a, T: HeapSize + Copy + 'a> Extend<&'a T> for Accounted<Vec<T>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a T>>(&mut self, iter: It) {
        self.extend(iter.into_iter().copied());
    }
}

#[__field_methods]
impl<T: HeapSize> Accounted<VecDeque<T>> {
    storage_methods!();

    /// The element at `index`, through `&mut`; see [`VecDeque::get_mut`]. The next access
    /// to the field measures that element again, and that element alone.
    #[inline]
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.part_mut(|c| c.get_mut(index))
    }

    /// The first element, through `&mut`; see [`VecDeque::front_mut`]. The next access to
    /// the field measures that element again, and that element alone.
    #[inline]
    pub fn front_mut(&mut self) -> Option<&mut T> {
        self.part_mut(|c| c.front_mut())
    }

    /// The last element, through `&mut`; see [`VecDeque::back_mut`]. The next access to the
    /// field measures that element again, and that element alone.
    #[inline]
    pub fn back_mut(&mut self) -> Option<&mut T> {
        self.part_mut(|c| c.back_mut())
    }

    /// Appends an element to the back; see [`VecDeque::push_back`].
    #[inline]
    #[track_caller]
    pub fn push_back(&mut self, value: T) {
        let added = running_heap(&value);
        self.raw().push_back(value);
        self.grew(added);
    }

    /// Prepends an element to the front; see [`VecDeque::push_front`].
    #[inline]
    #[track_caller]
    pub fn push_front(&mut self, value: T) {
        let added = running_heap(&value);
        self.raw().push_front(value);
        self.grew(added);
    }

    /// Inserts an element at `index`; see [`VecDeque::insert`].
    #[track_caller]
    pub fn insert(&mut self, index: usize, value: T) {
        let added = running_heap(&value);
        self.raw().insert(index, value);
        self.grew(added);
    }

    /// Moves all elements of `other` to the back; see [`VecDeque::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut VecDeque<T>) {
        let added = running_heap_of(other.iter());
        self.raw().append(other);
        self.grew(added);
    }

    /// Resizes in place to `new_len`, cloning `value` into new slots; see [`VecDeque::resize`].
    #[track_caller]
    pub fn resize(&mut self, new_len: usize, value: T)
    where
        T: Clone,
    {
        let len = self.len();
        if new_len <= len {
            self.truncate(new_len);
            return;
        }
        self.guarded(|c| c.resize(new_len, value));
        let added = running_heap_of(self.raw().range(len..));
        self.grew(added);
    }

    /// Removes and returns the back element; see [`VecDeque::pop_back`].
    #[inline]
    pub fn pop_back(&mut self) -> Option<T> {
        let value = self.raw().pop_back()?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the front element; see [`VecDeque::pop_front`].
    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        let value = self.raw().pop_front()?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the element at `index`; see [`VecDeque::remove`].
    pub fn remove(&mut self, index: usize) -> Option<T> {
        let value = self.raw().remove(index)?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes the element at `index`, replacing it with the back; see
    /// [`VecDeque::swap_remove_back`].
    pub fn swap_remove_back(&mut self, index: usize) -> Option<T> {
        let value = self.raw().swap_remove_back(index)?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes the element at `index`, replacing it with the front; see
    /// [`VecDeque::swap_remove_front`].
    pub fn swap_remove_front(&mut self, index: usize) -> Option<T> {
        let value = self.raw().swap_remove_front(index)?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Keeps the first `len` elements; see [`VecDeque::truncate`].
    pub fn truncate(&mut self, len: usize) {
        let start = len.min(self.len());
        let removed = running_heap_of(self.raw().range(start..));
        self.guarded(|c| c.truncate(len));
        self.shrank(removed);
    }

    /// Removes all elements, keeping the storage; see [`VecDeque::clear`].
    pub fn clear(&mut self) {
        self.guarded(|c| c.clear());
        self.emptied();
    }

    /// Keeps the elements for which `f` returns `true`; see [`VecDeque::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = HeapUsage::default();
        self.guarded(|c| c.retain(|e| kept(f(e), || running_heap(e), &mut removed)));
        self.shrank(removed);
    }

    /// Removes the elements in `range`, returning them; see [`VecDeque::drain`].
    #[track_caller]
    pub fn drain<R: RangeBounds<usize>>(
        &mut self,
        range: R,
    ) -> std::collections::vec_deque::Drain<'_, T> {
        if let Some((start, end)) = resolve(&range, self.len()) {
            let removed = running_heap_of(self.raw().range(start..end));
            self.drained(removed);
        }
        self.raw().drain(range)
    }

    /// Splits off the elements from `at` on; see [`VecDeque::split_off`].
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> VecDeque<T> {
        let tail = self.raw().split_off(at);
        self.shrank(running_heap_of(&tail));
        tail
    }
}

#[__field_methods]
impl<T: HeapSize> Extend<T> for Accounted<VecDeque<T>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        let mut added = HeapUsage::default();
        self.raw()
            .extend(iter.into_iter().inspect(|e| added += running_heap(e)));
        self.grew(added);
    }
}

#[__field_methods]
impl<T: Ord + HeapSize> Accounted<BinaryHeap<T>> {
    storage_methods!();

    /// Pushes a value onto the heap; see [`BinaryHeap::push`].
    #[track_caller]
    pub fn push(&mut self, item: T) {
        let added = running_heap(&item);
        self.guarded(|c| c.push(item));
        self.grew(added);
    }

    /// Removes and returns the greatest value; see [`BinaryHeap::pop`].
    pub fn pop(&mut self) -> Option<T> {
        let value = self.guarded(|c| c.pop())?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Moves all values of `other` in; see [`BinaryHeap::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut BinaryHeap<T>) {
        let added = running_heap_of(other.iter());
        self.guarded(|c| c.append(other));
        self.grew(added);
    }

    /// Keeps the values for which `f` returns `true`; see [`BinaryHeap::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = HeapUsage::default();
        self.guarded(|c| c.retain(|v| kept(f(v), || running_heap(v), &mut removed)));
        self.shrank(removed);
    }

    /// Removes all values, keeping the storage; see [`BinaryHeap::clear`].
    pub fn clear(&mut self) {
        self.guarded(|c| c.clear());
        self.emptied();
    }

    /// Removes all values, returning them; see [`BinaryHeap::drain`].
    pub fn drain(&mut self) -> std::collections::binary_heap::Drain<'_, T> {
        let removed = running_heap_of(self.raw().iter());
        self.drained(removed);
        self.raw().drain()
    }
}

#[__field_methods]
impl<T: Ord + HeapSize> Extend<T> for Accounted<BinaryHeap<T>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        let mut added = HeapUsage::default();
        self.raw()
            .extend(iter.into_iter().inspect(|e| added += running_heap(e)));
        self.grew(added);
    }
}

#[__field_methods]
impl<T: HeapSize> Accounted<LinkedList<T>> {
    /// Appends an element to the back; see [`LinkedList::push_back`].
    #[track_caller]
    pub fn push_back(&mut self, elt: T) {
        let added = running_heap(&elt);
        self.raw().push_back(elt);
        self.grew(added);
    }

    /// Prepends an element to the front; see [`LinkedList::push_front`].
    #[track_caller]
    pub fn push_front(&mut self, elt: T) {
        let added = running_heap(&elt);
        self.raw().push_front(elt);
        self.grew(added);
    }

    /// Removes and returns the back element; see [`LinkedList::pop_back`].
    pub fn pop_back(&mut self) -> Option<T> {
        let value = self.raw().pop_back()?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the front element; see [`LinkedList::pop_front`].
    pub fn pop_front(&mut self) -> Option<T> {
        let value = self.raw().pop_front()?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Moves all elements of `other` to the back; see [`LinkedList::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut LinkedList<T>) {
        let added = running_heap_of(other.iter());
        self.raw().append(other);
        self.grew(added);
    }

    /// Removes all elements; see [`LinkedList::clear`].
    pub fn clear(&mut self) {
        self.guarded(|c| c.clear());
        self.emptied();
    }

    /// Splits off the elements from `at` on; see [`LinkedList::split_off`].
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> LinkedList<T> {
        let tail = self.raw().split_off(at);
        self.shrank(running_heap_of(&tail));
        tail
    }
}

#[__field_methods]
impl<T: HeapSize> Extend<T> for Accounted<LinkedList<T>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.push_back(value);
        }
    }
}

/// An index of a tracked `Vec`: a position, whose element written through `&mut` is
/// measured again, alone, at the field's next access, or a range, whose elements all are.
/// Implemented by leakguard alone, for `usize` and the ranges of `usize`.
pub trait Position<T>: std::slice::SliceIndex<[T]> {
    #[doc(hidden)]
    fn index_mut_in<O, const I: usize>(self, vec: &mut Tracked<Vec<T>, O, I>) -> &mut Self::Output;
}

impl<T: HeapSize> Position<T> for usize {
    #[inline]
    #[track_caller]
    fn index_mut_in<O, const I: usize>(self, vec: &mut Tracked<Vec<T>, O, I>) -> &mut T {
        let len = vec.len();
        match vec.get_mut(self) {
            Some(element) => element,
            None => out_of_bounds(len, self),
        }
    }
}

macro_rules! ranges {
    ($($range:ty),*) => {$(
        impl<T: HeapSize> Position<T> for $range {
            #[inline]
            #[track_caller]
            fn index_mut_in<O, const I: usize>(self, vec: &mut Tracked<Vec<T>, O, I>) -> &mut [T] {
                &mut (**vec)[self]
            }
        }
    )*};
}

ranges!(
    std::ops::Range<usize>,
    std::ops::RangeFrom<usize>,
    std::ops::RangeTo<usize>,
    std::ops::RangeFull,
    std::ops::RangeInclusive<usize>,
    std::ops::RangeToInclusive<usize>,
    (std::ops::Bound<usize>, std::ops::Bound<usize>)
);

impl<T: HeapSize, X: std::slice::SliceIndex<[T]>, O, const I: usize> std::ops::Index<X>
    for Tracked<Vec<T>, O, I>
{
    type Output = X::Output;

    #[inline]
    #[track_caller]
    fn index(&self, index: X) -> &X::Output {
        &(**self)[index]
    }
}

impl<T: HeapSize, X: Position<T>, O, const I: usize> std::ops::IndexMut<X>
    for Tracked<Vec<T>, O, I>
{
    /// `field[i] = ..`: the element is measured again, alone, at the field's next access;
    /// `field[a..b]`: the elements of the range are, with the rest, in a walk.
    #[inline]
    #[track_caller]
    fn index_mut(&mut self, index: X) -> &mut X::Output {
        index.index_mut_in(self)
    }
}

impl<T: HeapSize, O, const I: usize> std::ops::Index<usize> for Tracked<VecDeque<T>, O, I> {
    type Output = T;

    #[inline]
    #[track_caller]
    fn index(&self, index: usize) -> &T {
        &(**self)[index]
    }
}

impl<T: HeapSize, O, const I: usize> std::ops::IndexMut<usize> for Tracked<VecDeque<T>, O, I> {
    /// `field[i] = ..`: the element is measured again, alone, at the field's next access.
    #[inline]
    #[track_caller]
    fn index_mut(&mut self, index: usize) -> &mut T {
        let len = self.len();
        match self.get_mut(index) {
            Some(element) => element,
            None => out_of_bounds(len, index),
        }
    }
}

#[cold]
#[track_caller]
fn out_of_bounds(len: usize, index: usize) -> ! {
    panic!("index out of bounds: the len is {len} but the index is {index}")
}
