//! The traits of [`ScopedCache`] beyond its own methods: `HeapSize`, `Debug`, `PartialEq`.

use std::fmt;
use std::hash::{BuildHasher, Hash};

use super::ScopedCache;
use super::engine::{Store, with_core};
use super::stored::{Stored, Timed};
use crate::heap_size::layout::{pushed_capacity, slab_slot};
use crate::heap_size::{Footprint, HeapSize, HeapUsage, Measurement};

impl<K, V, S> HeapSize for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize,
    S: BuildHasher + Default,
{
    fn heap_size(&self) -> usize {
        self.heap_size_in(&mut Measurement::new())
    }

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.heap_usage_in(m).bytes
    }

    /// The storage, every entry's heap, and in a TTL cache the key clones of its expiry
    /// list; expired entries still held are included.
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let footprint = self.footprint().unwrap_or_default();
        with_core!(&self.store, core => {
            let entries: HeapUsage = core
                .qc
                .iter()
                .map(|(k, stored)| k.heap_usage_in(m) + stored.value().heap_usage_in(m))
                .sum();
            let keys = core.expiry.as_ref().map(|e| e.keys_heap(m)).unwrap_or_default();
            HeapUsage::of_collection(footprint, entries + keys)
        })
    }

    fn footprint(&self) -> Option<Footprint> {
        with_core!(&self.store, core => Some(Footprint {
            len: core.qc.len(),
            capacity: pushed_capacity(core.slab_len(), slab_slot::<K, Timed<V>>()).max(core.qc.len()),
            storage_bytes: core.storage_bytes(),
        }))
    }

    // A cache keeps its own figures as it changes, through `&self` too.
    const __LEAKGUARD_SHARED_MUT: bool = false;
}

impl<K, V, S> fmt::Debug for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize + fmt::Debug,
    V: HeapSize + fmt::Debug,
    S: BuildHasher + Default,
{
    /// Formats the live entries as a map, like `HashMap` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S> PartialEq for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize + PartialEq,
    S: BuildHasher + Default,
{
    /// Equal when both hold the same live entries, whatever their recency or expiry.
    fn eq(&self, other: &Self) -> bool {
        let mut len = 0;
        let all_found = self.iter().all(|(k, v)| {
            len += 1;
            other.peek(k) == Some(v)
        });
        all_found && other.iter().count() == len
    }
}

impl<K, V, S> Eq for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone + HeapSize,
    V: HeapSize + Eq,
    S: BuildHasher + Default,
{
}
