use leakguard::track_growth;

struct NoHeapSize;

#[track_growth]
struct Inbox {
    messages: Vec<NoHeapSize>,
}

fn main() {}
