use std::collections::HashMap;

use leakguard::track_growth;

struct Socket;
struct Peer;

fn socket_bytes(_: &Socket) -> usize {
    0
}

// The values have a function; the keys still need `HeapSize`, and the error says so at
// the key's type.
#[track_growth]
#[derive(Default)]
struct Pool {
    #[heap_size(value = socket_bytes)]
    by_peer: HashMap<Peer, Socket>,
}

fn main() {}
