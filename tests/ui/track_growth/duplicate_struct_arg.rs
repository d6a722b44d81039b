use leakguard::track_growth;

#[track_growth(bytes = "1 MiB", bytes = "2 MiB")]
struct Inbox {
    messages: Vec<String>,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
}

fn main() {}
