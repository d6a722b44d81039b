//! The caches of W1 and W2 behind one interface, and the one-pass measurement of what each
//! holds. Shared by `w1_cache.rs` and `w2_ttl.rs`.

use std::collections::HashMap;
use std::hint::black_box;
use std::mem::size_of;
use std::num::NonZeroUsize;
use std::time::Duration;

use crate::alloc::{allocated_by, live_bytes};
use crate::w1::{CAPACITY, Value, value};
use cached::Cached;
use leakguard::ScopedCache;

/// A cache as W1 and W2 drive it.
pub trait Cache: Sized {
    /// An empty cache bounded to `CAPACITY` entries, expiring them `ttl` after they are
    /// written when set. Caches without a TTL are never asked for one.
    fn build(ttl: Option<Duration>) -> Self;

    /// A get, counted as a use: whether it found `key`.
    fn hit(&mut self, key: u64) -> bool;

    /// An insert.
    fn put(&mut self, key: u64, value: Value);

    /// One operation: a get, then an insert if it missed. Whether the get hit.
    #[inline]
    fn access(&mut self, key: u64) -> bool {
        if self.hit(key) {
            return true;
        }
        self.put(key, value(key));
        false
    }

    /// Entries held, as the cache itself reports them.
    fn entries(&self) -> usize;
}

fn no_ttl(ttl: Option<Duration>) {
    assert!(ttl.is_none(), "this cache has no TTL");
}

/// `Cache` for one cache: `|this| cache` reaches it from `self`, `get`, `insert` and `len` name
/// its methods, `|ttl| build` makes one.
macro_rules! adapter {
    ($(#[$doc:meta])* $ty:ty, |$this:ident| $cache:expr, $get:ident, $insert:ident, $len:ident,
     |$ttl:ident| $build:expr) => {
        $(#[$doc])*
        impl Cache for $ty {
            fn build($ttl: Option<Duration>) -> Self {
                $build
            }

            #[inline]
            fn hit(&mut self, key: u64) -> bool {
                let $this = self;
                black_box($cache.$get(&key)).is_some()
            }

            #[inline]
            fn put(&mut self, key: u64, value: Value) {
                let $this = self;
                $cache.$insert(key, value);
            }

            fn entries(&self) -> usize {
                let $this = self;
                $cache.$len() as usize
            }
        }
    };
}

adapter!(ScopedCache<u64, Value>, |c| c, get, insert, len, |ttl| {
    let builder = ScopedCache::builder().max(CAPACITY);
    match ttl {
        Some(ttl) => builder.ttl(ttl),
        None => builder,
    }
    .build()
    .expect("a valid configuration")
});

/// W1 as users write it: a `#[scoped_cache(max = 10_000)]` field (with `ttl = "50ms"` for
/// W2), driven through the field's own methods.
#[leakguard::track_growth]
#[derive(Default)]
pub struct CacheField {
    #[scoped_cache(max = 10_000)]
    cache: HashMap<u64, Value>,
}

/// [`CacheField`] with W2's TTL.
#[leakguard::track_growth]
#[derive(Default)]
pub struct TtlCacheField {
    #[scoped_cache(max = 10_000, ttl = "50ms")]
    cache: HashMap<u64, Value>,
}

adapter!(CacheField, |f| f.cache, get, insert, len, |ttl| {
    assert_eq!(ttl, None, "the field's attribute sets the TTL");
    CacheField::default()
});
adapter!(TtlCacheField, |f| f.cache, get, insert, len, |ttl| {
    assert_eq!(
        ttl,
        Some(Duration::from_millis(50)),
        "the field's attribute sets the TTL"
    );
    TtlCacheField::default()
});
adapter!(
    /// Unbounded: the floor of what a map of these entries costs.
    HashMap<u64, Value>, |c| c, get, insert, len, |ttl| {
        no_ttl(ttl);
        HashMap::new()
    }
);
adapter!(schnellru::LruMap<u64, Value>, |c| c, get, insert, len, |ttl| {
    no_ttl(ttl);
    schnellru::LruMap::new(schnellru::ByLength::new(CAPACITY as u32))
});
adapter!(lru::LruCache<u64, Value>, |c| c, get, put, len, |ttl| {
    no_ttl(ttl);
    lru::LruCache::new(NonZeroUsize::new(CAPACITY).expect("CAPACITY > 0"))
});
adapter!(
    /// cached's LRU cache, `SizedCache` before 3.0.
    cached::LruCache<u64, Value>, |c| c, cache_get, cache_set, cache_size, |ttl| {
        no_ttl(ttl);
        cached::LruCache::new(CAPACITY)
    }
);
adapter!(
    /// cached's LRU cache with a TTL, `TimedSizedCache` before 3.0. Its size counts expired
    /// entries not yet swept, like `ScopedCache::len`.
    cached::LruTtlCache<u64, Value>, |c| c, cache_get, cache_set, cache_size, |ttl| {
        cached::LruTtlCache::new(CAPACITY, ttl.expect("a TTL cache is built with a TTL"))
    }
);
adapter!(quick_cache::unsync::Cache<u64, Value>, |c| c, get, insert, len, |ttl| {
    no_ttl(ttl);
    quick_cache::unsync::Cache::new(CAPACITY)
});
adapter!(
    /// Measured as a user gets it from plain operations: `run_pending_tasks` is never called,
    /// so the housekeeping moka does on its own is all that happens; `entry_count` is moka's
    /// own count, brought up to date by that housekeeping.
    moka::sync::Cache<u64, Value>, |c| c, get, insert, entry_count, |ttl| {
        let builder = moka::sync::Cache::builder().max_capacity(CAPACITY as u64);
        match ttl {
            Some(ttl) => builder.time_to_live(ttl),
            None => builder,
        }
        .build()
    }
);
adapter!(mini_moka::unsync::Cache<u64, Value>, |c| c, get, insert, entry_count, |ttl| {
    let builder = mini_moka::unsync::Cache::builder().max_capacity(CAPACITY as u64);
    match ttl {
        Some(ttl) => builder.time_to_live(ttl),
        None => builder,
    }
    .build()
});

/// The operations of one run of the workload; the hits among them.
pub fn run<C: Cache>(cache: &mut C, keys: &[u64]) -> usize {
    let mut hits = 0;
    for &key in keys {
        hits += usize::from(cache.access(key));
    }
    hits
}

/// `size_of` plus the heap a freshly built cache allocated.
pub fn empty_instance<C: Cache>(ttl: Option<Duration>) -> usize {
    let (cache, heap) = allocated_by(|| C::build(ttl));
    drop(cache);
    size_of::<C>() + heap.max(0) as usize
}

/// What a cache holds at one moment: its entries, and the heap bytes it has allocated and
/// not freed since it was built.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    pub entries: usize,
    pub live_bytes: isize,
}

impl Held {
    pub fn bytes_per_entry(&self) -> f64 {
        self.live_bytes as f64 / self.entries.max(1) as f64
    }
}

/// One run of the workload on a fresh cache, outside any timing, with the counting
/// allocator watching.
pub struct Pass<C> {
    pub cache: C,
    pub hits: usize,
    /// Live bytes on this thread before the cache was built.
    pub baseline: isize,
    pub at_end: Held,
}

impl<C: Cache> Pass<C> {
    pub fn run(ttl: Option<Duration>, keys: &[u64]) -> Self {
        let baseline = live_bytes();
        let mut cache = C::build(ttl);
        let hits = run(&mut cache, keys);
        let mut pass = Self {
            cache,
            hits,
            baseline,
            at_end: Held {
                entries: 0,
                live_bytes: 0,
            },
        };
        pass.at_end = pass.held();
        pass
    }

    /// What the cache holds now.
    pub fn held(&self) -> Held {
        Held {
            entries: self.cache.entries(),
            live_bytes: live_bytes() - self.baseline,
        }
    }

    pub fn hit_ratio(&self, keys: &[u64]) -> f64 {
        self.hits as f64 / keys.len() as f64
    }
}
