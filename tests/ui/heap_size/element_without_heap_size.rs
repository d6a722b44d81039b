use leakguard::HeapSize;

struct Socket;

#[derive(HeapSize)]
struct Session {
    user: String,
    sockets: Vec<Socket>,
}

fn main() {}
