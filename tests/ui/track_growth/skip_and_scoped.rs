use leakguard::track_growth;

#[track_growth]
struct Request {
    #[track(skip, scoped)]
    buffer: Vec<u8>,
}

fn main() {
    let mut request = Request { buffer: Vec::new() };
    request.buffer.push(1);
}
