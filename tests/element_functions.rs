//! `#[heap_size(each = path)]`, `key = path`, `value = path`: collections of a foreign type
//! that leakguard has no `HeapSize` for, and that the orphan rule keeps a user from giving
//! one, are tracked with a function that measures one element, without a newtype.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use axum::http::{HeaderValue, Uri};
use leakguard::testing::assert_no_leaks;
use leakguard::{HeapSize, Tracked, track_growth};
use leakguard_support::capture;

/// A header value built from a string holds a copy of its bytes.
fn header_bytes(value: &HeaderValue) -> usize {
    value.len()
}

/// What a parsed `Uri` holds on the heap, near enough: its text.
fn uri_bytes(uri: &Uri) -> usize {
    uri.to_string().len()
}

/// The axum `State` of a service that remembers each client's last user agent: the
/// README's example.
#[track_growth]
#[derive(Clone, Default)]
struct AppState {
    #[budget(len = 100)]
    #[heap_size(value = header_bytes)] // a map: `key = ..`, `value = ..` or both
    agents: Arc<RwLock<HashMap<u64, HeaderValue>>>,
    #[heap_size(each = uri_bytes)] // a Vec, VecDeque, BinaryHeap, LinkedList, HashSet, BTreeSet
    redirects: Vec<Uri>,
}

fn agent(id: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("curl/8.{id}.0 (x86_64-pc-linux-gnu)")).unwrap()
}

#[test]
fn a_map_of_foreign_values_behind_arc_rwlock_is_tracked_and_warns_past_its_budget() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = AppState::default();
    let handler_state = state.clone();
    for id in 0..1_000 {
        handler_state.agents.write().unwrap().insert(id, agent(id));
    }
    let mut agents = state.agents.write().unwrap();
    assert_eq!(Tracked::name(&agents), "AppState.agents");
    // The map's own storage, as for any std map (W3 checks it against the allocator), plus
    // what the function says each value holds.
    let values: usize = agents.values().map(header_bytes).sum();
    let storage = HeapSize::footprint(&*agents).unwrap().storage_bytes;
    assert!(storage >= 1_000 * size_of::<(u64, HeaderValue)>());
    assert_eq!(Tracked::measure(&mut agents), storage + values);
    drop(agents);

    let warnings = events.of_kind("over_budget");
    let warning = warnings
        .iter()
        .find(|e| e.field("collection") == Some("\"AppState.agents\""))
        .unwrap_or_else(|| panic!("{:#?}", events.all()));
    // Inserted through `&mut`: seen at the access after the 101st insert.
    assert_eq!(warning.field("len"), Some("101"));
    let report = leakguard::report();
    let group = report.group("AppState.agents").unwrap();
    assert_eq!((group.instances, group.len), (1, 1_000));
    assert_eq!(group.bytes, storage + values);
    assert_eq!(state.heap_size(), state.agents.heap_size());

    // The field is used as the collection it is, and cloned with the state.
    let mut state = state;
    state.redirects.push("/login".parse().unwrap());
    let copy = state.clone();
    assert_eq!(copy.redirects[0], "/login");
    // Growth through the collection's own methods is seen at the field's next access.
    assert_eq!(state.redirects.len(), 1);
    assert_eq!(
        leakguard::report()
            .group("AppState.redirects")
            .unwrap()
            .instances,
        2
    );
}

/// A crawler's frontier: a queue of parsed URIs, and pages seen, by URI.
#[track_growth]
#[derive(Default)]
struct Frontier {
    #[heap_size(each = uri_bytes)]
    queue: VecDeque<Uri>,
    #[heap_size(key = uri_bytes)]
    seen: HashMap<Uri, Vec<u8>>,
}

#[test]
fn elements_keys_and_values_each_count_by_their_own_measure() {
    let mut frontier = Frontier {
        queue: VecDeque::new().into(),
        ..Default::default()
    };
    let uri: Uri = "https://example.com/a/rather/long/path?with=query"
        .parse()
        .unwrap();
    for _ in 0..10 {
        frontier.queue.push_back(uri.clone());
    }
    frontier.seen.insert(uri.clone(), vec![0; 1_000]);

    let queue = Tracked::measure(&mut frontier.queue);
    let per_uri = uri_bytes(&uri);
    assert_eq!(
        queue,
        frontier.queue.capacity() * size_of::<Uri>() + 10 * per_uri
    );
    // The key by its function, the value by its own `HeapSize`.
    let seen = Tracked::measure(&mut frontier.seen);
    let storage = frontier.seen.footprint().unwrap().storage_bytes;
    assert_eq!(seen, storage + per_uri + 1_000);
    assert_eq!(frontier.heap_size(), queue + seen);

    let report = leakguard::report();
    assert_eq!(report.group("Frontier.queue").unwrap().len, 10);
    assert_eq!(report.group("Frontier.seen").unwrap().len, 1);
}

/// A type measured with `derive(HeapSize)`, not tracked: the same functions apply.
#[derive(HeapSize)]
enum Route {
    Static(String),
    Redirects(#[heap_size(each = uri_bytes)] Vec<Uri>),
}

#[test]
fn derive_heap_size_measures_foreign_elements_with_the_function() {
    let uri: Uri = "https://example.com/elsewhere".parse().unwrap();
    let route = Route::Redirects(vec![uri.clone(), uri.clone()]);
    let Route::Redirects(uris) = &route else {
        unreachable!()
    };
    assert_eq!(
        route.heap_size(),
        uris.capacity() * size_of::<Uri>() + 2 * uri_bytes(&uri)
    );
    assert_eq!(Route::Static("abc".to_string()).heap_size(), 3);
}

/// A per-request record of the headers seen, kept by mistake.
#[track_growth]
#[derive(Default)]
struct Seen {
    #[heap_size(each = header_bytes)]
    agents: Vec<HeaderValue>,
}

#[test]
#[should_panic(expected = "Seen.agents")]
fn assert_no_leaks_catches_foreign_elements_kept_in_a_global() {
    static KEEP: Mutex<Vec<Seen>> = Mutex::new(Vec::new());
    assert_no_leaks(|| {
        let mut seen = Seen::default();
        seen.agents.push(agent(1));
        KEEP.lock().unwrap().push(seen);
    });
}

#[test]
fn assert_no_leaks_passes_when_the_foreign_elements_are_dropped() {
    assert_no_leaks(|| {
        let mut seen = Seen::default();
        seen.agents.push(agent(2));
        assert_eq!(seen.agents.len(), 1);
    });
}

/// A generic owner: the element type's own `HeapSize` is required only where it is used.
#[track_growth]
#[derive(Default)]
struct Registry<T: HeapSize> {
    #[heap_size(key = uri_bytes)]
    by_uri: HashMap<Uri, T>,
}

#[test]
fn a_generic_owner_measures_its_values_by_their_heap_size() {
    let mut registry = Registry::<Vec<u8>>::default();
    let uri: Uri = "https://example.com/x".parse().unwrap();
    registry.by_uri.insert(uri.clone(), vec![0; 100]);
    let storage = registry.by_uri.footprint().unwrap().storage_bytes;
    assert_eq!(
        Tracked::measure(&mut registry.by_uri),
        storage + uri_bytes(&uri) + 100
    );
}

/// Both sides of a map by a function each.
#[track_growth]
#[derive(Default)]
struct Routes {
    #[heap_size(key = uri_bytes, value = header_bytes)]
    #[budget(bytes = "1 KiB")]
    cache_control: HashMap<Uri, HeaderValue>,
}

#[test]
fn keys_and_values_both_by_functions_count_against_a_bytes_budget() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut routes = Routes::default();
    let value = HeaderValue::from_str(&"max-age=60, ".repeat(10)).unwrap();
    for i in 0..50 {
        let uri: Uri = format!("/assets/{i}/{}", "x".repeat(100)).parse().unwrap();
        routes.cache_control.insert(uri, value.clone());
    }
    let entries: usize = routes
        .cache_control
        .iter()
        .map(|(k, v)| uri_bytes(k) + header_bytes(v))
        .sum();
    let storage = routes.cache_control.footprint().unwrap().storage_bytes;
    assert_eq!(
        Tracked::measure(&mut routes.cache_control),
        storage + entries
    );
    let over: Vec<_> = events
        .of_kind("over_budget")
        .into_iter()
        .filter(|e| e.field("collection") == Some("\"Routes.cache_control\""))
        .collect();
    assert!(!over.is_empty(), "{:#?}", events.all());
    assert_eq!(over[0].field("over"), Some("\"bytes\""));
}

/// A request-scoped list of upstream URIs.
#[track_growth(scoped)]
#[derive(Default)]
struct Upstreams {
    #[heap_size(each = uri_bytes)]
    tried: Vec<Uri>,
}

#[test]
fn a_scoped_collection_of_foreign_elements_kept_past_its_scope_is_reported_outlived() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut kept = Vec::new();
    {
        let _scope = leakguard::scope("proxy");
        let mut upstreams = Upstreams::default();
        upstreams.tried.push("http://10.0.0.1/".parse().unwrap());
        kept.push(upstreams);
    }
    {
        let _scope = leakguard::scope("proxy_ok");
        let mut upstreams = Upstreams::default();
        upstreams.tried.push("http://10.0.0.2/".parse().unwrap());
    }
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    assert_eq!(outlived[0].field("collection"), Some("\"Upstreams.tried\""));
    assert_eq!(outlived[0].field("scope"), Some("proxy"));
}

/// A process-wide map of foreign values in a `static`: the element functions go on the
/// static, beside `#[track_growth]`.
#[track_growth(len = 10)]
#[heap_size(value = header_bytes)]
static LAST_AGENT: LazyLock<Mutex<HashMap<u64, HeaderValue>>> = LazyLock::new(Default::default);

#[test]
fn a_static_of_foreign_values_is_named_measured_and_budgeted() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    for id in 0..20 {
        LAST_AGENT.lock().unwrap().insert(id, agent(id));
    }
    let mut agents = LAST_AGENT.lock().unwrap();
    let values: usize = agents.values().map(header_bytes).sum();
    let storage = HeapSize::footprint(&*agents).unwrap().storage_bytes;
    assert_eq!(Tracked::measure(&mut agents), storage + values);
    drop(agents);
    let over = events.of_kind("over_budget");
    assert!(
        over.iter()
            .any(|e| e.field("collection") == Some("\"LAST_AGENT\"")),
        "{:#?}",
        events.all()
    );
    assert_eq!(leakguard::report().group("LAST_AGENT").unwrap().len, 20);
}
