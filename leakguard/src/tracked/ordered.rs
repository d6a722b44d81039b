//! Growth and removal methods of tracked B-tree maps and sets.

use std::collections::{BTreeMap, BTreeSet};

use leakguard_macros::__field_methods;

use super::Tracked;
use super::accounted::{Accounted, kept};
use crate::heap_size::{HeapSize, HeapUsage, running_heap, running_heap_of};

#[__field_methods]
impl<K: Ord + HeapSize, V: HeapSize> Accounted<BTreeMap<K, V>> {
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

    /// The value of a key, through `&mut`; see [`BTreeMap::get_mut`]. The next access to
    /// the field measures that value again, and that value alone.
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Ord,
    {
        self.part_mut(|c| c.get_mut(key))
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
        let mut removed = HeapUsage::default();
        self.guarded(|c| {
            c.retain(|k, v| kept(f(k, v), || running_heap(k) + running_heap(v), &mut removed))
        });
        self.shrank(removed);
        self.touched();
    }

    /// Removes all entries; see [`BTreeMap::clear`].
    pub fn clear(&mut self) {
        self.guarded(|c| c.clear());
        self.emptied();
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

#[__field_methods]
impl<K: Ord + HeapSize, V: HeapSize> Extend<(K, V)> for Accounted<BTreeMap<K, V>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = (K, V)>>(&mut self, iter: It) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

#[__field_methods]
impl<T: Ord + HeapSize> Accounted<BTreeSet<T>> {
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
        let mut removed = HeapUsage::default();
        self.guarded(|c| c.retain(|v| kept(f(v), || running_heap(v), &mut removed)));
        self.shrank(removed);
    }

    /// Removes all values; see [`BTreeSet::clear`].
    pub fn clear(&mut self) {
        self.guarded(|c| c.clear());
        self.emptied();
    }
}

#[__field_methods]
impl<T: Ord + HeapSize> Extend<T> for Accounted<BTreeSet<T>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.insert(value);
        }
    }
}
