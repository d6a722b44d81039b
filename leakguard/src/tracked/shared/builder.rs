//! The builder of [`SharedCache`]s, and the descriptions it names them with.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use std::time::Duration;

use super::SharedCache;
use crate::clock::{Clock, nanos};
use crate::error::ConfigError;
use crate::heap_size::HeapSize;
use crate::meta::FieldMeta;
use crate::sync::lock;

/// Builds a [`SharedCache`]; see [`SharedCache::builder`].
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct SharedCacheBuilder {
    name: Option<Cow<'static, str>>,
    max: Option<usize>,
    max_bytes: Option<usize>,
    ttl: Option<Duration>,
    clock: Option<Clock>,
}

impl SharedCacheBuilder {
    /// The name reports and events show the cache under; `SharedCache` without one.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
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
        if self.max == Some(0) {
            return Err(ConfigError::ZeroMax);
        }
        if self.max_bytes == Some(0) {
            return Err(ConfigError::Invalid {
                setting: "max_bytes",
                requirement: "at least 1",
            });
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTtl);
        }
        if self.max.is_none() && self.max_bytes.is_none() {
            return Err(ConfigError::Invalid {
                setting: "max, max_bytes",
                requirement: "set: a shared cache needs a bound in entries, in bytes, or both",
            });
        }
        let meta = match &self.name {
            Some(name) => named_meta(name),
            None => unnamed_meta(),
        };
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

/// The description of the caches named `name`: one per name for the life of the process.
fn named_meta(name: &str) -> &'static FieldMeta {
    static NAMED: Mutex<Vec<&'static FieldMeta>> = Mutex::new(Vec::new());
    let mut named = lock(&NAMED);
    if let Some(meta) = named.iter().find(|meta| meta.name == name) {
        return meta;
    }
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    let meta: &'static FieldMeta =
        Box::leak(Box::new(FieldMeta::new(name, name, "", "", ("", 0, 0))));
    named.push(meta);
    meta
}
