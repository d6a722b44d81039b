//! Caches built with a name, `ScopedCache::builder().name("tokens")`: bounded like any
//! scoped cache, and reported like a field of a `#[track_growth]` struct.

use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::panic::Location;
use std::time::Duration;

use super::Tracked;
use super::accounted::Accounted;
use crate::cache::{DefaultHashBuilder, ScopedCache, ScopedCacheBuilder, ScopedRing, ScopedSet};
use crate::clock::Clock;
use crate::error::ConfigError;
use crate::heap_size::HeapSize;
use crate::meta::{self, FieldMeta};
use crate::registry::Origin;

/// The owner of a named cache's figures: its description is made when it is built, from
/// the name given to the builder.
#[derive(Debug)]
pub struct Named;

/// A [`ScopedCache`] built with a name: `ScopedCache::builder().name("tokens")`. It is used
/// as the cache itself, and appears in [`report()`](crate::report()) and events under its
/// name.
pub type NamedCache<K, V, S = DefaultHashBuilder> = Tracked<ScopedCache<K, V, S>, Named, 0>;

/// A [`ScopedSet`] built with a name; see [`NamedCache`].
pub type NamedSet<T, S = DefaultHashBuilder> = Tracked<ScopedSet<T, S>, Named, 0>;

/// A [`ScopedRing`] built with a name; see [`NamedCache`].
pub type NamedRing<T> = Tracked<ScopedRing<T>, Named, 0>;

/// Builds a named cache, set or ring; see [`ScopedCacheBuilder::name`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until built"]
pub struct NamedCacheBuilder {
    builder: ScopedCacheBuilder,
    /// The description, or why the name cannot be one: `build` returns the error.
    meta: Result<&'static FieldMeta, ConfigError>,
}

impl ScopedCacheBuilder {
    /// Names the cache: it appears in [`report()`](crate::report()) and in events under
    /// `name`, like a field of a `#[track_growth]` struct, where the builder is called.
    ///
    /// ```
    /// use leakguard::ScopedCache;
    ///
    /// let mut tokens = ScopedCache::builder().name("tokens").max(1_000).build::<String, u64>()?;
    /// tokens.insert("ada".to_string(), 1);
    /// assert_eq!(leakguard::report().group("tokens").unwrap().len, 1);
    /// # Ok::<(), leakguard::ConfigError>(())
    /// ```
    ///
    /// Each distinct name and call site is described once for the life of the process, so
    /// names are meant to come from code, not from data. An empty name makes `build` return
    /// [`ConfigError::Invalid`] for the setting `name`.
    #[track_caller]
    pub fn name(self, name: &str) -> NamedCacheBuilder {
        NamedCacheBuilder {
            builder: self,
            meta: meta::named(name, Location::caller()),
        }
    }
}

impl NamedCacheBuilder {
    /// Bounds the number of entries; see [`ScopedCacheBuilder::max`].
    pub fn max(self, max: usize) -> Self {
        Self {
            builder: self.builder.max(max),
            ..self
        }
    }

    /// Bounds the bytes of the entries; see [`ScopedCacheBuilder::max_bytes`].
    pub fn max_bytes(self, max_bytes: usize) -> Self {
        Self {
            builder: self.builder.max_bytes(max_bytes),
            ..self
        }
    }

    /// Expires entries; see [`ScopedCacheBuilder::ttl`].
    pub fn ttl(self, ttl: Duration) -> Self {
        Self {
            builder: self.builder.ttl(ttl),
            ..self
        }
    }

    /// Takes time from `clock`; see [`ScopedCacheBuilder::clock`].
    pub fn clock(self, clock: impl Into<Clock>) -> Self {
        Self {
            builder: self.builder.clock(clock),
            ..self
        }
    }

    /// Builds a named map hashing with [`DefaultHashBuilder`].
    pub fn build<K, V>(self) -> Result<NamedCache<K, V>, ConfigError>
    where
        K: Eq + Hash + Clone + HeapSize,
        V: HeapSize,
    {
        self.build_with_hasher()
    }

    /// Builds a named map hashing with `S`.
    pub fn build_with_hasher<K, V, S>(self) -> Result<NamedCache<K, V, S>, ConfigError>
    where
        K: Eq + Hash + Clone + HeapSize,
        V: HeapSize,
        S: BuildHasher + Default,
    {
        let meta = self.meta?;
        self.builder
            .build_with_hasher()
            .map(|cache| named(cache, meta))
    }

    /// Builds a named set hashing with [`DefaultHashBuilder`].
    pub fn build_set<T>(self) -> Result<NamedSet<T>, ConfigError>
    where
        T: Eq + Hash + Clone + HeapSize,
    {
        let meta = self.meta?;
        self.builder.build_set().map(|set| named(set, meta))
    }

    /// Builds a named ring.
    pub fn build_ring<T: HeapSize>(self) -> Result<NamedRing<T>, ConfigError> {
        let meta = self.meta?;
        self.builder.build_ring().map(|ring| named(ring, meta))
    }
}

fn named<C: HeapSize>(inner: C, meta: &'static FieldMeta) -> Tracked<C, Named, 0> {
    Tracked {
        accounted: Accounted::constructed(inner, meta, Origin::Unknown),
        owner: PhantomData,
    }
}
