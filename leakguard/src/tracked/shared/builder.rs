//! The builder of [`SharedCache`]s, and the descriptions it names them with.

use std::hash::{BuildHasher, Hash};
use std::panic::Location;
use std::time::Duration;

use super::SharedCache;
use crate::cache::check_settings;
use crate::clock::{Clock, nanos};
use crate::error::ConfigError;
use crate::heap_size::HeapSize;
use crate::meta::{self, FieldMeta};

/// Builds a [`SharedCache`]; see [`SharedCache::builder`].
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct SharedCacheBuilder {
    /// The description, or why the name cannot be one: `build` returns the error.
    name: Option<Result<&'static FieldMeta, ConfigError>>,
    max: Option<usize>,
    max_bytes: Option<usize>,
    ttl: Option<Duration>,
    clock: Option<Clock>,
}

impl SharedCacheBuilder {
    /// The name reports and events show the cache under, created here; `SharedCache`
    /// without one. Each distinct name and call site is described once for the life of the
    /// process, so names are meant to come from code, not from data. An empty name makes
    /// `build` return [`ConfigError::Invalid`] for the setting `name`.
    #[track_caller]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(meta::named(name, Location::caller()));
        self
    }

    /// Bounds the number of entries. At least 1.
    pub fn max(mut self, max: usize) -> Self {
        self.max = Some(max);
        self
    }

    /// Bounds the bytes of the entries, keys and values, inline and on the heap. At
    /// least 1.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// Expires entries this long after they were written. Longer than zero.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Takes time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Builds the cache, hashing with [`DefaultHashBuilder`](crate::DefaultHashBuilder).
    pub fn build<K, V>(self) -> Result<SharedCache<K, V>, ConfigError>
    where
        K: Eq + Hash + Clone + HeapSize,
        V: Clone + HeapSize,
    {
        self.build_with_hasher()
    }

    /// Builds the cache, hashing with `S`.
    pub fn build_with_hasher<K, V, S>(self) -> Result<SharedCache<K, V, S>, ConfigError>
    where
        K: Eq + Hash + Clone + HeapSize,
        V: Clone + HeapSize,
        S: BuildHasher + Clone + Default,
    {
        let meta = self.name.transpose()?.unwrap_or_else(unnamed_meta);
        check_settings(self.max, self.max_bytes, self.ttl)?;
        if self.max.is_none() && self.max_bytes.is_none() {
            return Err(ConfigError::Invalid {
                setting: "max, max_bytes",
                requirement: "set: a shared cache needs a bound in entries, in bytes, or both",
            });
        }
        Ok(SharedCache::new(
            self.max.unwrap_or(0),
            self.max_bytes.unwrap_or(0),
            self.ttl.map_or(0, nanos),
            self.clock.unwrap_or_else(Clock::current),
            meta,
        ))
    }
}

/// The description of the caches built without a name.
fn unnamed_meta() -> &'static FieldMeta {
    static META: FieldMeta =
        FieldMeta::new("SharedCache", "SharedCache", "", "leakguard", ("", 0, 0));
    &META
}
