use leakguard::HeapSize;

#[derive(HeapSize)]
struct Session {
    user: String,
    #[heap_size(with = 0)]
    socket: std::net::SocketAddr,
}

fn measure(session: &Session) -> usize {
    session.heap_size()
}

fn main() {}
