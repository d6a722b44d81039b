//! A tokio service on a multi-thread runtime: request bodies arrive through serde inside
//! `#[instrument]`ed handlers that hop threads. A body kept past its request is reported
//! `outlived`; the handler that drops its body is silent. In its own binary: the subscriber
//! is the global default, as in a service, so that every worker thread reports to it.

use std::sync::Mutex;

use leakguard::track_growth;
use leakguard_support::capture::{self, Events};
use serde::Deserialize;
use tracing::Instrument;

fn events() -> &'static Events {
    capture::global()
}

#[track_growth(scoped)]
#[derive(Deserialize)]
struct Order {
    items: Vec<String>,
}

/// Orders kept by mistake, as an audit trail nobody trims.
static AUDIT: Mutex<Vec<Order>> = Mutex::new(Vec::new());

#[tracing::instrument(skip(body))]
async fn place_order(body: String, keep: bool) -> usize {
    tokio::task::yield_now().await; // resumes on whichever worker is free
    let order: Order = serde_json::from_str(&body).unwrap();
    tokio::task::yield_now().await;
    let items = order.items.len();
    if keep {
        AUDIT.lock().unwrap().push(order);
    }
    items
}

fn body(i: usize) -> String {
    format!(r#"{{"items": ["item-{i}", "gift wrap", "express"]}}"#)
}

#[test]
fn on_a_multi_thread_runtime_a_kept_body_is_outlived_and_a_dropped_one_is_silent() {
    let events = events();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();

    // Correct handlers: 200 requests, every body dropped.
    runtime.block_on(async {
        let handles: Vec<_> = (0..200)
            .map(|i| tokio::spawn(place_order(body(i), false)))
            .collect();
        for handle in handles {
            assert_eq!(handle.await.unwrap(), 3);
        }
    });
    leakguard::check_now();
    assert_eq!(
        events.of_kind("outlived"),
        vec![],
        "correct handlers are silent"
    );

    // The same handler keeping 50 bodies.
    runtime.block_on(async {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let span = tracing::info_span!("request", id = i);
                tokio::spawn(place_order(body(i), true).instrument(span))
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    leakguard::check_now();
    let outlived = events.of_kind("outlived");
    assert_eq!(outlived.len(), 1, "{outlived:#?}");
    let event = &outlived[0];
    assert_eq!(event.field("collection"), Some("\"Order.items\""));
    assert_eq!(event.field("scope"), Some("place_order"));
    assert_eq!(event.field("instances"), Some("50"));
    assert_eq!(AUDIT.lock().unwrap().len(), 50);
}
