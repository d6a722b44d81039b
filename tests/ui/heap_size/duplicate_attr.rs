use leakguard::HeapSize;

#[derive(HeapSize)]
struct Session {
    user: String,
    #[heap_size(skip)]
    #[heap_size(skip)]
    socket: std::net::SocketAddr,
}

fn measure(session: &Session) -> usize {
    session.heap_size()
}

fn main() {}
