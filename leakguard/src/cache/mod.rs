//! Bounded collections: what `#[scoped_cache(max = .., ttl = ..)]` turns a field into.
//!
//! Layered as quick_cache is: the options and what they validate to, the counters, the
//! expiry list, the engine over quick_cache's unsync cache, and the faces built on it (the
//! map and the set); the ring keeps its own `VecDeque`.

mod engine;
mod expiry;
mod map;
mod options;
mod ring;
mod set;
mod stats;

pub use map::{ScopedCache, ValueMut};
pub use options::{MAX_ENTRIES, ScopedCacheBuilder};
pub use quick_cache::DefaultHashBuilder;
pub use ring::ScopedRing;
pub use set::ScopedSet;
pub use stats::CacheStats;

pub(crate) use options::Config;
