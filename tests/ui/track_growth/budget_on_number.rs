use leakguard::track_growth;

#[track_growth]
struct Inbox {
    messages: Vec<String>,
    #[budget(len = 100)]
    count: u64,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
    inbox.count += 1;
}

fn main() {}
