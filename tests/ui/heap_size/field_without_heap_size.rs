use leakguard::HeapSize;

struct Socket;

#[derive(HeapSize)]
struct Session {
    user: String,
    socket: Socket,
}

fn main() {}
