//! What bounds a scoped cache: its builder, the validated configuration, and the lifetime of
//! its entries.

use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use super::weigh::Weigh;
use super::{ScopedCache, ScopedRing, ScopedSet};
use crate::clock::{Clock, Nanos};
use crate::error::ConfigError;

/// How long entries live and the clock that times them; shared by the map, set and ring.
#[derive(Clone, Debug)]
pub(crate) struct Lifetime {
    /// 0 when entries do not expire.
    ttl: Nanos,
    clock: Clock,
}

impl Lifetime {
    /// Whether entries expire.
    #[inline]
    pub(crate) fn expires(&self) -> bool {
        self.ttl != 0
    }

    /// How long entries live, if they expire.
    pub(crate) fn ttl(&self) -> Option<Duration> {
        self.expires().then(|| Duration::from_nanos(self.ttl))
    }

    /// The time now and the clock's resolution, from one read of the clock; zeros when
    /// entries do not expire.
    #[inline]
    pub(crate) fn now(&self) -> (Nanos, Nanos) {
        if !self.expires() {
            return (0, 0);
        }
        self.clock.now(self.ttl)
    }

    /// When an entry written at `now`, on a clock of resolution `tick`, expires. Never
    /// late: the clock may lag real time by up to one tick.
    #[inline]
    pub(crate) fn deadline(&self, now: Nanos, tick: Nanos) -> Nanos {
        now.saturating_add(self.ttl).saturating_sub(tick)
    }
}

/// Builds a [`ScopedCache`], [`ScopedSet`] or [`ScopedRing`]; see [`ScopedCache::builder`].
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct ScopedCacheBuilder {
    max: Option<usize>,
    max_bytes: Option<usize>,
    ttl: Option<Duration>,
    clock: Option<Clock>,
}

/// The most entries a scoped cache can hold: quick_cache indexes them with 32 bits.
pub const MAX_ENTRIES: usize = u32::MAX as usize - 1;

/// The settings every cache builder takes, each checked on its own: `max` and `max_bytes`
/// at least 1, `ttl` longer than zero. Shared by [`ScopedCacheBuilder`] and
/// `SharedCacheBuilder`, which then check what bounds their cache needs.
pub(crate) fn check_settings(
    max: Option<usize>,
    max_bytes: Option<usize>,
    ttl: Option<Duration>,
) -> Result<(), ConfigError> {
    if max == Some(0) {
        return Err(ConfigError::ZeroMax);
    }
    if max_bytes == Some(0) {
        return Err(ConfigError::Invalid {
            setting: "max_bytes",
            requirement: "at least 1",
        });
    }
    if ttl == Some(Duration::ZERO) {
        return Err(ConfigError::ZeroTtl);
    }
    Ok(())
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// `usize::MAX` when unbounded in entries.
    pub(crate) max: usize,
    /// 0 when unbounded in bytes.
    pub(crate) max_bytes: usize,
    pub(crate) lifetime: Lifetime,
}

impl Config {
    /// The bounds as weights.
    pub(crate) fn weigh(&self) -> Weigh {
        Weigh {
            max: if self.max == usize::MAX {
                0
            } else {
                self.max as u64
            },
            max_bytes: self.max_bytes as u64,
        }
    }
}

impl ScopedCacheBuilder {
    /// Bounds the number of entries; evicts past it. At least 1.
    pub fn max(mut self, max: usize) -> Self {
        self.max = Some(max);
        self
    }

    /// Bounds the bytes of the entries, keys and values, inline and on the heap as
    /// [`HeapSize`](crate::HeapSize) measures them when they go in; evicts past it. At
    /// least 1; a map or a set only. With `max` too, both bounds hold.
    ///
    /// An entry heavier than the whole bound is not kept (it counts as an eviction), except
    /// by `get_or_insert_with`, which keeps it alone, as it must return it, until the next
    /// insert. A value grown in place through `get_mut` is weighed again when the guard
    /// drops, and the next insert evicts to bring the cache back within the bound.
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

    pub(crate) fn config(self) -> Result<Config, ConfigError> {
        // A `max` over the index is never 0: checked first, it reports what it did when it
        // came second, after `max == 0`.
        if self.max.is_some_and(|max| max > MAX_ENTRIES) {
            return Err(ConfigError::MaxTooLarge { most: MAX_ENTRIES });
        }
        check_settings(self.max, self.max_bytes, self.ttl)?;
        if self.max.is_none() && self.max_bytes.is_none() && self.ttl.is_none() {
            return Err(ConfigError::Unbounded);
        }
        Ok(Config {
            max: self.max.unwrap_or(usize::MAX),
            max_bytes: self.max_bytes.unwrap_or(0),
            lifetime: Lifetime {
                ttl: self.ttl.map_or(0, crate::clock::nanos),
                clock: self.clock.unwrap_or_else(Clock::current),
            },
        })
    }

    /// Builds a map hashing with [`DefaultHashBuilder`](super::DefaultHashBuilder).
    pub fn build<K: Eq + Hash + Clone, V>(self) -> Result<ScopedCache<K, V>, ConfigError> {
        self.build_with_hasher()
    }

    /// Builds a map hashing with `S`.
    pub fn build_with_hasher<K, V, S>(self) -> Result<ScopedCache<K, V, S>, ConfigError>
    where
        K: Eq + Hash + Clone,
        S: BuildHasher + Default,
    {
        self.config().map(ScopedCache::with_config)
    }

    /// Builds a set hashing with [`DefaultHashBuilder`](super::DefaultHashBuilder).
    pub fn build_set<T: Eq + Hash + Clone>(self) -> Result<ScopedSet<T>, ConfigError> {
        self.build_set_with_hasher()
    }

    /// Builds a set hashing with `S`.
    pub fn build_set_with_hasher<T, S>(self) -> Result<ScopedSet<T, S>, ConfigError>
    where
        T: Eq + Hash + Clone,
        S: BuildHasher + Default,
    {
        self.build_with_hasher().map(ScopedSet::from_cache)
    }

    /// Builds a ring. A ring is bounded in entries: `max_bytes` is an error.
    pub fn build_ring<T>(self) -> Result<ScopedRing<T>, ConfigError> {
        if self.max_bytes.is_some() {
            return Err(ConfigError::Invalid {
                setting: "max_bytes",
                requirement: "left unset on a ring, which is bounded in entries (`max`)",
            });
        }
        self.config().map(ScopedRing::with_config)
    }
}
