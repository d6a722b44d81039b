//! What bounds a scoped cache: its builder, the validated configuration, and the lifetime of
//! its entries.

use std::hash::{BuildHasher, Hash};
use std::time::Duration;

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
    ttl: Option<Duration>,
    clock: Option<Clock>,
}

/// The most entries a scoped cache can hold: quick_cache indexes them with 32 bits.
pub const MAX_ENTRIES: usize = u32::MAX as usize - 1;

/// A validated configuration.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// `usize::MAX` when unbounded in entries.
    pub(crate) max: usize,
    pub(crate) lifetime: Lifetime,
}

impl ScopedCacheBuilder {
    /// Bounds the number of entries; evicts past it. At least 1.
    pub fn max(mut self, max: usize) -> Self {
        self.max = Some(max);
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
        if self.max == Some(0) {
            return Err(ConfigError::ZeroMax);
        }
        if self.max.is_some_and(|max| max > MAX_ENTRIES) {
            return Err(ConfigError::MaxTooLarge { most: MAX_ENTRIES });
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTtl);
        }
        if self.max.is_none() && self.ttl.is_none() {
            return Err(ConfigError::Unbounded);
        }
        Ok(Config {
            max: self.max.unwrap_or(usize::MAX),
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

    /// Builds a ring.
    pub fn build_ring<T>(self) -> Result<ScopedRing<T>, ConfigError> {
        self.config().map(ScopedRing::with_config)
    }
}
