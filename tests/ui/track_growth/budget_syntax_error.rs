use leakguard::track_growth;

#[track_growth]
struct Inbox {
    #[budget(len: 100)]
    messages: Vec<String>,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
}

fn main() {}
