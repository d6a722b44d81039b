use leakguard::track_growth;

#[track_growth]
struct Inbox {
    #[budget(bytes = "64 mb")]
    messages: Vec<String>,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
}

fn main() {}
