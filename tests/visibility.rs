//! Every collection a service holds is seen: behind `Arc<RwLock<..>>` and other wrappers, in
//! a `static`, in a local, in a tuple struct, in a user type marked `#[track]`, and in a
//! cache built with a name.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use leakguard::testing::assert_no_leaks;
use leakguard::{HeapSize, ScopedCache, Tracked, track_growth};
use leakguard_support::capture::{self, Events};

/// The over-budget events about `collection`.
fn over_budget(events: &Events, collection: &str) -> Vec<leakguard_support::capture::Captured> {
    let quoted = format!("{collection:?}");
    events
        .of_kind("over_budget")
        .into_iter()
        .filter(|e| e.field("collection") == Some(quoted.as_str()))
        .collect()
}

#[derive(Clone, Debug, HeapSize)]
struct User {
    name: String,
}

/// The axum `State` shape.
#[track_growth]
#[derive(Clone, Default)]
struct AppState {
    #[budget(len = 100)]
    users: Arc<RwLock<HashMap<u64, User>>>,
    sessions: Arc<Mutex<Vec<String>>>,
    audit: Option<Box<Vec<u64>>>,
}

#[test]
fn a_map_behind_arc_rwlock_is_tracked_and_warns_past_its_budget() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = AppState::default();
    let handler_state = state.clone(); // what axum hands each handler
    for id in 0..4_000 {
        let user = User {
            name: format!("user-{id}"),
        };
        handler_state.users.write().unwrap().insert(id, user);
    }
    let users = state.users.read().unwrap();
    assert!(Tracked::bytes(&users) > 4_000 * size_of::<(u64, User)>());
    assert_eq!(Tracked::name(&users), "AppState.users");
    drop(users);
    let warnings = over_budget(&events, "AppState.users");
    assert!(!warnings.is_empty(), "{:#?}", events.all());
    assert_eq!(warnings[0].field("len"), Some("101"));
    // Reports read figures published within 0.1%; `measure` makes them exact.
    Tracked::measure(&mut state.users.write().unwrap());
    let report = leakguard::report();
    let group = report.group("AppState.users").unwrap();
    assert_eq!((group.instances, group.len), (1, 4_000));
}

#[test]
fn other_wrappers_track_what_they_hold_and_literals_convert_the_innermost_collection() {
    let state = AppState {
        users: Arc::new(RwLock::new(HashMap::new().into())),
        sessions: Arc::new(Mutex::new(vec!["s1".to_string()].into())),
        audit: Some(Box::new(vec![1, 2, 3].into())),
    };
    state.sessions.lock().unwrap().push("s2".to_string());
    let report = leakguard::report();
    assert_eq!(report.group("AppState.sessions").unwrap().len, 2);
    assert_eq!(report.group("AppState.audit").unwrap().len, 3);
    // The struct's own figure counts what its wrappers hold, the Arc allocations included.
    assert!(state.heap_size() > Tracked::bytes(&state.sessions.lock().unwrap()));
}

#[track_growth]
#[derive(Default)]
struct Local {
    seen: RefCell<HashSet<u64>>,
}

#[test]
fn a_refcell_holds_a_tracked_set() {
    let local = Local::default();
    local.seen.borrow_mut().extend(0..10);
    assert_eq!(leakguard::report().group("Local.seen").unwrap().len, 10);
}

/// A process-wide cache, the classic Go leak, as Rust writes it.
#[track_growth(len = 1_000)]
static SESSIONS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Default::default);

#[test]
fn a_static_cache_is_named_after_the_static_and_warns_past_its_budget() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    for i in 0..2_000u64 {
        SESSIONS.lock().unwrap().insert(format!("token-{i}"), i);
    }
    let warnings = over_budget(&events, "SESSIONS");
    assert_eq!(warnings.len(), 1, "{:#?}", events.all());
    assert!(
        warnings[0].message.starts_with("SESSIONS over len budget"),
        "{}",
        warnings[0].message
    );
    let report = leakguard::report();
    assert_eq!(report.group("SESSIONS").unwrap().len, 2_000);
}

#[track_growth]
static LATE: LazyLock<Mutex<Vec<u64>>> = LazyLock::new(Default::default);

#[test]
fn a_static_first_touched_inside_a_test_check_is_not_its_leak() {
    assert_no_leaks(|| {
        LATE.lock().unwrap().push(1);
    });
    assert_eq!(leakguard::report().group("LATE").unwrap().len, 1);
}

fn handle(body: &[u8], kept: &mut Vec<impl Send + 'static>) -> usize {
    let _ = kept;
    let mut scratch = leakguard::tracked!("handle.scratch", Vec::<u8>::new(), len = 4096, scoped);
    scratch.extend_from_slice(body);
    scratch.len()
}

#[test]
fn a_tracked_local_is_reported_under_its_name_and_leaves_nothing_when_dropped() {
    let mut kept: Vec<u8> = Vec::new();
    let (_, events) = {
        let (subscriber, events) = capture::reporting();
        let guard = tracing::subscriber::set_default(subscriber);
        assert_no_leaks(|| {
            assert_eq!(handle(b"GET / HTTP/1.1", &mut kept), 14);
        });
        leakguard::check_now();
        (guard, events)
    };
    assert_eq!(events.of_kind("outlived"), vec![]);
}

#[test]
fn a_scoped_local_kept_past_its_scope_is_reported_outlived() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut kept = Vec::new();
    {
        let _scope = leakguard::scope("batch");
        let mut rows = leakguard::tracked!("batch.rows", HashMap::<u64, String>::new(), scoped);
        rows.insert(1, "one".to_string());
        kept.push(rows);
    }
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    assert_eq!(outlived[0].field("collection"), Some("\"batch.rows\""));
    assert_eq!(outlived[0].field("scope"), Some("batch"));
}

#[test]
fn a_local_over_its_budget_warns() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut buffer = leakguard::tracked!("upload.buffer", Vec::<u8>::new(), bytes = "1 KiB");
    buffer.extend_from_slice(&[0; 4096]);
    assert_eq!(over_budget(&events, "upload.buffer").len(), 1);
}

/// A newtype: its collection is named after it.
#[track_growth]
#[derive(Default)]
struct Tokens(HashSet<String>);

/// A tuple struct of two: `Pair.0`, `Pair.1`.
#[track_growth]
#[derive(Default)]
struct Pair(Vec<u64>, #[budget(len = 5)] Vec<u64>);

#[test]
fn tuple_structs_name_their_collections_by_type_or_position() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut tokens = Tokens::default();
    tokens.0.insert("t".to_string());
    let mut pair = Pair::default();
    pair.0.push(1);
    pair.1.extend(0..6);
    let report = leakguard::report();
    assert_eq!(report.group("Tokens").unwrap().len, 1);
    assert_eq!(report.group("Pair.0").unwrap().len, 1);
    assert_eq!(report.group("Pair.1").unwrap().len, 6);
    assert_eq!(over_budget(&events, "Pair.1").len(), 1);
    assert_eq!(
        tokens.heap_size(),
        tokens.0.heap_size(),
        "a newtype measures as what it wraps"
    );
}

#[test]
fn a_cache_built_with_a_name_is_reported_under_it() {
    let mut tokens = ScopedCache::builder()
        .name("tokens")
        .max(1_000)
        .build::<String, u64>()
        .unwrap();
    for i in 0..5_000 {
        tokens.insert(format!("token-{i}"), i);
    }
    assert_eq!(tokens.len(), 1_000);
    let report = leakguard::report();
    let group = report.group("tokens").expect("named caches are reported");
    assert_eq!(group.len, 1_000);
    assert_eq!(group.bytes, tokens.heap_size());
}

#[test]
fn a_cache_name_cannot_be_empty_and_names_the_setting() {
    let map = ScopedCache::builder()
        .name("")
        .max(10)
        .build::<u64, u64>()
        .unwrap_err();
    let set = ScopedCache::builder()
        .name("")
        .max(10)
        .build_set::<u64>()
        .unwrap_err();
    let ring = ScopedCache::builder()
        .name("")
        .max(10)
        .build_ring::<u64>()
        .unwrap_err();
    let shared = leakguard::SharedCache::builder()
        .name("")
        .max(10)
        .build::<u64, u64>()
        .unwrap_err();
    for error in [map, set, ring, shared] {
        assert_eq!(error.setting(), "name");
        assert_eq!(
            error.to_string(),
            "invalid leakguard setting `name`: it must be at least one character"
        );
    }
    // The name is checked before the bounds, as it comes first.
    let both = ScopedCache::builder()
        .name("")
        .max(0)
        .build::<u64, u64>()
        .unwrap_err();
    assert_eq!(both.setting(), "name");
}

#[test]
fn a_named_cache_folds_to_lines_that_start_with_its_name() {
    let mut sessions = ScopedCache::builder()
        .name("named_sessions")
        .max(100)
        .build::<u64, String>()
        .unwrap();
    sessions.insert(1, "ada".repeat(20));
    let shared = leakguard::SharedCache::builder()
        .name("named_shared")
        .max(100)
        .build::<u64, String>()
        .unwrap();
    shared.insert(1, "grace".repeat(20));
    let folded = leakguard::report().folded();
    let frames = |name: &str| -> Vec<String> {
        let line = folded
            .lines()
            .find(|line| line.contains(name))
            .unwrap_or_else(|| panic!("{name} in\n{folded}"));
        let (stack, _) = line.rsplit_once(' ').unwrap();
        stack.split(';').map(str::to_string).collect()
    };
    // The name, then where the cache first grew: for a shared cache, its first insert.
    for name in ["named_sessions", "named_shared"] {
        let frames = frames(name);
        assert_eq!(frames[0], name);
        assert!(frames[1].starts_with("tests/visibility.rs:"), "{frames:?}");
        assert_eq!(frames.len(), 2, "{frames:?}");
    }
    assert!(
        folded
            .lines()
            .all(|line| !line.starts_with(';') && !line.contains(";;")),
        "no empty frame:\n{folded}"
    );
    drop((sessions, shared));
}

/// A user type over a hashbrown map, measured by the derive, which forwards the map's
/// length and capacity.
#[derive(Default, HeapSize)]
struct SessionTable(hashbrown::HashMap<u64, String>);

#[track_growth]
#[derive(Default)]
struct Server {
    #[track]
    #[budget(len = 100)]
    sessions: SessionTable,
}

#[test]
fn a_user_type_marked_track_is_reported_and_warns_by_the_next_access() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut server = Server::default();
    for i in 0..150 {
        server.sessions.0.insert(i, format!("session-{i}"));
    }
    let warnings = over_budget(&events, "Server.sessions");
    assert_eq!(warnings.len(), 1, "{:#?}", events.all());
    // Inserted through `&mut`: seen at the access after the 101st insert.
    assert_eq!(warnings[0].field("len"), Some("101"));
    assert_eq!(server.sessions.0.len(), 150); // a read evaluates the last insert
    let report = leakguard::report();
    let group = report.group("Server.sessions").unwrap();
    assert_eq!((group.instances, group.len), (1, 150));
    assert_eq!(group.bytes, server.sessions.heap_size());
}

/// The same shape as `Server`, kept in a global by one test: the test beside it that counts
/// `Server.sessions` rows sees none of it.
#[track_growth]
#[derive(Default)]
struct KeptServer {
    #[track]
    #[budget(len = 100)]
    sessions: SessionTable,
}

#[test]
#[should_panic(expected = "KeptServer.sessions")]
fn assert_no_leaks_catches_a_user_type_kept_in_a_global() {
    static KEEP: Mutex<Vec<KeptServer>> = Mutex::new(Vec::new());
    assert_no_leaks(|| {
        let mut server = KeptServer::default();
        server.sessions.0.insert(1, "leaked".to_string());
        KEEP.lock().unwrap().push(server);
    });
}

#[track_growth]
#[derive(Default)]
struct FastIndex {
    #[budget(len = 10)]
    by_id: hashbrown::HashMap<u64, String>,
}

#[test]
fn a_hashbrown_map_is_tracked_like_a_std_one() {
    let (subscriber, events) = capture::reporting();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut index = FastIndex::default();
    for i in 0..20 {
        index.by_id.insert(i, format!("value-{i}"));
    }
    index.by_id.remove(&0);
    let warnings = over_budget(&events, "FastIndex.by_id");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].field("len"), Some("11"));
    assert_eq!(Tracked::bytes(&index.by_id), index.by_id.heap_size());
    assert_eq!(
        leakguard::report().group("FastIndex.by_id").unwrap().len,
        19
    );
}

#[track_growth]
static HISTORY: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Default::default);

#[test]
#[should_panic(expected = "HISTORY")]
fn a_static_that_grows_on_every_iteration_fails_assert_no_growth() {
    leakguard::testing::assert_no_growth(10, || {
        HISTORY.lock().unwrap().push("request".to_string());
    });
}
