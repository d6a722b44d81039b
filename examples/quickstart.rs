//! Annotate a struct, grow its fields past their budgets, and read the warnings in the log.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::collections::HashMap;

use leakguard::{Tracked, track_growth};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

#[track_growth]
#[derive(Debug, Default)]
pub struct Inbox {
    #[budget(len = 100)]
    messages: Vec<String>,
    #[budget(bytes = "64 KiB")]
    index: HashMap<u64, String>,
    #[track(skip)]
    scratch: Vec<u8>,
    count: u64, // not a collection: untouched
}

/// The logging set-up: `filter` (`RUST_LOG`) on the fmt layer, so that it filters what is
/// printed and leakguard's layer still sees every span, whatever the level.
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_filter(filter),
        )
        .with(leakguard::layer())
}

/// A thousand messages, past both budgets.
pub fn fill() -> Inbox {
    let mut inbox = Inbox::default();
    for id in 0..1_000u64 {
        let message = format!("message number {id}");
        inbox.index.insert(id, message.clone());
        inbox.messages.push(message);
        inbox.scratch.clear();
        inbox.count += 1;
    }
    inbox
}

#[allow(dead_code)] // a test includes this file for `subscriber` and `fill`
fn main() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    subscriber(filter, std::io::stdout).init();

    let inbox = fill();
    println!(
        "{} messages ({} bytes), {} indexed ({} bytes); instrumentation {}",
        inbox.messages.len(),
        Tracked::bytes(&inbox.messages),
        inbox.index.len(),
        Tracked::bytes(&inbox.index),
        if leakguard::ENABLED {
            "on"
        } else {
            "compiled out"
        },
    );
}
