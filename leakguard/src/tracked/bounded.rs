//! Methods of tracked scoped collections: each operation settles the entry heap the
//! collection reports as gone in or out, evictions and expirations included.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};

use std::panic::Location;

use leakguard_macros::__field_methods;

use super::Tracked;
use super::accounted::Accounted;
use crate::cache::{ScopedCache, ScopedRing, ScopedSet, ValueMut};
use crate::heap_size::{HeapChange, HeapSize};
use crate::meta::TrackedStruct;

/// The bounded collections: each keeps the entry heap that went in or out, evictions and
/// expirations included, until its tracked field settles it.
pub(crate) trait Bounded {
    fn take_delta(&mut self) -> HeapChange;
}

impl<K: Eq + Hash + Clone, V, S: BuildHasher + Default> Bounded for ScopedCache<K, V, S> {
    fn take_delta(&mut self) -> HeapChange {
        ScopedCache::take_delta(self)
    }
}

impl<T: Eq + Hash + Clone, S: BuildHasher + Default> Bounded for ScopedSet<T, S> {
    fn take_delta(&mut self) -> HeapChange {
        ScopedSet::take_delta(self)
    }
}

impl<T> Bounded for ScopedRing<T> {
    fn take_delta(&mut self) -> HeapChange {
        ScopedRing::take_delta(self)
    }
}

// Both methods are private: the crate-private bound is never visible outside.
#[allow(private_bounds)]
impl<C: Bounded + HeapSize> Accounted<C> {
    /// Settles after an operation that may have added entries, which grew the collection
    /// where it was called.
    #[inline]
    #[track_caller]
    fn settle_grown(&mut self) {
        let delta = self.raw().take_delta();
        self.settle(delta, Some(Location::caller()));
    }

    /// Settles after an operation that adds nothing.
    #[inline]
    fn settle_rest(&mut self) {
        let delta = self.raw().take_delta();
        self.settle(delta, None);
    }
}

#[__field_methods]
impl<K, V, S> Accounted<ScopedCache<K, V, S>>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
{
    /// Inserts an entry, evicting one if full; see [`ScopedCache::insert`].
    #[inline]
    #[track_caller]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let replaced = self.raw().insert(key, value);
        self.settle_grown();
        replaced
    }

    /// The live value for `key`, counted as a use; see [`ScopedCache::get`].
    #[inline]
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        // A lookup changes nothing the figures follow unless it first releases expired
        // entries: settling after every one re-evaluated the figures for nothing, most of
        // what a field cost per lookup with instrumentation on (W1's profile).
        if self.collection().is_due() {
            self.raw().prepare();
            self.settle_rest();
        }
        self.raw().lookup(key)
    }

    /// The live value for `key`, mutably; see [`ScopedCache::get_mut`].
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<ValueMut<'_, K, V, S>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.raw().prepare();
        self.settle_rest();
        // The value may change through the guard; the next access re-measures.
        self.touched();
        self.raw().lookup_mut(key)
    }

    /// The live value for `key`, inserting `make()` first; see
    /// [`ScopedCache::get_or_insert_with`].
    #[track_caller]
    pub fn get_or_insert_with<F: FnOnce() -> V>(&mut self, key: K, make: F) -> &V {
        let now = self.raw().ensure(&key, make);
        self.settle_grown();
        self.raw().live(&key, now)
    }

    /// Removes the entry for `key`; see [`ScopedCache::remove`].
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let removed = self.raw().remove(key);
        self.settle_rest();
        removed
    }

    /// Removes every entry; see [`ScopedCache::clear`].
    pub fn clear(&mut self) {
        self.raw().clear();
        self.settle_rest();
    }

    /// Keeps the live entries for which `keep` returns `true`; see [`ScopedCache::retain`].
    pub fn retain<F: FnMut(&K, &V) -> bool>(&mut self, keep: F) {
        self.raw().retain(keep);
        self.settle_rest();
    }

    /// Releases every expired entry now; see [`ScopedCache::purge_expired`].
    pub fn purge_expired(&mut self) -> usize {
        let purged = self.raw().purge_expired();
        self.settle_rest();
        purged
    }
}

#[__field_methods]
impl<K, V, S> Extend<(K, V)> for Accounted<ScopedCache<K, V, S>>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = (K, V)>>(&mut self, iter: It) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K, V, S, O, const I: usize> FromIterator<(K, V)> for Tracked<ScopedCache<K, V, S>, O, I>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
    O: TrackedStruct,
{
    /// The field's cache, filled from `iter` within its bounds.
    fn from_iter<It: IntoIterator<Item = (K, V)>>(iter: It) -> Self {
        let mut cache = Self::default();
        cache.extend(iter);
        cache
    }
}

impl<K, V, S, H, O, const I: usize> From<HashMap<K, V, H>> for Tracked<ScopedCache<K, V, S>, O, I>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
    O: TrackedStruct,
{
    /// The field's cache, filled from `map` within its bounds.
    fn from(map: HashMap<K, V, H>) -> Self {
        map.into_iter().collect()
    }
}

#[__field_methods]
impl<T, S> Accounted<ScopedSet<T, S>>
where
    T: Eq + Hash + Clone + HeapSize,
    S: BuildHasher + Default,
{
    /// Adds a value; see [`ScopedSet::insert`].
    #[track_caller]
    pub fn insert(&mut self, value: T) -> bool {
        let new = self.raw().insert(value);
        self.settle_grown();
        new
    }

    /// Removes a value; see [`ScopedSet::remove`].
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let removed = self.raw().remove(value);
        self.settle_rest();
        removed
    }

    /// Removes every value; see [`ScopedSet::clear`].
    pub fn clear(&mut self) {
        self.raw().clear();
        self.settle_rest();
    }

    /// Keeps the live values for which `keep` returns `true`; see [`ScopedSet::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, keep: F) {
        self.raw().retain(keep);
        self.settle_rest();
    }

    /// Releases every expired value now; see [`ScopedSet::purge_expired`].
    pub fn purge_expired(&mut self) -> usize {
        let purged = self.raw().purge_expired();
        self.settle_rest();
        purged
    }
}

#[__field_methods]
impl<T, S> Extend<T> for Accounted<ScopedSet<T, S>>
where
    T: Eq + Hash + Clone + HeapSize,
    S: BuildHasher + Default,
{
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.insert(value);
        }
    }
}

impl<T, S, H, O, const I: usize> From<HashSet<T, H>> for Tracked<ScopedSet<T, S>, O, I>
where
    T: Eq + Hash + Clone + HeapSize,
    S: BuildHasher + Default,
    O: TrackedStruct,
{
    /// The field's set, filled from `set` within its bounds.
    fn from(set: HashSet<T, H>) -> Self {
        let mut scoped = Self::default();
        scoped.extend(set);
        scoped
    }
}

#[__field_methods]
impl<T: HeapSize> Accounted<ScopedRing<T>> {
    /// Appends an entry, dropping the oldest past `max`; see [`ScopedRing::push`].
    #[track_caller]
    pub fn push(&mut self, value: T) -> Option<T> {
        let dropped = self.raw().push(value);
        self.settle_grown();
        dropped
    }

    /// Same as [`push`](Self::push), under `VecDeque`'s name.
    #[track_caller]
    pub fn push_back(&mut self, value: T) -> Option<T> {
        self.push(value)
    }

    /// Removes the oldest live entry; see [`ScopedRing::pop_front`].
    pub fn pop_front(&mut self) -> Option<T> {
        let item = self.raw().pop_front();
        self.settle_rest();
        item
    }

    /// Removes the newest live entry; see [`ScopedRing::pop_back`].
    pub fn pop_back(&mut self) -> Option<T> {
        let item = self.raw().pop_back();
        self.settle_rest();
        item
    }

    /// Same as [`pop_back`](Self::pop_back), under `Vec`'s name.
    pub fn pop(&mut self) -> Option<T> {
        self.pop_back()
    }

    /// Removes every entry; see [`ScopedRing::clear`].
    pub fn clear(&mut self) {
        self.raw().clear();
        self.settle_rest();
    }

    /// Keeps the live entries for which `keep` returns `true`; see [`ScopedRing::retain`].
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, keep: F) {
        self.raw().retain(keep);
        self.settle_rest();
    }

    /// Releases every expired entry now; see [`ScopedRing::purge_expired`].
    pub fn purge_expired(&mut self) -> usize {
        let purged = self.raw().purge_expired();
        self.settle_rest();
        purged
    }
}

#[__field_methods]
impl<T: HeapSize> Extend<T> for Accounted<ScopedRing<T>> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        for value in iter {
            self.push(value);
        }
    }
}

impl<T: HeapSize, O: TrackedStruct, const I: usize> From<Vec<T>> for Tracked<ScopedRing<T>, O, I> {
    /// The field's ring, filled from `items` in order; past `max` only the newest stay.
    fn from(items: Vec<T>) -> Self {
        let mut ring = Self::default();
        ring.extend(items);
        ring
    }
}

impl<T: HeapSize, O: TrackedStruct, const I: usize> From<VecDeque<T>>
    for Tracked<ScopedRing<T>, O, I>
{
    /// The field's ring, filled from `items` in order; past `max` only the newest stay.
    fn from(items: VecDeque<T>) -> Self {
        let mut ring = Self::default();
        ring.extend(items);
        ring
    }
}
