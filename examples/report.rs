//! leakguard's heap profile: every live tracked collection, grouped by `Type.field`.
//!
//! A small service's state after some traffic: a session store, per-connection buffers,
//! an event log and a cache. `leakguard::report()` answers "what is holding my memory".
//!
//! ```text
//! cargo run --example report
//! ```

use std::collections::{HashMap, VecDeque};

use leakguard::track_growth;

#[track_growth]
#[derive(Default)]
struct Sessions {
    #[budget(len = 5_000)]
    by_token: HashMap<String, String>,
}

#[track_growth]
#[derive(Default)]
struct Connection {
    #[budget(bytes = "64 KiB")]
    read_buffer: Vec<u8>,
    pending: VecDeque<String>,
}

#[track_growth]
#[derive(Default)]
struct EventLog {
    lines: Vec<String>,
}

#[track_growth]
#[derive(Default)]
struct Geo {
    #[scoped_cache(max = 1_000)]
    by_ip: HashMap<u32, String>,
}

fn main() {
    let mut sessions = Sessions::default();
    for i in 0..6_000 {
        sessions
            .by_token
            .insert(format!("token-{i:08}"), format!("user-{}", i % 700));
    }

    let mut connections: Vec<Connection> = (0..40).map(|_| Connection::default()).collect();
    for (i, connection) in connections.iter_mut().enumerate() {
        connection.read_buffer.resize(4096 * (1 + i % 24), 0);
        connection.read_buffer.truncate(512);
        for m in 0..(i % 5) {
            connection.pending.push_back(format!("message {m}"));
        }
    }

    let mut log = EventLog::default();
    for i in 0..20_000 {
        log.lines.push(format!("GET /api/items/{i} 200"));
    }

    let mut geo = Geo::default();
    for ip in 0..5_000u32 {
        geo.by_ip.insert(ip, format!("city-{}", ip % 90));
    }

    print!("{}", leakguard::report());
}
