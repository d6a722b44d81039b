//! leakguard finds and fixes the slow memory leaks of long-running services.
//!
//! Annotate a struct with [`#[track_growth]`](macro@track_growth) and every collection field
//! in it is accounted for exactly, and warns through [`tracing`] when it outgrows its budget.
//!
//! ```
//! use std::collections::HashMap;
//! use leakguard::track_growth;
//!
//! #[track_growth]
//! #[derive(Debug, Default)]
//! pub struct Inbox {
//!     #[budget(len = 100)]
//!     messages: Vec<String>,
//!     #[budget(bytes = "64 KiB")]
//!     index: HashMap<u64, String>,
//!     #[track(skip)]
//!     scratch: Vec<u8>,
//!     count: u64,
//! }
//!
//! let mut inbox = Inbox::default();
//! for i in 0..101 {
//!     // The 101st push emits one WARN event, target `leakguard`:
//!     // "Inbox.messages over len budget: 101 entries > 100"
//!     inbox.messages.push(format!("message {i}"));
//! }
//! inbox.index.insert(7, "seven".to_string());
//! assert_eq!(inbox.messages.len(), 101);
//! assert_eq!(inbox.index.get(&7).map(String::as_str), Some("seven"));
//! ```
//!
//! # Instrumentation on and off
//!
//! With the default feature `enabled`, instrumentation is on in builds with
//! `debug_assertions` and compiled out of release builds; the feature `release` keeps it on
//! in release builds, and `default-features = false` compiles it out everywhere. [`ENABLED`]
//! says which. Compiled out, a tracked field is exactly as large as the collection it wraps
//! and its methods are the collection's own.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod budget;
mod cache;
mod clock;
mod error;
mod events;
mod heap_size;
mod layer;
mod meta;
mod registry;
mod report;
mod scope;
mod settings;
mod tracked;

pub use budget::Budget;
pub use cache::{
    CacheStats, DefaultHashBuilder, ScopedCache, ScopedCacheBuilder, ScopedRing, ScopedSet,
    ValueMut,
};
pub use clock::{Clock, ClockGuard, ManualClock};
pub use error::ConfigError;
pub use heap_size::{Footprint, HeapSize, Measurement};
pub use layer::{LeakLayer, check_now, layer};
pub use report::{GroupReport, Report, report};
pub use scope::{ScopeGuard, scope};

pub mod testing;
pub use tracked::Tracked;

/// Tracks the collection fields of a struct.
///
/// See the [crate documentation](crate) for what it does and the
/// [README](https://github.com/leakguard/leakguard#readme) for the attribute reference.
pub use leakguard_macros::track_growth;

/// Derives [`HeapSize`](trait@HeapSize) for a struct or enum.
///
/// Every field must implement `HeapSize`, except those marked `#[heap_size(skip)]` (counted
/// as owning nothing) or `#[heap_size(with = path)]` (measured by `path(&field) -> usize`).
/// Type parameters used by measured fields get a `HeapSize` bound.
///
/// ```
/// use leakguard::HeapSize;
///
/// #[derive(HeapSize)]
/// struct Session {
///     user: String,
///     roles: Vec<String>,
///     #[heap_size(skip)]
///     socket: std::net::SocketAddr,
/// }
///
/// let s = Session { user: "ada".into(), roles: vec![], socket: "127.0.0.1:80".parse().unwrap() };
/// assert_eq!(s.heap_size(), 3);
/// ```
pub use leakguard_macros::HeapSize;

/// Whether instrumentation is compiled into this build.
///
/// `true` with the feature `enabled` (a default) in builds with `debug_assertions`, or with
/// the feature `release` in any build. Eviction by [scoped caches](crate) is behaviour, not
/// instrumentation, and does not depend on it.
pub const ENABLED: bool = cfg!(all(
    feature = "enabled",
    any(debug_assertions, feature = "release")
));

/// Not public API: what the macros expand to.
#[doc(hidden)]
pub mod __private {
    pub use crate::cache::{ScopedCache, ScopedRing, ScopedSet};
    pub use crate::heap_size::{HeapSize, Measurement};
    pub use crate::meta::{FieldMeta, FromMeta, TrackedStruct};

    /// One tick of the layer's sampler, without emitting: for leakguard's benchmarks.
    pub fn sample_tick() -> usize {
        crate::layer::sample_tick()
    }

    /// Fault injection for leakguard's reliability tests: poisons every lock leakguard
    /// holds internally, as a panic while holding it would.
    pub fn poison_internal_locks() {
        crate::registry::poison();
        crate::events::poison();
        crate::scope::poison();
        crate::report::poison();
        crate::layer::poison();
        crate::testing::poison();
    }

    /// Poisons `mutex` without running the panic hook.
    pub(crate) fn poison<T>(mutex: &std::sync::Mutex<T>) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = mutex.lock();
            std::panic::resume_unwind(Box::new("leakguard fault injection"));
        }));
    }
    pub use crate::tracked::Tracked;
}
