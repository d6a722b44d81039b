//! What a [`SharedCache`] weighs, and how it prints.

use std::fmt;
use std::hash::{BuildHasher, Hash};

use super::SharedCache;
use crate::heap_size::{Footprint, HeapSize, HeapUsage, Measurement};

impl<K, V, S> SharedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: Clone + HeapSize,
    S: BuildHasher + Clone + Default,
{
    /// Bytes of the entries held: keys and values, inline and on the heap, as measured
    /// going in; what `max_bytes` bounds. From running figures; with instrumentation
    /// compiled out, by a pass over the entries.
    ///
    /// It is not what the cache takes from the allocator: the cache's report row, its
    /// `metrics` gauge and its [`HeapSize`] count the store (quick_cache's slots, which hold
    /// the keys and values inline) and what the entries own on the heap, so they read
    /// more. 513 entries of a `String` key and a 100-byte `Vec<u8>`: 80,028 B here, 101,052 B
    /// in the report row, of which 45,648 B are the store, on a 2-core machine.
    pub fn bytes(&self) -> usize {
        if crate::mode::ENABLED {
            return self.counters.bytes();
        }
        self.store.entries_bytes()
    }

    /// What the entries own on the heap: their bytes less what they hold inline, which the
    /// storage counts; and the key clones of their expiry records.
    pub(super) fn entries_heap(&self, len: usize) -> usize {
        let inline = len * (size_of::<K>() + size_of::<V>());
        let clones = self.timelines.get().map_or(0, |t| t.held().1);
        self.bytes().saturating_sub(inline) + clones
    }

    /// Bytes of the store: quick_cache's slots and table, and the expiry lists.
    pub(super) fn storage_bytes(&self) -> usize {
        let lists = self.timelines.get().map_or(0, |t| t.held().0);
        self.store.memory_used() + lists
    }
}

impl<K, V, S> HeapSize for SharedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: Clone + HeapSize,
    S: BuildHasher + Clone + Default,
{
    /// The cache's storage and what its entries own on the heap, as measured going in.
    fn heap_size(&self) -> usize {
        self.storage_bytes() + self.entries_heap(self.store.len())
    }

    /// All of it `nested`: the cache has a row of its own, so the total of a tracked
    /// collection holding it counts these bytes there, not twice.
    fn heap_usage_in(&self, _: &mut Measurement) -> HeapUsage {
        let bytes = self.heap_size();
        HeapUsage {
            nested: if crate::mode::ENABLED { bytes } else { 0 },
            ..HeapUsage::used(bytes)
        }
    }

    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.store.len(),
            capacity: self.capacity,
            storage_bytes: self.storage_bytes(),
        })
    }

    // A cache keeps its own figures as it changes, through `&self` too.
    const __LEAKGUARD_SHARED_MUT: bool = false;
}

impl<K, V, S> fmt::Debug for SharedCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCache")
            .field("max", &self.max)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}
