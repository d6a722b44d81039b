use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use leakguard::track_growth;

struct Conn;

fn conn_bytes(_: &Conn) -> usize {
    0
}

// A static takes element functions, not a whole-value function.
#[track_growth]
#[heap_size(with = conn_bytes)]
static POOL: LazyLock<Mutex<Vec<Conn>>> = LazyLock::new(Default::default);

// A map's values, not elements.
#[track_growth]
#[heap_size(each = conn_bytes)]
static BY_PEER: LazyLock<Mutex<HashMap<String, Conn>>> = LazyLock::new(Default::default);

// A set has elements.
#[track_growth]
#[heap_size(key = conn_bytes)]
static SEEN: LazyLock<Mutex<HashSet<u64>>> = LazyLock::new(Default::default);

fn main() {}
