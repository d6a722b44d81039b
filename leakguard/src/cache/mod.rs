//! Bounded collections: what `#[scoped_cache(max = .., ttl = ..)]` turns a field into.
//!
//! Layered as quick_cache is: the options and what they validate to, the bounds as weights,
//! the counters, the expiry list, the engine over quick_cache's unsync cache, and the faces
//! built on it (the map, its `get_mut` guard, and the set); the ring keeps its own
//! `VecDeque`.

mod engine;
mod expiry;
mod map;
mod map_traits;
mod options;
mod ring;
mod set;
mod stats;
mod stored;
mod value_mut;
mod weigh;

pub use map::ScopedCache;
pub use options::{MAX_ENTRIES, ScopedCacheBuilder};
pub use quick_cache::DefaultHashBuilder;
pub use ring::ScopedRing;
pub use set::ScopedSet;
pub use stats::CacheStats;
pub use value_mut::ValueMut;

pub(crate) use engine::sweep_budget;
pub(crate) use expiry::{Expiry, Position};
pub(crate) use options::{Config, check_settings};
pub(crate) use weigh::Weigh;
