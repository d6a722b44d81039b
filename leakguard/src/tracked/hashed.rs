//! Growth and removal methods of tracked hash maps and sets, with any hasher: std's, and
//! hashbrown's with the feature `hashbrown`.

/// The methods, written once against the names `HashMap`, `HashSet`, `hash_map` and
/// `hash_set`, for the module that invokes it to bind to std's or hashbrown's.
macro_rules! hashed_methods {
    ($($entry_hasher:ident)?) => {
        use std::hash::{BuildHasher, Hash};

        use leakguard_macros::__field_methods;

        use crate::heap_size::{HeapSize, HeapUsage, running_heap, running_heap_of};
        use crate::tracked::Tracked;
        use crate::tracked::accounted::{Accounted, kept, storage_methods};
        use crate::tracked::entry::{Entry, MapEntry, sealed::Sealed};

        impl<K, V $(, $entry_hasher)?> Sealed for hash_map::Entry<'_, K, V $(, $entry_hasher)?> {}

        impl<'a, K: Eq + Hash + HeapSize + 'a, V: HeapSize + 'a $(, $entry_hasher: BuildHasher)?> MapEntry<'a>
            for hash_map::Entry<'a, K, V $(, $entry_hasher)?>
        {
            type Key = K;
            type Value = V;

            fn key(&self) -> &K {
                self.key()
            }

            fn occupied(self) -> Result<&'a mut V, Self> {
                match self {
                    hash_map::Entry::Occupied(entry) => Ok(entry.into_mut()),
                    vacant => Err(vacant),
                }
            }

            fn fill(self, value: V) -> &'a mut V {
                match self {
                    hash_map::Entry::Vacant(entry) => entry.insert(value),
                    hash_map::Entry::Occupied(entry) => {
                        let slot = entry.into_mut();
                        *slot = value;
                        slot
                    }
                }
            }

            fn modify(self, f: impl FnOnce(&mut V)) -> Self {
                self.and_modify(f)
            }
        }

        #[__field_methods]
        impl<K, V, S> Accounted<HashMap<K, V, S>>
        where
            K: Eq + Hash + HeapSize,
            V: HeapSize,
            S: BuildHasher,
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

            /// The value of a key, through `&mut`; see [`HashMap::get_mut`]. The next access
            /// to the field measures that value again, and that value alone.
            #[inline]
            pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
            where
                K: std::borrow::Borrow<Q>,
                Q: ?Sized + Hash + Eq,
            {
                self.part_mut(|c| c.get_mut(k))
            }

            /// The entry of a key, to fill or change in place; see [`HashMap::entry`]. A
            /// value handed out through `&mut` is measured again, alone, at the field's
            /// next access.
            #[inline]
            #[track_caller]
            pub fn entry(&mut self, key: K) -> Entry<'_, hash_map::Entry<'_, K, V, $($entry_hasher)?>> {
                let (map, accounting, footprint) = self.entry_parts();
                Entry::new(map.entry(key), accounting, footprint, std::panic::Location::caller())
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
                let mut removed = HeapUsage::default();
                self.guarded(|c| {
                    c.retain(|k, v| {
                        kept(f(k, v), || running_heap(k) + running_heap(v), &mut removed)
                    })
                });
                self.shrank(removed);
                // Kept values may have changed through `&mut`.
                self.touched();
            }

            /// Removes all entries, keeping the storage; see [`HashMap::clear`].
            pub fn clear(&mut self) {
                self.guarded(|c| c.clear());
                self.emptied();
            }

            /// Removes all entries, returning them; see [`HashMap::drain`].
            pub fn drain(&mut self) -> hash_map::Drain<'_, K, V> {
                let removed = self
                    .raw()
                    .iter()
                    .map(|(k, v)| running_heap(k) + running_heap(v))
                    .sum();
                self.drained(removed);
                self.raw().drain()
            }
        }

        #[__field_methods]
        impl<K, V, S> Extend<(K, V)> for Accounted<HashMap<K, V, S>>
        where
            K: Eq + Hash + HeapSize,
            V: HeapSize,
            S: BuildHasher,
        {
            #[track_caller]
            fn extend<It: IntoIterator<Item = (K, V)>>(&mut self, iter: It) {
                for (k, v) in iter {
                    self.insert(k, v);
                }
            }
        }

        #[__field_methods]
        impl<'a, K, V, S> Extend<(&'a K, &'a V)> for Accounted<HashMap<K, V, S>>
        where
            K: Eq + Hash + HeapSize + Copy + 'a,
            V: HeapSize + Copy + 'a,
            S: BuildHasher,
        {
            #[track_caller]
            fn extend<It: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: It) {
                self.extend(iter.into_iter().map(|(k, v)| (*k, *v)));
            }
        }

        #[__field_methods]
        impl<T, S> Accounted<HashSet<T, S>>
        where
            T: Eq + Hash + HeapSize,
            S: BuildHasher,
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
                let mut removed = HeapUsage::default();
                self.guarded(|c| c.retain(|v| kept(f(v), || running_heap(v), &mut removed)));
                self.shrank(removed);
            }

            /// Removes all values, keeping the storage; see [`HashSet::clear`].
            pub fn clear(&mut self) {
                self.guarded(|c| c.clear());
                self.emptied();
            }

            /// Removes all values, returning them; see [`HashSet::drain`].
            pub fn drain(&mut self) -> hash_set::Drain<'_, T> {
                let removed = running_heap_of(self.raw().iter());
                self.drained(removed);
                self.raw().drain()
            }
        }

        #[__field_methods]
        impl<T, S> Extend<T> for Accounted<HashSet<T, S>>
        where
            T: Eq + Hash + HeapSize,
            S: BuildHasher,
        {
            #[track_caller]
            fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
                for value in iter {
                    self.insert(value);
                }
            }
        }
    };
}

mod std_tables {
    use std::collections::{HashMap, HashSet, hash_map, hash_set};

    hashed_methods!();
}

#[cfg(feature = "hashbrown")]
mod hashbrown_tables {
    use hashbrown::{HashMap, HashSet, hash_map, hash_set};

    hashed_methods!(S);
}
