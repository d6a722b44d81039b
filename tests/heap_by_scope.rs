//! The heap-by-scope example on a 4-worker runtime: the handlers that keep 300 bytes of
//! every upload in a `static`, leak a session name with `Box::leak` and keep a copy of a
//! message in a spawned task are each found by the `retained` detector with their scope's
//! name, and the handler that fills a bounded cache is not. The example installs `Alloc` as this
//! binary's global allocator.

#[path = "../examples/heap_by_scope.rs"]
mod example;

use std::sync::Arc;
use std::time::Duration;

use leakguard_support::capture;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn the_example_s_three_leaking_handlers_are_found_by_their_scopes_and_the_cache_is_not() {
    if !leakguard::ENABLED {
        return;
    }
    // Fine enough that the first warning's samples hold some of the 300 bytes each upload
    // keeps, for its sites: about 13 samples in the 13 KiB it reports (at 4 KiB, about 3,
    // and none in about 1 run in 30).
    leakguard::set_heap_sample_rate(1024);
    let (capture, events) = capture::layer();
    let subscriber = tracing_subscriber::registry()
        .with(capture)
        .with(example::layer().rate_limit(Duration::ZERO));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(example::AppState::default());
    let served = runtime.block_on(example::serve(state.clone(), Duration::from_secs(2)));
    assert!(served > 100, "served {served}");
    assert_eq!(state.profiles.len(), 10);

    let retained = events.of_kind("retained");
    let scopes: Vec<&str> = retained.iter().filter_map(|e| e.field("scope")).collect();
    for leaking in ["upload", "login", "notify"] {
        assert!(scopes.contains(&leaking), "{leaking} not found: {scopes:?}");
    }
    assert!(
        !scopes.contains(&"profile"),
        "the bounded cache warned: {scopes:?}"
    );
    let first = retained
        .iter()
        .find(|e| e.field("scope") == Some("upload"))
        .unwrap();
    assert!(
        first.message.starts_with("scope `upload` retains "),
        "{}",
        first.message
    );
    // Where the retained bytes were allocated, from the sampled stacks: the handler's line.
    let line = include_str!("../examples/heap_by_scope.rs")
        .lines()
        .position(|l| l.contains("body[..300].to_vec()"))
        .unwrap()
        + 1;
    assert!(
        first.message.contains(&format!(
            "; allocated at heap_by_scope::example::upload::{{{{closure}}}} (examples/heap_by_scope.rs:{line}) "
        )),
        "{}",
        first.message
    );

    let report = leakguard::report();
    let upload = report.scope("upload").unwrap();
    assert!(upload.retained_bytes >= 300 * served as usize, "{upload:?}");
    assert!(upload.retained_instances as u64 >= served - 5, "{upload:?}");
    // A session name of 210 to 212 bytes, leaked once a request.
    let login = report.scope("login").unwrap();
    assert!(login.retained_bytes >= 210 * served as usize, "{login:?}");
    assert!(login.retained_instances as u64 >= served - 5, "{login:?}");
    // A copy of the 256-byte message, and the sleeping task that holds it.
    let notify = report.scope("notify").unwrap();
    assert!(
        notify.retained_bytes >= (256 + 64) * served as usize,
        "{notify:?}"
    );
    assert!(notify.retained_instances as u64 >= served - 5, "{notify:?}");
    let profile = report.scope("profile").unwrap();
    // The cache's 10 entries, and what the first requests made once and kept (buffers
    // tokio makes per worker on first use): bounded, against one per upload request.
    assert!(profile.retained_instances <= 16, "{profile:?}");
    eprintln!("{}\n\n{report}", first.message);
}
