use leakguard::track_growth;

#[track_growth]
struct Inbox {
    messages: Vec<String>,
    #[track = false]
    scratch: Vec<u8>,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
    inbox.scratch.push(0);
}

fn main() {}
