//! Growth and removal methods of tracked B-tree maps and sets.

use std::collections::{BTreeMap, BTreeSet};

use super::Tracked;
use super::accounted::kept;
use crate::heap_size::{HeapSize, running_heap, running_heap_of};

impl<K: Ord + HeapSize, V: HeapSize, O, const I: usize>
    Tracked<BTreeMap<K, V>, O, I>
{
    /// Inserts a key-value pair, returning the value it replaced; see [`BTreeMap::insert`].
    #[track_caller]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let key_heap = running_heap(&key);
        let value_heap = running_heap(&value);
        match self.accounted.raw().insert(key, value) {
            Some(old) => {
                self.accounted.replaced(value_heap, running_heap(&old));
                Some(old)
            }
            None => {
                self.accounted.grew(key_heap + value_heap);
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
        let (k, v) = self.accounted.raw().remove_entry(key)?;
        self.accounted.shrank(running_heap(&k) + running_heap(&v));
        Some((k, v))
    }

    /// Removes and returns the first entry; see [`BTreeMap::pop_first`].
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        let (k, v) = self.accounted.raw().pop_first()?;
        self.accounted.shrank(running_heap(&k) + running_heap(&v));
        Some((k, v))
    }

    /// Removes and returns the last entry; see [`BTreeMap::pop_last`].
    pub fn pop_last(&mut self) -> Option<(K, V)> {
        let (k, v) = self.accounted.raw().pop_last()?;
        self.accounted.shrank(running_heap(&k) + running_heap(&v));
        Some((k, v))
    }

    /// Moves all entries of `other` in; see [`BTreeMap::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut BTreeMap<K, V>) {
        let added = other
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.accounted.guarded(|c| c.append(other));
        self.accounted.grew(added);
        // Entries that replaced existing keys dropped values the figures still count.
        self.accounted.touched();
    }

    /// Keeps the entries for which `f` returns `true`; see [`BTreeMap::retain`].
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
        self.accounted.guarded(|c| {
            c.retain(|k, v| kept(f(k, v), || running_heap(k) + running_heap(v), &mut removed))
        });
        self.accounted.shrank(removed);
        self.accounted.touched();
    }

    /// Removes all entries; see [`BTreeMap::clear`].
    pub fn clear(&mut self) {
        let removed = self
            .accounted
            .raw()
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.accounted.guarded(|c| c.clear());
        self.accounted.shrank(removed);
    }

    /// Splits off the entries from `key` on; see [`BTreeMap::split_off`].
    pub fn split_off<Q>(&mut self, key: &Q) -> BTreeMap<K, V>
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Ord,
    {
        let tail = self.accounted.raw().split_off(key);
        let removed = tail
            .iter()
            .map(|(k, v)| running_heap(k) + running_heap(v))
            .sum();
        self.accounted.shrank(removed);
        tail
    }
}

impl<K: Ord + HeapSize, V: HeapSize, O, const I: usize> Extend<(K, V)>
    for Tracked<BTreeMap<K, V>, O, I>
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = (K, V)>>(&mut self, iter: It) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<T: Ord + HeapSize, O, const I: usize> Tracked<BTreeSet<T>, O, I> {
    /// Adds a value, returning whether it was new; see [`BTreeSet::insert`].
    #[track_caller]
    pub fn insert(&mut self, value: T) -> bool {
        let added = running_heap(&value);
        let new = self.accounted.raw().insert(value);
        if new {
            self.accounted.grew(added);
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
        let value = self.accounted.raw().take(value)?;
        self.accounted.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the first value; see [`BTreeSet::pop_first`].
    pub fn pop_first(&mut self) -> Option<T> {
        let value = self.accounted.raw().pop_first()?;
        self.accounted.shrank(running_heap(&value));
        Some(value)
    }

    /// Removes and returns the last value; see [`BTreeSet::pop_last`].
    pub fn pop_last(&mut self) -> Option<T> {
        let value = self.accounted.raw().pop_last()?;
        self.accounted.shrank(running_heap(&value));
        Some(value)
    }

    /// Moves all values of `other` in; see [`BTreeSet::append`].
    #[track_caller]
    pub fn append(&mut self, other: &mut BTreeSet<T>) {
        let added = running_heap_of(other.iter());
        self.accounted.guarded(|c| c.append(other));
        self.accounted.grew(added);
        // Values equal to existing ones were dropped, but the figures count them.
        self.accounted.touched();
    }

    /// Keeps the values for which `f` returns `true`; see [`BTreeSet::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        let mut removed = 0;
        self.accounted.guarded(|c| c.retain(|v| kept(f(v), || running_heap(v), &mut removed)));
        self.accounted.shrank(removed);
    }

    /// Removes all values; see [`BTreeSet::clear`].
    pub fn clear(&mut self) {
        let removed = running_heap_of(self.accounted.raw().iter());
        self.accounted.guarded(|c| c.clear());
        self.accounted.shrank(removed);
    }
}

impl<T: Ord + HeapSize, O, const I: usize> Extend<T> for Tracked<BTreeSet<T>, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.insert(value);
        }
    }
}
