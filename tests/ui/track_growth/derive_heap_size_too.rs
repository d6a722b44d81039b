use leakguard::{HeapSize, track_growth};

#[track_growth]
#[derive(Debug, HeapSize)]
struct Inbox {
    messages: Vec<String>,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
}

fn main() {}
