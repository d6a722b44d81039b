//! The async service example on a 4-worker runtime: the buffer a spawned task keeps past
//! its request is reported as outlived, once per site with a count, naming the scope; the
//! correct handlers and the shared cache say nothing.

use std::time::Duration;

use leakguard_support::capture;
use tracing_subscriber::layer::SubscriberExt;

#[path = "../examples/async_service.rs"]
mod example;

#[test]
fn the_leak_through_a_spawned_task_is_found_and_nothing_else() {
    let grace = Duration::from_millis(100);
    let (capture, events) = capture::layer();
    // The example's own `check_now` finds the eight kept bodies together; a sampler tick
    // while the requests still run (a loaded machine) would find the first few alone and
    // hold the rest back under the rate limit, so the sampler stays out of the way.
    let layer = leakguard::layer()
        .grace_period(grace)
        .sample_interval(Duration::from_secs(3_600))
        .unwrap();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(capture).with(layer),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let served = runtime.block_on(example::serve(400, grace));

    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{:?}", events.leakguard_messages());
    let event = &outlived[0];
    assert_eq!(event.field("collection"), Some("\"RequestBody.chunks\""));
    assert_eq!(event.field("scope"), Some("handle_request"));
    // One request in 50 hands its body to an audit task.
    assert_eq!(event.field("instances"), Some("8"));
    assert!(
        event
            .field("site")
            .is_some_and(|s| s.contains("examples/async_service.rs")),
        "{event:?}"
    );
    assert!(events.of_kind("over_budget").is_empty());
    assert!(events.of_kind("no_scope").is_empty());

    let sessions = &served.state.sessions;
    assert_eq!(sessions.len(), 400);
    assert_eq!(sessions.stats().misses, 400);
    assert_eq!(
        served.bytes_read,
        400 * 4 * 4096
            + (0..400u64)
                .map(|id| format!("user {id}").len())
                .sum::<usize>()
    );
}
