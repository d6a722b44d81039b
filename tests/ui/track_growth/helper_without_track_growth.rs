use leakguard::track_growth;

#[track_growth]
struct Inbox {
    #[budget(len = 100)]
    messages: Vec<String>,
}

struct Outbox {
    #[budget(len = 1)]
    messages: Vec<String>,
}

fn main() {}
