use leakguard::track_growth;

struct History {
    entries: Vec<String>,
}

#[track_growth]
struct Inbox {
    messages: Vec<String>,
    #[budget(len = 100)]
    history: History,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
    inbox.history.entries.push("hello".to_string());
}

fn main() {}
