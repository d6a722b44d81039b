use std::collections::{HashMap, HashSet};

use leakguard::{HeapSize, track_growth};

struct Socket;

fn socket_bytes(_: &Socket) -> usize {
    0
}

#[track_growth]
#[derive(Default)]
struct Pool {
    // A map has keys and values, not elements.
    #[heap_size(each = socket_bytes)]
    by_port: HashMap<u16, Socket>,
    // A set has elements, not keys and values.
    #[heap_size(value = socket_bytes)]
    ports: HashSet<u16>,
    // Not a std collection written out.
    #[heap_size(each = socket_bytes)]
    #[track]
    pool: Sockets,
    // `each` and `key` together.
    #[heap_size(each = socket_bytes, key = socket_bytes)]
    spare: Vec<Socket>,
    // A function is a path.
    #[heap_size(each = 3)]
    idle: Vec<Socket>,
    // `each` needs a function.
    #[heap_size(each)]
    busy: Vec<Socket>,
    // `skip` stands alone.
    #[heap_size(skip, each = socket_bytes)]
    closed: Vec<Socket>,
}

#[derive(Default, HeapSize)]
struct Sockets(Vec<u8>);

fn main() {}
