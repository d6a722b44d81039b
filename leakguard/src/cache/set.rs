//! A set bounded like [`ScopedCache`].

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use super::options::ScopedCacheBuilder;
use super::stats::CacheStats;
use super::{DefaultHashBuilder, ScopedCache};
use crate::heap_size::{Footprint, HeapChange, HeapSize, HeapUsage, Measurement};

/// A set bounded in entries, in age, or both; what `#[scoped_cache]` turns a `HashSet` into.
///
/// It has the eviction and expiry of [`ScopedCache`], whose documentation applies.
///
/// ```
/// use std::time::Duration;
/// use leakguard::{ScopedCache, ScopedSet};
///
/// let mut seen: ScopedSet<u64> = ScopedCache::builder().max(1_000).build_set().unwrap();
/// assert!(seen.insert(7));
/// assert!(!seen.insert(7));
/// assert!(seen.contains(&7));
/// ```
pub struct ScopedSet<T, S = DefaultHashBuilder>(ScopedCache<T, (), S>);

impl ScopedSet<()> {
    /// A builder; finish it with [`build_set`](ScopedCacheBuilder::build_set).
    pub fn builder() -> ScopedCacheBuilder {
        ScopedCacheBuilder::default()
    }
}

impl<T, S> ScopedSet<T, S>
where
    T: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    pub(crate) fn from_cache(cache: ScopedCache<T, (), S>) -> Self {
        Self(cache)
    }

    /// The bound on values, if any.
    pub fn max(&self) -> Option<usize> {
        self.0.max()
    }

    /// The bound on the bytes of the values, if any.
    pub fn max_bytes(&self) -> Option<usize> {
        self.0.max_bytes()
    }

    /// How long values live, if they expire.
    pub fn ttl(&self) -> Option<Duration> {
        self.0.ttl()
    }

    /// Values held, including expired ones not yet released.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set holds no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Values held whose TTL is up but whose memory is not yet released.
    pub fn expired_len(&self) -> usize {
        self.0.expired_len()
    }

    /// What the set has done since it was created.
    pub fn stats(&self) -> CacheStats {
        self.0.stats()
    }

    pub(crate) fn take_delta(&mut self) -> HeapChange {
        self.0.take_delta()
    }
}

impl<T, S> ScopedSet<T, S>
where
    T: Eq + Hash + Clone + HeapSize,
    S: BuildHasher + Default,
{
    /// Adds a value, returning whether it was absent (or expired); restarts its TTL.
    pub fn insert(&mut self, value: T) -> bool {
        self.0.insert(value, ()).is_none()
    }

    /// Whether the set holds `value`, live; counted as a use, so that eviction keeps
    /// values that are checked often.
    pub fn contains<Q>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.0.get_shared(value).is_some()
    }

    /// Whether the set holds `value`, live, without counting a use.
    pub fn peek<Q>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.0.contains_key(value)
    }

    /// Removes a value, returning whether it was present and live.
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.0.remove(value).is_some()
    }

    /// Removes every value and releases the storage.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Keeps the live values for which `keep` returns `true`.
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut keep: F) {
        self.0.retain(|value, ()| keep(value));
    }

    /// Releases every expired value now, returning how many there were.
    pub fn purge_expired(&mut self) -> usize {
        self.0.purge_expired()
    }

    /// The live values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.0.keys()
    }
}

impl<T, S> HeapSize for ScopedSet<T, S>
where
    T: Eq + Hash + Clone + HeapSize,
    S: BuildHasher + Default,
{
    fn heap_size(&self) -> usize {
        self.0.heap_size()
    }

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.0.heap_size_in(m)
    }

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.0.heap_usage_in(m)
    }

    fn footprint(&self) -> Option<Footprint> {
        self.0.footprint()
    }

    // A cache keeps its own figures as it changes, through `&self` too.
    const __LEAKGUARD_SHARED_MUT: bool = false;
}

impl<T, S> fmt::Debug for ScopedSet<T, S>
where
    T: Eq + Hash + Clone + HeapSize + fmt::Debug,
    S: BuildHasher + Default,
{
    /// Formats the live values as a set, like `HashSet` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T, S> PartialEq for ScopedSet<T, S>
where
    T: Eq + Hash + Clone + HeapSize,
    S: BuildHasher + Default,
{
    /// Equal when both hold the same live values.
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T, S> Eq for ScopedSet<T, S>
where
    T: Eq + Hash + Clone + HeapSize,
    S: BuildHasher + Default,
{
}
