//! The limits of `leakguard::Alloc`'s accounts, as the README states them: 512 scope names,
//! past which names share `(other scopes)`, and 4096 scope instances with an account of
//! their own, past which a new instance shares its name's folded account, counted as
//! retained from the start and as one instance. In its own binary: it installs the global
//! allocator, and fills the tables for every test after it.

use std::pin::Pin;
use std::task::{Context, Waker};

use leakguard::{ScopeExt, report};

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

/// `bytes` allocated in a scope named `name`, kept past the scope's end.
fn kept_in(name: String, bytes: usize) -> Vec<u8> {
    let _scope = leakguard::scope(name);
    vec![7u8; bytes]
}

#[test]
fn past_4096_instances_a_name_shares_one_retained_account_and_past_512_names_they_share_one() {
    // Warm up: the thread's first allocation arms its accounting.
    drop(kept_in("warm-up".into(), 8));

    // 4100 requests of one handler, each holding 100 B while all are in flight at once, as
    // a service's concurrent requests are: the first 4096 have accounts of their own, the
    // rest share the name's folded account, retained from the start.
    let mut requests: Vec<Pin<Box<dyn Future<Output = ()>>>> = Vec::with_capacity(4_100);
    for _ in 0..4_100 {
        requests.push(Box::pin(
            async {
                let body = vec![1u8; 100];
                std::future::pending::<()>().await;
                drop(body);
            }
            .leak_scope("instances"),
        ));
    }
    let mut cx = Context::from_waker(Waker::noop());
    for request in &mut requests {
        assert!(request.as_mut().poll(&mut cx).is_pending());
    }
    let heap = report();
    let instances = heap
        .scope("instances")
        .expect("the scope's heap is reported");
    assert_eq!(
        instances.live_bytes,
        4_100 * 100,
        "every instance's bytes, folded or not"
    );
    assert_eq!(
        instances.retained_instances, 1,
        "the instances past the table share the folded account, one retained instance: \
         {instances:?}"
    );
    assert_eq!(
        instances.retained_bytes,
        4 * 100,
        "the 4 instances past the table's 4096 are retained from the start: {instances:?}"
    );
    drop(requests);

    // 600 names, each keeping 10 B: names up to the 512th are told apart, the rest share
    // `(other scopes)`.
    let kept: Vec<Vec<u8>> = (0..600).map(|i| kept_in(format!("name {i}"), 10)).collect();
    let heap = report();
    let named = (0..600)
        .filter(|i| heap.scope(&format!("name {i}")).is_some())
        .count();
    let others = heap
        .scope("(other scopes)")
        .expect("the names past the table");
    // 512 names: unscoped, leakguard's own, `warm-up`, `instances`, 507 of these, and
    // `(other scopes)`.
    assert_eq!(named, 507, "names before the table fills are told apart");
    assert_eq!(
        others.live_bytes,
        (600 - named) * 10,
        "the names past the table share one: {others:?}"
    );
    assert!(heap.scope("name 599").is_none());
    drop(kept);
}
