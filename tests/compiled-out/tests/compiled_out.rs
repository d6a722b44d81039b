use std::collections::HashMap;
use std::mem::size_of;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use leakguard::{ENABLED, HeapSize, Tracked};
use leakguard_compiled_out::{Annotated, EXPECT_ON, Plain, PlainWithCache, WithCache};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

#[test]
fn instrumentation_is_compiled_in_only_where_expected() {
    assert_eq!(ENABLED, EXPECT_ON);
}

#[test]
fn annotated_struct_is_exactly_as_large_as_the_plain_one_when_compiled_out() {
    if EXPECT_ON {
        assert!(size_of::<Annotated>() > size_of::<Plain>());
    } else {
        assert_eq!(size_of::<Annotated>(), size_of::<Plain>());
        assert_eq!(
            size_of::<Tracked<Vec<u8>, Annotated, 0>>(),
            size_of::<Vec<u8>>()
        );
    }
}

/// What the README says of sizes compiled out: a tracked field is exactly its collection,
/// while a `#[scoped_cache]` field stays a bounded cache, larger than the map it replaces;
/// the struct is larger by exactly that difference.
#[test]
fn a_scoped_cache_field_keeps_the_size_of_its_cache_when_compiled_out() {
    let cache = size_of::<leakguard::ScopedCache<u64, String>>();
    let map = size_of::<HashMap<u64, String>>();
    assert!(cache > map, "{cache} B against {map} B");
    if !EXPECT_ON {
        assert_eq!(
            size_of::<WithCache>(),
            size_of::<PlainWithCache>() - map + cache,
            "{} B against {} B",
            size_of::<WithCache>(),
            size_of::<PlainWithCache>()
        );
    }
    // Eviction is behaviour: the bound holds in every build.
    let mut with_cache = WithCache::default();
    for i in 0..1_000u64 {
        with_cache.recent.insert(i, i.to_string());
    }
    assert_eq!(with_cache.recent.len(), 100);
}

struct CountEvents(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CountEvents {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn going_over_budget_emits_nothing_when_compiled_out() {
    let events = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CountEvents(events.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut a = Annotated::default();
    for i in 0..100u32 {
        a.messages.push(format!("message {i}"));
        a.index.insert(i.into(), "x".repeat(100));
        a.queue.push_back(i);
        a.tree.insert(i, i);
        a.seen.insert(i.into());
        a.name.push('x');
    }
    // Behaviour is unchanged.
    assert_eq!(a.messages.len(), 100);
    assert_eq!(a.index.get(&7).map(String::len), Some(100));
    assert_eq!(a.queue.pop_front(), Some(0));
    assert!(a.tree.contains_key(&99));
    let emitted = events.load(Ordering::Relaxed);
    if EXPECT_ON {
        assert!(emitted >= 5, "one warning per crossing, got {emitted}");
    } else {
        assert_eq!(emitted, 0);
    }
}

#[test]
fn measuring_still_works_when_compiled_out() {
    let mut a = Annotated::default();
    a.messages.push(String::with_capacity(10));
    let expected = a.messages.capacity() * size_of::<String>() + 10;
    assert_eq!(a.messages.heap_size(), expected);
    assert_eq!(Tracked::bytes(&a.messages), expected);
    assert_eq!(Tracked::measure(&mut a.messages), expected);
}

/// A shared cache keeps its bound and its stats in every mode; compiled out it keeps no
/// running byte figures, and `bytes()` measures the entries instead.
#[test]
fn a_shared_cache_bounds_counts_and_measures_in_every_mode() {
    let cache: leakguard::SharedCache<u64, String> =
        leakguard::SharedCache::builder().max(100).build().unwrap();
    for i in 0..1_000u64 {
        if cache.get(&(i % 300)).is_none() {
            // Exact capacities: `for_each` hands out clones, whose capacity is their length.
            let value = format!("value-{i:04}").into_boxed_str().into_string();
            cache.insert(i % 300, value);
        }
    }
    cache.remove(&999);
    assert!(cache.len() <= 100);
    let stats = cache.stats();
    assert_eq!(
        stats.insertions,
        stats.evictions + stats.expirations + stats.removals + cache.len() as u64
    );
    assert_eq!(stats.hits + stats.misses, 1_000);
    assert!(stats.evictions >= stats.insertions - 100);
    let mut expected = 0;
    cache.for_each(|_, v| expected += size_of::<(u64, String)>() + v.capacity());
    assert_eq!(cache.bytes(), expected);
}

/// Compiled out, a shared cache without a TTL counts on a short path of its own (a lookup
/// and its count; an insert and its evictions): every hit, miss and eviction of two threads
/// is counted, and what was evicted is dropped.
#[test]
fn a_shared_cache_counts_every_operation_of_two_threads_when_compiled_out() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    #[derive(Clone)]
    struct Counted(#[allow(dead_code)] String);
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Relaxed);
        }
    }
    impl leakguard::HeapSize for Counted {
        fn heap_size(&self) -> usize {
            self.0.capacity()
        }
    }
    let cache: leakguard::SharedCache<u64, Counted> = leakguard::SharedCache::builder()
        .max(1_000)
        .build()
        .unwrap();
    const INSERTS: u64 = 3_000;
    let phase = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        for t in 0..2u64 {
            let (cache, phase) = (&cache, &phase);
            scope.spawn(move || {
                // Keys of their own: every insert is of a new key.
                let key = |i: u64| t << 32 | i;
                for i in 0..50 {
                    cache.insert(key(i), Counted(format!("{i}")));
                }
                phase.wait();
                for i in 0..100 {
                    // The first 50 are there, as the cache holds 100 of its 1,000.
                    assert_eq!(cache.get(&key(i)).is_some(), i < 50);
                }
                phase.wait();
                for i in 50..INSERTS {
                    cache.insert(key(i), Counted(format!("{i}")));
                }
            });
        }
    });
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (100, 100));
    assert!(cache.len() <= 1_000);
    assert_eq!(stats.evictions, 2 * INSERTS - cache.len() as u64);
    assert_eq!(stats.insertions, 2 * INSERTS);
    // Every evicted value was dropped (and each `get` handed out a clone, dropped too).
    assert_eq!(
        DROPPED.load(Relaxed),
        stats.evictions as usize + stats.hits as usize
    );
}

/// A cache without a TTL or a bound in bytes, which compiled out keeps the values alone:
/// evicted, replaced and removed values are dropped after the shard's lock there too, so a
/// value's `Drop` may use the cache, and every one of them is dropped once. On a thread of
/// its own under a timeout, so that a deadlock fails the test instead of hanging it.
#[test]
fn a_value_whose_drop_uses_a_cache_without_a_ttl_neither_hangs_nor_is_lost() {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static CACHE: OnceLock<leakguard::SharedCache<u64, Handle>> = OnceLock::new();
    static TOUCHES: AtomicU64 = AtomicU64::new(0);
    /// A value that looks at its cache as it is dropped; clones that `get` hands out do not.
    struct Handle {
        key: u64,
        cached: bool,
    }
    impl Clone for Handle {
        fn clone(&self) -> Self {
            Handle {
                key: self.key,
                cached: false,
            }
        }
    }
    impl Drop for Handle {
        fn drop(&mut self) {
            if let (true, Some(cache)) = (self.cached, CACHE.get()) {
                let _ = cache.get(&self.key);
                let _ = cache.get(&(self.key + 1));
                let _ = cache.len();
                TOUCHES.fetch_add(1, Relaxed);
            }
        }
    }
    impl leakguard::HeapSize for Handle {
        fn heap_size(&self) -> usize {
            0
        }
    }
    let handle = |key| Handle { key, cached: true };
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let cache =
            CACHE.get_or_init(|| leakguard::SharedCache::builder().max(16).build().unwrap());
        let mut made = 0;
        for key in 0..200 {
            cache.insert(key, handle(key));
            made += 1;
        }
        let mut replaced = 0;
        for key in 0..200 {
            if cache.get(&key).is_some() {
                cache.insert(key, handle(key));
                made += 1;
                replaced += 1;
            }
        }
        let held = (0..200).find(|key| cache.get(key).is_some()).unwrap();
        assert!(cache.remove(&held).is_some());
        // The cache keeps a clone of what it made, and returns the value made.
        drop(cache.get_or_insert_with(&1_000, || handle(1_000)));
        made += 1;
        done.send((made, replaced)).unwrap();
    });
    let (made, replaced) = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a value's Drop using the cache hung, or the thread panicked");
    let cache = CACHE.get().unwrap();
    assert!(replaced > 0);
    assert!(cache.get(&1_000).is_some());
    // Every value made but those the cache holds (all but the clone under 1,000) was
    // dropped, each once.
    let held = cache.len() as u64 - 1;
    assert_eq!(TOUCHES.load(Relaxed), made - held);
    let stats = cache.stats();
    assert_eq!(stats.removals, 1);
    assert_eq!(stats.insertions, 201);
    assert_eq!(stats.evictions, 201 - 1 - cache.len() as u64);
}

/// Polls `future` to its end; the checked futures here never wait.
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the future waited"),
    }
}

static KEPT: std::sync::Mutex<Vec<Annotated>> = std::sync::Mutex::new(Vec::new());

/// Keeps one more annotated struct with a message: a leak, and growth.
fn leak() {
    let mut a = Annotated::default();
    a.messages.push("kept".to_string());
    KEPT.lock().unwrap().push(a);
}

/// The `check_` forms find a leak exactly where instrumentation is on, and return `Ok`
/// compiled out, as their documentation says: a test that expects a finding compares with
/// `ENABLED` and passes in every build.
#[test]
fn the_check_forms_return_ok_when_compiled_out() {
    let leaks = leakguard::testing::check_no_leaks(leak);
    assert_eq!(leaks.is_err(), EXPECT_ON, "{leaks:?}");
    let grows = leakguard::testing::check_no_growth(4, leak);
    assert_eq!(grows.is_err(), EXPECT_ON, "{grows:?}");
    let leaks_async = ready(leakguard::testing::check_no_leaks_async(async {
        leak();
        7
    }));
    assert_eq!(leaks_async.is_err(), EXPECT_ON, "{leaks_async:?}");
    if !EXPECT_ON {
        assert_eq!(leaks_async, Ok(7));
    }
    let grows_async = ready(leakguard::testing::check_no_growth_async(4, || async {
        leak()
    }));
    assert_eq!(grows_async.is_err(), EXPECT_ON, "{grows_async:?}");
    // A misuse is an error in every build.
    assert!(leakguard::testing::check_no_growth(2, || {}).is_err());
    // The assertions pass compiled out.
    if !EXPECT_ON {
        leakguard::testing::assert_no_leaks(leak);
        leakguard::testing::assert_no_growth(4, leak);
        ready(leakguard::testing::assert_no_leaks_async(async { leak() }));
        ready(leakguard::testing::assert_no_growth_async(4, || async {
            leak()
        }));
    }
}

/// A closure through `with_current_leak_scope` runs and returns its value in every build.
#[test]
fn with_current_leak_scope_runs_the_closure_in_every_mode() {
    let _scope = leakguard::scope("job");
    let len = std::thread::spawn(leakguard::with_current_leak_scope(|| {
        let mut a = Annotated::default();
        a.messages.push("made on another thread".to_string());
        a.messages.len()
    }))
    .join()
    .unwrap();
    assert_eq!(len, 1);
}
