//! leakguard finds and fixes the slow memory leaks of long-running services: caches with no
//! bound, buffers that only grow, maps that keep their capacity after deletes, and
//! collections that outlive the request or task that owned them.
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
//! A tracked field dereferences to its collection, so code that uses it does not change. Its
//! figures are kept in O(1) per operation and read with the associated functions of
//! [`Tracked`]:
//!
//! ```
//! # use leakguard::{Tracked, track_growth};
//! #[track_growth]
//! #[derive(Default)]
//! struct Log {
//!     lines: Vec<String>,
//! }
//!
//! let mut log = Log::default();
//! log.lines.reserve_exact(4);
//! log.lines.push("started".to_string());
//! // Capacity, not length: 4 slots of 24 bytes, and the 7 bytes of "started".
//! assert_eq!(Tracked::bytes(&log.lines), 4 * 24 + 7);
//! assert_eq!(Tracked::name(&log.lines), "Log.lines");
//! ```
//!
//! # Caches that evict
//!
//! `#[scoped_cache(max = .., ttl = ..)]` turns a map, set or `Vec`/`VecDeque` field into a
//! [`ScopedCache`], [`ScopedSet`] or [`ScopedRing`] that never holds more than `max` entries
//! and drops entries `ttl` after they were written. Eviction is behaviour, not
//! instrumentation: it works in every build.
//!
//! ```
//! use std::collections::HashMap;
//! use leakguard::track_growth;
//!
//! #[track_growth]
//! #[derive(Default)]
//! struct Profiles {
//!     #[scoped_cache(max = 2, ttl = "10m")]
//!     by_user: HashMap<u64, String>,
//! }
//!
//! let mut profiles = Profiles::default();
//! for user in 0..10 {
//!     profiles.by_user.insert(user, format!("user {user}"));
//! }
//! assert_eq!(profiles.by_user.len(), 2);
//! assert_eq!(profiles.by_user.stats().evictions, 8);
//! ```
//!
//! # The layer and scopes
//!
//! [`layer()`] is a `tracing_subscriber` layer that adds the detectors that need a clock:
//! collections declared `scoped` that outlive the span (or [`scope`] guard) they were made
//! in, collections that grow at every sample (a suspected leak), and a periodic
//! [`report()`]. Budget and hoarded-capacity events need no layer.
//!
//! ```
//! use std::time::Duration;
//! use leakguard::track_growth;
//! use tracing_subscriber::prelude::*;
//!
//! #[track_growth(scoped)]
//! #[derive(Default)]
//! struct RequestBuffer {
//!     chunks: Vec<Vec<u8>>,
//! }
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(leakguard::layer().grace_period(Duration::ZERO));
//! tracing::subscriber::with_default(subscriber, || {
//!     let mut kept = Vec::new();
//!     {
//!         let _request = tracing::info_span!("handle_request").entered();
//!         let mut buffer = RequestBuffer::default();
//!         buffer.chunks.push(vec![0; 1024]);
//!         kept.push(buffer); // outlives the request
//!     }
//!     // Emits: "RequestBuffer.chunks outlived its scope `handle_request` by .."
//!     leakguard::check_now();
//!     if leakguard::ENABLED {
//!         let group = leakguard::report().group("RequestBuffer.chunks").cloned();
//!         assert_eq!(group.map(|g| g.outlived), Some(1));
//!     }
//! });
//! ```
//!
//! # Tests
//!
//! [`testing::assert_no_leaks`] and [`testing::assert_no_growth`] fail a test when a
//! collection made in it outlives it, goes over its budget or grows at every iteration.
//! [`testing::check_no_leaks`] and [`testing::check_no_growth`] return what they found
//! instead of panicking.
//!
//! # Instrumentation on and off
//!
//! With the default feature `enabled`, instrumentation is on in builds with
//! `debug_assertions` and compiled out of release builds; the feature `release` keeps it on
//! in release builds, and `default-features = false` compiles it out everywhere. [`ENABLED`]
//! says which. Compiled out, a tracked field is exactly as large as the collection it wraps
//! and its methods are the collection's own; a `#[scoped_cache]` field stays a bounded cache,
//! larger than the map it bounds, as eviction is behaviour. The feature `serde` adds `Serialize` and
//! `Deserialize` for tracked fields and `Serialize` for [`Report`].

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

// Layers, leaves first: each module imports only from the modules listed before it.
mod clock;
mod error;
mod mode;
mod sync;
mod units;

mod accounts;
mod sampling;

mod allocator;

mod settings;

mod heap_size;

mod cache;

mod budget;
mod meta;
mod site;

mod recipient;
mod scope;

mod registry;

mod harness;
mod report;
mod task;

mod publish;

pub mod http;

mod events;

mod tracked;

mod layer;
pub mod testing;

pub use allocator::Alloc;
pub use budget::Budget;
pub use cache::{
    CacheStats, DefaultHashBuilder, MAX_ENTRIES, ScopedCache, ScopedCacheBuilder, ScopedRing,
    ScopedSet, ValueMut,
};
pub use clock::{Clock, ClockGuard, ManualClock};
pub use error::ConfigError;
pub use heap_size::{Footprint, HeapSize, HeapUsage, Measured, Measurement};
pub use layer::{LeakLayer, check_now, layer};
pub use report::{
    GroupDiff, GroupReport, Report, ReportDiff, ScopeHeap, SiteReport, heap_profile,
    heap_sample_rate, report, set_heap_sample_rate,
};
pub use scope::{ScopeGuard, scope};
pub use task::{LeakScoped, ScopeExt, with_current_leak_scope};
pub use tracked::{
    Entry, MapEntry, Named, NamedCache, NamedCacheBuilder, NamedRing, NamedSet, Position,
    SharedCache, SharedCacheBuilder, Tracked,
};

/// Tracks the collection fields of a struct.
///
/// Fields whose type is a std collection (`Vec`, `VecDeque`, `HashMap`, `HashSet`,
/// `BTreeMap`, `BTreeSet`, `BinaryHeap`, `String`, `LinkedList`, with any hasher) become
/// [`Tracked`] collections, which dereference to the collection. Other fields are left as
/// they are. The struct implements [`HeapSize`](trait@HeapSize) as what the allocator sees of
/// it: every field whose type implements `HeapSize`, tracked or not, so tracked structs
/// nest.
///
/// | attribute | on | meaning |
/// |---|---|---|
/// | `#[track_growth(len = N, bytes = "S")]` | struct | default budgets for every tracked field |
/// | `#[track_growth(scoped)]` | struct | every tracked field belongs to the scope it was made in |
/// | `#[budget(len = N, bytes = "S")]` | field | the field's budget: entries, and heap bytes |
/// | `#[track]` | field | track a field of another type that implements `HeapSize` |
/// | `#[track(skip)]` | field | leave a collection untracked |
/// | `#[track(scoped)]` | field | the field belongs to the scope it was made in |
/// | `#[scoped_cache(max = N, ttl = "D")]` | field | make a map, set or `Vec`/`VecDeque` a bounded cache |
/// | `#[scoped_cache(max_bytes = "S")]` | field | bound a map's or a set's entries in bytes (with `max` and `ttl` or alone) |
/// | `#[scoped_cache(.., shared)]` | field | make a map a concurrent [`SharedCache`] |
/// | `#[heap_size(skip)]` | field | leave the field out of the struct's `HeapSize` |
/// | `#[heap_size(with = path)]` | field | count the field as `path(&field) -> usize` |
/// | `#[heap_size(each = path)]` | field | count each element of a `Vec`, `VecDeque`, `BinaryHeap`, `LinkedList`, `HashSet` or `BTreeSet` as `path(&element) -> usize` |
/// | `#[heap_size(key = path, value = path)]` | field | the same for the keys, the values or both of a `HashMap` or `BTreeMap` |
///
/// Sizes take a unit: `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or `KB`, `MB`, `GB`
/// (powers of 1000). Durations are humantime's: `"250ms"`, `"30s"`, `"1h30m"`. Mistakes
/// are compile errors at the offending token, all reported at once.
///
/// A struct literal needs `.into()` on tracked fields (`messages: vec![].into()`), or
/// `..Default::default()`. Derives above the attribute see the struct as written, those
/// below it see the tracked fields; serde's `Deserialize` must come below it.
///
/// **Wrappers.** A collection inside `Arc`, `Rc`, `Box`, `Option`, `Mutex`, `RwLock`,
/// `RefCell`, `LazyLock`, `OnceLock`, `OnceCell` or `LazyCell` (by name, so parking_lot's
/// and tokio's locks too) is tracked through them: `Arc<RwLock<HashMap<K, V>>>` becomes
/// `Arc<RwLock<Tracked<HashMap<K, V>, ..>>>`, and `state.users.write().unwrap().insert(..)`
/// keeps the figures as a plain field does. A struct literal converts the innermost
/// collection: `Arc::new(RwLock::new(HashMap::new().into()))`.
///
/// **Foreign element types.** A collection of a type that has no `HeapSize` (a type of
/// another crate, which the orphan rule keeps you from implementing it for) is tracked with
/// a function that measures one element, without a newtype; a map takes one for its keys,
/// its values or both, and measures the other side by its own `HeapSize`:
///
/// ```
/// use std::collections::HashMap;
/// use leakguard::{HeapSize, Tracked, track_growth};
///
/// /// Stands for a type of another crate, without `HeapSize`.
/// struct Conn(Vec<u8>);
///
/// fn conn_bytes(conn: &Conn) -> usize {
///     conn.0.capacity()
/// }
///
/// #[track_growth]
/// #[derive(Default)]
/// struct Pool {
///     #[heap_size(each = conn_bytes)]
///     idle: Vec<Conn>,
///     #[heap_size(value = conn_bytes)]
///     by_peer: HashMap<String, Conn>,
/// }
///
/// let mut pool = Pool::default();
/// pool.idle.push(Conn(vec![0; 1024]));
/// assert_eq!(Tracked::measure(&mut pool.idle), pool.idle.capacity() * size_of::<Conn>() + 1024);
/// ```
///
/// The field's collection becomes a [`Measured`] one, which dereferences to it: growth
/// goes through the collection's own methods and is picked up on the field's next access,
/// as for changes made through `&mut` (no O(1) running figures). `derive(HeapSize)` takes the
/// same attributes, and so does a `static`, beside `#[track_growth]`.
///
/// **Tuple structs.** A newtype's collection is named after the type (`Tokens`), other
/// fields `Type.0`, `Type.1`.
///
/// **Statics.** On a `static`, the collection inside its wrappers is tracked under the
/// static's name, with the budget of `len`/`bytes`:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{LazyLock, Mutex};
///
/// #[leakguard::track_growth(len = 10_000)]
/// static SESSIONS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Default::default);
///
/// SESSIONS.lock().unwrap().insert("ada".to_string(), 1);
/// assert_eq!(leakguard::report().group("SESSIONS").unwrap().len, 1);
/// ```
///
/// A static is process-wide: it belongs to no scope and is never counted as made inside a
/// test check, though its growth under `assert_no_growth` is.
pub use leakguard_macros::track_growth;

/// A tracked collection in a local variable, for code that has no struct to annotate:
/// `tracked!(name, collection, options..)`.
///
/// The name is how events and reports show it; the options are those of
/// `#[track_growth(..)]`: `len = N`, `bytes = "S"`, and `scoped` to make it belong to the
/// scope it is created in. The value is a [`Tracked`] collection that dereferences to the
/// one given, registered at once if it already holds memory.
///
/// ```
/// let mut scratch = leakguard::tracked!("handle.scratch", Vec::<u8>::new(), len = 4096, scoped);
/// scratch.extend_from_slice(b"GET / HTTP/1.1");
/// assert_eq!(leakguard::report().group("handle.scratch").unwrap().len, 14);
/// ```
pub use leakguard_macros::tracked;

/// Derives [`HeapSize`](trait@HeapSize) for a struct or enum.
///
/// Every field must implement `HeapSize`, except those marked `#[heap_size(skip)]` (counted
/// as owning nothing) or `#[heap_size(with = path)]` (measured by `path(&field) -> usize`).
/// A std collection of elements without `HeapSize` is measured element by element with
/// `#[heap_size(each = path)]`, or `key = path` / `value = path` for a map.
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

pub use mode::ENABLED;

/// Not public API: what the macros expand to. Each item names the code that uses it.
#[doc(hidden)]
pub mod __private {
    /// The bounded collections `#[scoped_cache]` fields become.
    pub use crate::cache::{ScopedCache, ScopedRing, ScopedSet};
    /// What the `HeapSize` impls of `#[track_growth]` and `derive(HeapSize)` call.
    pub use crate::heap_size::{HeapSize, HeapUsage, Measurement};
    /// How a `#[track_growth]` struct's `HeapSize` measures a field it does not track.
    pub use crate::heap_size::{IfHeapSize, MeasureHeapSize, MeasureNothing};
    /// How a `#[track_growth]` or `derive(HeapSize)` type measures the elements of a field
    /// with `#[heap_size(each = ..)]`, `key = ..` or `value = ..`.
    pub use crate::heap_size::{MeasureEntries, Own, OwnHeap};
    /// The descriptions `#[track_growth]` emits for each tracked field, and the trait
    /// through which a field's type finds its own.
    pub use crate::meta::{FieldMeta, FromMeta, TrackedStruct};
    /// The type of a tracked field, and of a `#[scoped_cache(.., shared)]` one.
    pub use crate::tracked::{SharedField, Tracked};

    /// `heap_size` of a type whose `HeapSize` the macros wrote: the measurement is made
    /// here, once per type, so that each impl's `heap_size` is one call.
    #[inline]
    pub fn heap_size_of<T: HeapSize + ?Sized>(value: &T) -> usize {
        value.heap_size_in(&mut Measurement::new())
    }
}

/// Not public API: hooks for leakguard's own benchmarks and fault-injection tests.
#[doc(hidden)]
pub mod __hooks {
    /// One tick of the layer's sampler, without emitting: for the benchmarks.
    pub fn sample_tick() -> usize {
        crate::layer::sample_tick()
    }

    /// Poisons every lock leakguard holds internally, as a panic while holding it would:
    /// for the reliability tests.
    pub fn poison_internal_locks() {
        crate::registry::poison();
        crate::events::poison_deferred();
        crate::scope::poison();
        crate::report::poison();
        crate::layer::poison();
        crate::harness::poison();
    }
}
