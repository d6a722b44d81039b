use leakguard::track_growth;

#[track_growth]
#[budget(len = 100)]
struct Inbox {
    messages: Vec<String>,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
}

fn main() {}
