//! The classic "slice of maps that only grows" leak, in Rust: every request appends its
//! metadata to a `Vec<HashMap<String, String>>` and nothing ever trims it.
//!
//! leakguard names the collection the first time it passes its budget and again each time
//! it doubles, so the log traces the growth long before memory runs out.
//!
//! ```text
//! cargo run --example growing_log
//! ```

use std::collections::HashMap;

use leakguard::{Tracked, track_growth};

#[track_growth]
#[derive(Default)]
struct RequestLog {
    /// One map of metadata per request handled. Meant to be flushed, never is.
    #[budget(len = 1_000, bytes = "1 MiB")]
    entries: Vec<HashMap<String, String>>,
}

impl RequestLog {
    fn record(&mut self, id: u64, path: &str, status: u16) {
        let mut fields = HashMap::new();
        fields.insert("id".to_string(), id.to_string());
        fields.insert("path".to_string(), path.to_string());
        fields.insert("status".to_string(), status.to_string());
        fields.insert("user_agent".to_string(), "curl/8.5.0".to_string());
        self.entries.push(fields);
    }
}

fn main() {
    tracing_subscriber::fmt().with_target(true).init();

    let mut log = RequestLog::default();
    for id in 0..20_000u64 {
        let path = ["/", "/login", "/api/items", "/api/cart"][id as usize % 4];
        log.record(id, path, if id % 17 == 0 { 500 } else { 200 });
        if (id + 1) % 5_000 == 0 {
            println!(
                "after {:>6} requests: {:>6} entries, {:>9} bytes",
                id + 1,
                log.entries.len(),
                Tracked::bytes(&log.entries),
            );
        }
    }
}
