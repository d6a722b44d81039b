//! `#[scoped_cache(.., shared)]` fields: a [`SharedCache`] named after its field.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use super::SharedCache;
use crate::clock::Clock;
use crate::heap_size::{Footprint, HeapSize, HeapUsage, Measurement};
use crate::meta::{TrackedStruct, registered_meta};

/// A `#[scoped_cache(.., shared)]` field: the [`SharedCache`] it dereferences to, made from
/// the field's bounds and named after it.
pub struct SharedField<K, V, S, O, const I: usize> {
    cache: SharedCache<K, V, S>,
    owner: PhantomData<fn() -> O>,
}

impl<K, V, S, O, const I: usize> std::ops::Deref for SharedField<K, V, S, O, I> {
    type Target = SharedCache<K, V, S>;

    #[inline]
    fn deref(&self) -> &SharedCache<K, V, S> {
        &self.cache
    }
}

impl<K, V, S, O, const I: usize> Default for SharedField<K, V, S, O, I>
where
    K: Eq + Hash + Clone + HeapSize,
    V: Clone + HeapSize,
    S: BuildHasher + Clone + Default,
    O: TrackedStruct,
{
    /// The field's cache, with its bounds.
    fn default() -> Self {
        let meta = registered_meta::<O>(I);
        let (max, ttl) = meta.cache;
        SharedField {
            cache: SharedCache::new(max, meta.cache_bytes, ttl, Clock::current(), meta),
            owner: PhantomData,
        }
    }
}

impl<K, V, S, O, const I: usize> HeapSize for SharedField<K, V, S, O, I>
where
    K: Eq + Hash + Clone + HeapSize,
    V: Clone + HeapSize,
    S: BuildHasher + Clone + Default,
{
    fn heap_size(&self) -> usize {
        self.cache.heap_size()
    }

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.cache.heap_usage_in(m)
    }

    fn footprint(&self) -> Option<Footprint> {
        self.cache.footprint()
    }
}

impl<K, V, S, O, const I: usize> fmt::Debug for SharedField<K, V, S, O, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cache.fmt(f)
    }
}
