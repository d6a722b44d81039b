//! Annotate a struct, grow its fields past their budgets, and read the warnings in the log.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::collections::HashMap;

use leakguard::{Tracked, track_growth};
use tracing_subscriber::EnvFilter;

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

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let mut inbox = Inbox::default();
    for id in 0..1_000u64 {
        let message = format!("message number {id}");
        inbox.index.insert(id, message.clone());
        inbox.messages.push(message);
        inbox.scratch.clear();
        inbox.count += 1;
    }

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
