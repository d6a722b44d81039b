//! Growth and removal methods of tracked std collections.
//!
//! Each method has the signature of the collection's own and keeps the figures current in
//! O(1) beyond the work the collection does anyway: entries coming in are measured on the
//! way in, entries going out on the way out.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::{AddAssign, Bound, RangeBounds};

use super::{Tracked, kept, running_heap, running_heap_of};
use crate::heap_size::HeapSize;
use crate::meta::TrackedStruct;

/// `range` resolved against `len`, or `None` where the collection itself would panic.
fn resolve(range: &impl RangeBounds<usize>, len: usize) -> Option<(usize, usize)> {
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
macro_rules! storage_methods {
    () => {
        /// Reserves room for at least `additional` more entries.
        pub fn reserve(&mut self, additional: usize) {
            self.raw().reserve(additional);
            self.storage_changed();
        }

        /// Shrinks the storage as close to the length as it can.
        pub fn shrink_to_fit(&mut self) {
            self.raw().shrink_to_fit();
            self.storage_changed();
        }

        /// Shrinks the storage to at least `min_capacity` entries.
        pub fn shrink_to(&mut self, min_capacity: usize) {
            self.raw().shrink_to(min_capacity);
            self.storage_changed();
        }
    };
}

impl<T: HeapSize, O: TrackedStruct, const I: usize> Tracked<Vec<T>, O, I> {
    storage_methods!();

    /// Reserves room for exactly `additional` more entries.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.raw().reserve_exact(additional);
        self.storage_changed();
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
        let removed = running_heap_of(self.raw().iter());
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }

    /// Keeps the elements for which `f` returns `true`; see [`Vec::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
        self.guarded(|c| c.retain(|e| kept(f(e), || running_heap(e), &mut removed)));
        self.shrank(removed);
    }

    /// Keeps the elements for which `f` returns `true`; see [`Vec::retain_mut`].
    pub fn retain_mut<F: FnMut(&mut T) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
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

impl<T: HeapSize, O: TrackedStruct, const I: usize> Extend<T> for Tracked<Vec<T>, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        let mut added = 0;
        self.raw()
            .extend(iter.into_iter().inspect(|e| added += running_heap(e)));
        self.grew(added);
    }
}

impl<'a, T: HeapSize + Copy + 'a, O: TrackedStruct, const I: usize> Extend<&'a T>
    for Tracked<Vec<T>, O, I>
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a T>>(&mut self, iter: It) {
        self.extend(iter.into_iter().copied());
    }
}

impl<T: HeapSize, O: TrackedStruct, const I: usize> Tracked<VecDeque<T>, O, I> {
    storage_methods!();

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
        let removed = running_heap_of(self.raw().iter());
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }

    /// Keeps the elements for which `f` returns `true`; see [`VecDeque::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
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

impl<T: HeapSize, O: TrackedStruct, const I: usize> Extend<T> for Tracked<VecDeque<T>, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        let mut added = 0;
        self.raw()
            .extend(iter.into_iter().inspect(|e| added += running_heap(e)));
        self.grew(added);
    }
}

impl<K, V, S, O, const I: usize> Tracked<HashMap<K, V, S>, O, I>
where
    K: Eq + Hash + HeapSize,
    V: HeapSize,
    S: BuildHasher,
    O: TrackedStruct,
{
    storage_methods!();

    /// Inserts a key-value pair, returning the value it replaced; see [`HashMap::insert`].
    ///
    /// When the key was present the map keeps its old key and drops `k`.
    #[inline]
    #[track_caller]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let key_heap = running_heap(&k);
        let value_heap = running_heap(&v);
        match self.raw().insert(k, v) {
            Some(old) => {
                self.replaced(value_heap, running_heap(&old));
                Some(old)
            }
            None => {
                self.grew(key_heap + value_heap);
                None
            }
        }
    }

    /// Removes a key, returning its value; see [`HashMap::remove`].
    #[inline]
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.remove_entry(k).map(|(_, v)| v)
    }

    /// Removes a key, returning the stored key and value; see [`HashMap::remove_entry`].
    pub fn remove_entry<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let (key, value) = self.raw().remove_entry(k)?;
        self.shrank(running_heap(&key) + running_heap(&value));
        Some((key, value))
    }

    /// Keeps the entries for which `f` returns `true`; see [`HashMap::retain`].
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
        self.guarded(|c| {
            c.retain(|k, v| kept(f(k, v), || running_heap(k) + running_heap(v), &mut removed))
        });
        self.shrank(removed);
        // Kept values may have changed through `&mut`.
        self.touched();
    }

    /// Removes all entries, keeping the storage; see [`HashMap::clear`].
    pub fn clear(&mut self) {
        let removed = self
            .raw()
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }

    /// Removes all entries, returning them; see [`HashMap::drain`].
    pub fn drain(&mut self) -> std::collections::hash_map::Drain<'_, K, V> {
        let removed = self
            .raw()
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.drained(removed);
        self.raw().drain()
    }
}

impl<K, V, S, O, const I: usize> Extend<(K, V)> for Tracked<HashMap<K, V, S>, O, I>
where
    K: Eq + Hash + HeapSize,
    V: HeapSize,
    S: BuildHasher,
    O: TrackedStruct,
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = (K, V)>>(&mut self, iter: It) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K, V, S, O, const I: usize> Extend<(&'a K, &'a V)> for Tracked<HashMap<K, V, S>, O, I>
where
    K: Eq + Hash + HeapSize + Copy + 'a,
    V: HeapSize + Copy + 'a,
    S: BuildHasher,
    O: TrackedStruct,
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: It) {
        self.extend(iter.into_iter().map(|(k, v)| (*k, *v)));
    }
}

impl<T, S, O, const I: usize> Tracked<HashSet<T, S>, O, I>
where
    T: Eq + Hash + HeapSize,
    S: BuildHasher,
    O: TrackedStruct,
{
    storage_methods!();

    /// Adds a value, returning whether it was new; see [`HashSet::insert`].
    #[inline]
    #[track_caller]
    pub fn insert(&mut self, value: T) -> bool {
        let added = running_heap(&value);
        let new = self.raw().insert(value);
        if new {
            self.grew(added);
        }
        new
    }

    /// Adds a value, replacing and returning an equal one; see [`HashSet::replace`].
    #[track_caller]
    pub fn replace(&mut self, value: T) -> Option<T> {
        let added = running_heap(&value);
        match self.raw().replace(value) {
            Some(old) => {
                self.replaced(added, running_heap(&old));
                Some(old)
            }
            None => {
                self.grew(added);
                None
            }
        }
    }

    /// Removes a value, returning whether it was present; see [`HashSet::remove`].
    #[inline]
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.take(value).is_some()
    }

    /// Removes and returns a value; see [`HashSet::take`].
    pub fn take<Q>(&mut self, value: &Q) -> Option<T>
    where
        T: std::borrow::Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let value = self.raw().take(value)?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Keeps the values for which `f` returns `true`; see [`HashSet::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
        self.guarded(|c| c.retain(|v| kept(f(v), || running_heap(v), &mut removed)));
        self.shrank(removed);
    }

    /// Removes all values, keeping the storage; see [`HashSet::clear`].
    pub fn clear(&mut self) {
        let removed = running_heap_of(self.raw().iter());
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }

    /// Removes all values, returning them; see [`HashSet::drain`].
    pub fn drain(&mut self) -> std::collections::hash_set::Drain<'_, T> {
        let removed = running_heap_of(self.raw().iter());
        self.drained(removed);
        self.raw().drain()
    }
}

impl<T, S, O, const I: usize> Extend<T> for Tracked<HashSet<T, S>, O, I>
where
    T: Eq + Hash + HeapSize,
    S: BuildHasher,
    O: TrackedStruct,
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.insert(value);
        }
    }
}

impl<K: Ord + HeapSize, V: HeapSize, O: TrackedStruct, const I: usize>
    Tracked<BTreeMap<K, V>, O, I>
{
    /// Inserts a key-value pair, returning the value it replaced; see [`BTreeMap::insert`].
    #[track_caller]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let key_heap = running_heap(&key);
        let value_heap = running_heap(&value);
        match self.raw().insert(key, value) {
            Some(old) => {
                self.replaced(value_heap, running_heap(&old));
                Some(old)
            }
            None => {
                self.grew(key_heap + value_heap);
                None
            }
        }
    }

    /// Removes a key, returning its value; see [`BTreeMap::remove`].
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Ord,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes a key, returning the stored key and value; see [`BTreeMap::remove_entry`].
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Ord,
    {
        let (k, v) = self.raw().remove_entry(key)?;
        self.shrank(running_heap(&k) + running_heap(&v));
        Some((k, v))
    }

    /// Removes and returns the first entry; see [`BTreeMap::pop_first`].
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        let (k, v) = self.raw().pop_first()?;
        self.shrank(running_heap(&k) + running_heap(&v));
        Some((k, v))
    }

    /// Removes and returns the last entry; see [`BTreeMap::pop_last`].
    pub fn pop_last(&mut self) -> Option<(K, V)> {
        let (k, v) = self.raw().pop_last()?;
        self.shrank(running_heap(&k) + running_heap(&v));
        Some((k, v))
    }

    /// Moves all entries of `other` in; see [`BTreeMap::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut BTreeMap<K, V>) {
        let added = other
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.guarded(|c| c.append(other));
        self.grew(added);
        // Entries that replaced existing keys dropped values the figures still count.
        self.touched();
    }

    /// Keeps the entries for which `f` returns `true`; see [`BTreeMap::retain`].
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
        self.guarded(|c| {
            c.retain(|k, v| kept(f(k, v), || running_heap(k) + running_heap(v), &mut removed))
        });
        self.shrank(removed);
        self.touched();
    }

    /// Removes all entries; see [`BTreeMap::clear`].
    pub fn clear(&mut self) {
        let removed = self
            .raw()
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }

    /// Splits off the entries from `key` on; see [`BTreeMap::split_off`].
    pub fn split_off<Q>(&mut self, key: &Q) -> BTreeMap<K, V>
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Ord,
    {
        let tail = self.raw().split_off(key);
        let removed = tail
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.shrank(removed);
        tail
    }
}

impl<K: Ord + HeapSize, V: HeapSize, O: TrackedStruct, const I: usize> Extend<(K, V)>
    for Tracked<BTreeMap<K, V>, O, I>
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = (K, V)>>(&mut self, iter: It) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<T: Ord + HeapSize, O: TrackedStruct, const I: usize> Tracked<BTreeSet<T>, O, I> {
    /// Adds a value, returning whether it was new; see [`BTreeSet::insert`].
    #[track_caller]
    pub fn insert(&mut self, value: T) -> bool {
        let added = running_heap(&value);
        let new = self.raw().insert(value);
        if new {
            self.grew(added);
        }
        new
    }

    /// Removes a value, returning whether it was present; see [`BTreeSet::remove`].
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: ?Sized + Ord,
    {
        self.take(value).is_some()
    }

    /// Removes and returns a value; see [`BTreeSet::take`].
    pub fn take<Q>(&mut self, value: &Q) -> Option<T>
    where
        T: std::borrow::Borrow<Q>,
        Q: ?Sized + Ord,
    {
        let value = self.raw().take(value)?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the first value; see [`BTreeSet::pop_first`].
    pub fn pop_first(&mut self) -> Option<T> {
        let value = self.raw().pop_first()?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the last value; see [`BTreeSet::pop_last`].
    pub fn pop_last(&mut self) -> Option<T> {
        let value = self.raw().pop_last()?;
        self.shrank(running_heap(&value));
        Some(value)
    }

    /// Moves all values of `other` in; see [`BTreeSet::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut BTreeSet<T>) {
        let added = running_heap_of(other.iter());
        self.guarded(|c| c.append(other));
        self.grew(added);
        // Values equal to existing ones were dropped, but the figures count them.
        self.touched();
    }

    /// Keeps the values for which `f` returns `true`; see [`BTreeSet::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
        self.guarded(|c| c.retain(|v| kept(f(v), || running_heap(v), &mut removed)));
        self.shrank(removed);
    }

    /// Removes all values; see [`BTreeSet::clear`].
    pub fn clear(&mut self) {
        let removed = running_heap_of(self.raw().iter());
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }
}

impl<T: Ord + HeapSize, O: TrackedStruct, const I: usize> Extend<T> for Tracked<BTreeSet<T>, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.insert(value);
        }
    }
}

impl<T: Ord + HeapSize, O: TrackedStruct, const I: usize> Tracked<BinaryHeap<T>, O, I> {
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
        let mut removed = 0;
        self.guarded(|c| c.retain(|v| kept(f(v), || running_heap(v), &mut removed)));
        self.shrank(removed);
    }

    /// Removes all values, keeping the storage; see [`BinaryHeap::clear`].
    pub fn clear(&mut self) {
        let removed = running_heap_of(self.raw().iter());
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }

    /// Removes all values, returning them; see [`BinaryHeap::drain`].
    pub fn drain(&mut self) -> std::collections::binary_heap::Drain<'_, T> {
        let removed = running_heap_of(self.raw().iter());
        self.drained(removed);
        self.raw().drain()
    }
}

impl<T: Ord + HeapSize, O: TrackedStruct, const I: usize> Extend<T>
    for Tracked<BinaryHeap<T>, O, I>
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        let mut added = 0;
        self.raw()
            .extend(iter.into_iter().inspect(|e| added += running_heap(e)));
        self.grew(added);
    }
}

impl<T: HeapSize, O: TrackedStruct, const I: usize> Tracked<LinkedList<T>, O, I> {
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
        let removed = running_heap_of(self.raw().iter());
        self.guarded(|c| c.clear());
        self.shrank(removed);
    }

    /// Splits off the elements from `at` on; see [`LinkedList::split_off`].
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> LinkedList<T> {
        let tail = self.raw().split_off(at);
        self.shrank(running_heap_of(&tail));
        tail
    }
}

impl<T: HeapSize, O: TrackedStruct, const I: usize> Extend<T> for Tracked<LinkedList<T>, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.push_back(value);
        }
    }
}

impl<O: TrackedStruct, const I: usize> Tracked<String, O, I> {
    storage_methods!();

    /// Reserves room for exactly `additional` more bytes.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.raw().reserve_exact(additional);
        self.storage_changed();
    }

    /// Appends a character; see [`String::push`].
    #[inline]
    #[track_caller]
    pub fn push(&mut self, ch: char) {
        self.raw().push(ch);
        self.grew(0);
    }

    /// Appends a string slice; see [`String::push_str`].
    #[inline]
    #[track_caller]
    pub fn push_str(&mut self, string: &str) {
        self.raw().push_str(string);
        self.grew(0);
    }

    /// Inserts a character at byte `idx`; see [`String::insert`].
    #[track_caller]
    pub fn insert(&mut self, idx: usize, ch: char) {
        self.raw().insert(idx, ch);
        self.grew(0);
    }

    /// Inserts a string slice at byte `idx`; see [`String::insert_str`].
    #[track_caller]
    pub fn insert_str(&mut self, idx: usize, string: &str) {
        self.raw().insert_str(idx, string);
        self.grew(0);
    }

    /// Removes and returns the last character; see [`String::pop`].
    pub fn pop(&mut self) -> Option<char> {
        let ch = self.raw().pop()?;
        self.shrank(0);
        Some(ch)
    }

    /// Removes and returns the character at byte `idx`; see [`String::remove`].
    #[track_caller]
    pub fn remove(&mut self, idx: usize) -> char {
        let ch = self.raw().remove(idx);
        self.shrank(0);
        ch
    }

    /// Keeps the first `new_len` bytes; see [`String::truncate`].
    #[track_caller]
    pub fn truncate(&mut self, new_len: usize) {
        self.raw().truncate(new_len);
        self.shrank(0);
    }

    /// Empties the string, keeping the storage; see [`String::clear`].
    pub fn clear(&mut self) {
        self.raw().clear();
        self.shrank(0);
    }

    /// Keeps the characters for which `f` returns `true`; see [`String::retain`].
    pub fn retain<F: FnMut(char) -> bool>(&mut self, f: F) {
        self.guarded(|c| c.retain(f));
        self.shrank(0);
    }

    /// Splits off the bytes from `at` on; see [`String::split_off`].
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> String {
        let tail = self.raw().split_off(at);
        self.shrank(0);
        tail
    }

    /// Removes the bytes in `range`, returning their characters; see [`String::drain`].
    #[track_caller]
    pub fn drain<R: RangeBounds<usize>>(&mut self, range: R) -> std::string::Drain<'_> {
        self.drained(0);
        self.raw().drain(range)
    }
}

impl<'a, O: TrackedStruct, const I: usize> Extend<&'a str> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a str>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(0);
    }
}

impl<O: TrackedStruct, const I: usize> Extend<String> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = String>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(0);
    }
}

impl<O: TrackedStruct, const I: usize> Extend<char> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = char>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(0);
    }
}

impl<'a, O: TrackedStruct, const I: usize> Extend<&'a char> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a char>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(0);
    }
}

impl<O: TrackedStruct, const I: usize> AddAssign<&str> for Tracked<String, O, I> {
    #[track_caller]
    fn add_assign(&mut self, rhs: &str) {
        self.push_str(rhs);
    }
}

impl<O: TrackedStruct, const I: usize> fmt::Write for Tracked<String, O, I> {
    #[track_caller]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }

    #[track_caller]
    fn write_char(&mut self, c: char) -> fmt::Result {
        self.push(c);
        Ok(())
    }
}
