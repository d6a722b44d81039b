//! W5: W1's Zipf workload on 2 threads sharing one cache (1M operations each, different
//! seeds, capacity 10,000): leakguard's `SharedCache`, built with the builder and as a
//! `#[scoped_cache(max = 10_000, shared)]` field, against quick_cache's `sync::Cache`, moka's
//! `sync::Cache` and a `parking_lot::Mutex<lru::LruCache>`. Throughput, hit ratio, live bytes
//! per entry, an empty cache, and with a 50 ms TTL what is held after 200 ms idle. Then the
//! cost of `leak_scope` per poll against the bare future.
//!
//! `cargo bench -p leakguard-bench --bench w5_shared` (and `--features instrumented` for
//! `leak_scope` with instrumentation on).

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::thread::sleep;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use leakguard::{ScopeExt, SharedCache, track_growth};
use leakguard_bench::alloc::{Counting, process_live_bytes};
use leakguard_bench::w1::{CAPACITY, KEYS, S, SEED, Value, value};
use leakguard_bench::zipf::{Zipf, trace};
use leakguard_bench::{criterion, fmt_bytes, fmt_ns, locked_version, median_ns, mode, print_table};

#[global_allocator]
static ALLOC: Counting = Counting;

const GROUP: &str = "w5_shared";
/// Operations on each of the two threads.
const OPS: usize = 1_000_000;
const THREADS: usize = 2;
const TTL: Duration = Duration::from_millis(50);
const IDLE: Duration = Duration::from_millis(200);
/// Operations after the idle period, before entries and bytes are read.
const AFTER_IDLE_OPS: usize = 1;

/// A cache shared by reference between threads.
trait Shared: Sync {
    fn build(ttl: Option<Duration>) -> Self;
    /// A get, then an insert if it missed: whether the get hit.
    fn access(&self, key: u64) -> bool;
    fn entries(&self) -> usize;
}

/// The path users write: an axum-style state with a shared cache field.
#[track_growth]
#[derive(Default)]
struct AppState {
    #[scoped_cache(max = 10_000, shared)]
    cache: HashMap<u64, Value>,
}

/// [`AppState`] with the TTL of the idle protocol.
#[track_growth]
#[derive(Default)]
struct AppStateTtl {
    #[scoped_cache(max = 10_000, ttl = "50ms", shared)]
    cache: HashMap<u64, Value>,
}

/// `Shared` for a cache with `&self` `get` and `insert`: `$cache` reaches the cache from
/// `self`, `$len` counts its entries, `$build` makes one for a TTL.
macro_rules! shared {
    ($ty:ty, |$this:ident| $cache:expr, $len:ident, |$ttl:ident| $build:expr) => {
        impl Shared for $ty {
            fn build($ttl: Option<Duration>) -> Self {
                $build
            }
            #[inline]
            fn access(&self, key: u64) -> bool {
                let $this = self;
                if $cache.get(&key).is_some() {
                    return true;
                }
                $cache.insert(key, value(key));
                false
            }
            fn entries(&self) -> usize {
                let $this = self;
                $cache.$len() as usize
            }
        }
    };
}

shared!(SharedCache<u64, Value>, |c| c, len, |ttl| {
    let builder = SharedCache::builder().max(CAPACITY);
    match ttl {
        Some(ttl) => builder.ttl(ttl),
        None => builder,
    }
    .build()
    .expect("valid bounds")
});
shared!(AppState, |s| s.cache, len, |ttl| {
    assert!(ttl.is_none(), "the field's attribute sets the TTL");
    AppState::default()
});
shared!(AppStateTtl, |s| s.cache, len, |ttl| {
    assert_eq!(ttl, Some(TTL), "the field's attribute sets the TTL");
    AppStateTtl::default()
});
shared!(quick_cache::sync::Cache<u64, Value>, |c| c, len, |ttl| {
    assert!(ttl.is_none(), "quick_cache has no TTL");
    quick_cache::sync::Cache::new(CAPACITY)
});
shared!(moka::sync::Cache<u64, Value>, |c| c, entry_count, |ttl| {
    let builder = moka::sync::Cache::builder().max_capacity(CAPACITY as u64);
    match ttl {
        Some(ttl) => builder.time_to_live(ttl).build(),
        None => builder.build(),
    }
});

impl Shared for parking_lot::Mutex<lru::LruCache<u64, Value>> {
    fn build(ttl: Option<Duration>) -> Self {
        assert!(ttl.is_none(), "lru has no TTL");
        parking_lot::Mutex::new(lru::LruCache::new(
            NonZeroUsize::new(CAPACITY).expect("CAPACITY > 0"),
        ))
    }
    #[inline]
    fn access(&self, key: u64) -> bool {
        let mut lru = self.lock();
        if lru.get(&key).is_some() {
            return true;
        }
        lru.put(key, value(key));
        false
    }
    fn entries(&self) -> usize {
        self.lock().len()
    }
}

/// Each thread's trace: W1's distribution, a different seed per thread.
fn traces() -> Vec<Vec<u64>> {
    let zipf = Zipf::new(KEYS, S);
    (0..THREADS as u64)
        .map(|t| {
            trace(
                &zipf,
                OPS,
                SEED ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
        })
        .collect()
}

/// Runs every trace on its own thread against one cache; the hits of all of them.
fn run<C: Shared>(cache: &C, traces: &[Vec<u64>]) -> usize {
    std::thread::scope(|scope| {
        let threads: Vec<_> = traces
            .iter()
            .map(|keys| scope.spawn(move || keys.iter().filter(|&&k| cache.access(k)).count()))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    })
}

struct Figures {
    name: String,
    median_ns: Option<f64>,
    hit_ratio: f64,
    bytes_per_entry: f64,
    empty: usize,
    /// With the TTL: entries and live bytes at the end, then after idle and a few ops.
    ttl: Option<[(usize, isize); 2]>,
}

fn measure<C: Shared>(
    c: &mut Criterion,
    name: String,
    id: &str,
    traces: &[Vec<u64>],
    ttl: bool,
) -> Figures {
    let before = process_live_bytes();
    let cache = C::build(None);
    let hits = run(&cache, traces);
    let bytes_per_entry = (process_live_bytes() - before) as f64 / cache.entries() as f64;
    drop(cache);
    let before = process_live_bytes();
    let empty = C::build(None);
    let empty_bytes = size_of::<C>() + (process_live_bytes() - before).max(0) as usize;
    drop(empty);

    let mut group = c.benchmark_group(GROUP);
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.bench_function(id, |b| b.iter(|| run(&C::build(None), traces)));
    group.finish();
    Figures {
        name,
        median_ns: median_ns(GROUP, id),
        hit_ratio: hits as f64 / (OPS * THREADS) as f64,
        bytes_per_entry,
        empty: empty_bytes,
        ttl: ttl.then(|| idle_protocol::<C>(traces)),
    }
}

/// Fills a cache with a TTL, then idles and runs `AFTER_IDLE_OPS` operations.
fn idle_protocol<C: Shared>(traces: &[Vec<u64>]) -> [(usize, isize); 2] {
    let before = process_live_bytes();
    let cache = C::build(Some(TTL));
    run(&cache, traces);
    let at_end = (cache.entries(), process_live_bytes() - before);
    sleep(IDLE);
    for &key in &traces[0][..AFTER_IDLE_OPS] {
        cache.access(key);
    }
    let after = (cache.entries(), process_live_bytes() - before);
    drop(cache);
    [at_end, after]
}

/// A field-path cache with a TTL, measured like the others.
fn ttl_field(traces: &[Vec<u64>]) -> [(usize, isize); 2] {
    idle_protocol::<AppStateTtl>(traces)
}

fn peer(package: &str, what: &str) -> String {
    let version = locked_version(package).unwrap_or_else(|| "?".into());
    format!("{package} {version} {what}")
}

/// A future that is pending `polls - 1` times, then ready.
struct Polls(u32);

impl Future for Polls {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Opaque, so that the bare future is polled rather than folded away.
        let left = std::hint::black_box(self.0);
        if left <= 1 {
            return Poll::Ready(());
        }
        self.0 = left - 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn poll_to_end(future: impl Future<Output = ()>) {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    while future.as_mut().poll(&mut cx).is_pending() {}
}

const POLLS: u32 = 1_000;

fn leak_scope(c: &mut Criterion) -> [Option<f64>; 2] {
    let mut group = c.benchmark_group("w5_leak_scope");
    group.bench_function("bare", |b| b.iter(|| poll_to_end(Polls(POLLS))));
    group.bench_function("leak_scope", |b| {
        b.iter(|| poll_to_end(Polls(POLLS).leak_scope("bench")))
    });
    group.finish();
    ["bare", "leak_scope"].map(|id| median_ns("w5_leak_scope", id).map(|ns| ns / f64::from(POLLS)))
}

fn main() {
    let traces = traces();
    let mut c = criterion();
    let figures = [
        measure::<SharedCache<u64, Value>>(
            &mut c,
            "leakguard SharedCache (builder)".into(),
            "leakguard_builder",
            &traces,
            true,
        ),
        measure::<AppState>(
            &mut c,
            "leakguard `#[scoped_cache(max = 10_000, shared)]` field".into(),
            "leakguard_field",
            &traces,
            false,
        ),
        measure::<quick_cache::sync::Cache<u64, Value>>(
            &mut c,
            peer("quick_cache", "`sync::Cache`"),
            "quick_cache",
            &traces,
            false,
        ),
        measure::<moka::sync::Cache<u64, Value>>(
            &mut c,
            peer("moka", "`sync::Cache`"),
            "moka",
            &traces,
            true,
        ),
        measure::<parking_lot::Mutex<lru::LruCache<u64, Value>>>(
            &mut c,
            peer("lru", "`LruCache` in a `parking_lot::Mutex`"),
            "mutex_lru",
            &traces,
            false,
        ),
    ];
    let field_ttl = ttl_field(&traces);
    let [bare, scoped] = leak_scope(&mut c);
    c.final_summary();

    let total = (OPS * THREADS) as f64;
    let mops = |ns: Option<f64>| ns.map(|ns| total / ns * 1e3);
    let by_id = |i: usize| mops(figures[i].median_ns);
    let quick = &figures[2];
    let rows: Vec<Vec<String>> = figures
        .iter()
        .map(|f| {
            let m = mops(f.median_ns);
            let ratio = |other: Option<f64>| {
                m.zip(other)
                    .map_or("n/a".into(), |(a, b)| format!("{:.3}", a / b))
            };
            vec![
                f.name.clone(),
                m.map_or("n/a".into(), |m| format!("{m:.2}")),
                ratio(by_id(2)),
                ratio(by_id(3)),
                ratio(by_id(4)),
                format!("{:.3}", f.hit_ratio),
                format!("{:.1}", f.bytes_per_entry),
                format!("{:.3}", f.bytes_per_entry / quick.bytes_per_entry),
                fmt_bytes(f.empty as f64),
            ]
        })
        .collect();
    print_table(
        &format!(
            "W5 ({}): Zipf(1.0), {THREADS} threads x {OPS} get-then-insert-on-miss, one cache of \
             capacity {CAPACITY} (median of 10 samples, one run)",
            mode()
        ),
        &[
            "cache",
            "Mops/s",
            "vs quick_cache",
            "vs moka",
            "vs Mutex<lru>",
            "hit ratio",
            "bytes/entry",
            "vs quick_cache",
            "empty",
        ],
        &rows,
    );

    let held =
        |(entries, bytes): (usize, isize)| format!("{entries} / {}", fmt_bytes(bytes as f64));
    let mut ttl_rows: Vec<Vec<String>> = figures
        .iter()
        .filter_map(|f| {
            f.ttl
                .map(|[end, idle]| vec![f.name.clone(), held(end), held(idle)])
        })
        .collect();
    let [end, idle] = field_ttl;
    ttl_rows.push(vec![
        "leakguard `#[scoped_cache(max = 10_000, ttl = \"50ms\", shared)]` field".into(),
        held(end),
        held(idle),
    ]);
    print_table(
        &format!("W5 with TTL {TTL:?}: entries / live bytes"),
        &[
            "cache",
            "at the end",
            &format!("after {IDLE:?} idle + {AFTER_IDLE_OPS} op"),
        ],
        &ttl_rows,
    );

    let per_poll = |ns: Option<f64>| ns.map_or("n/a".into(), fmt_ns);
    print_table(
        &format!(
            "leak_scope ({}), per poll of a future polled {POLLS} times",
            mode()
        ),
        &["future", "per poll", "added"],
        &[
            vec!["bare".into(), per_poll(bare), String::new()],
            vec![
                "`.leak_scope(\"bench\")`".into(),
                per_poll(scoped),
                per_poll(bare.zip(scoped).map(|(b, s)| s - b)),
            ],
        ],
    );
}
