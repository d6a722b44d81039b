use std::collections::HashMap;

use leakguard::track_growth;

#[track_growth]
struct Inbox {
    #[budget(len = 0)]
    messages: Vec<String>,
    #[budget(bytes = "64")]
    index: HashMap<u64, String>,
    #[budget(len = 10)]
    count: u64,
}

fn fill(inbox: &mut Inbox) {
    inbox.messages.push("hello".to_string());
    inbox.index.insert(7, "seven".to_string());
    inbox.count += 1;
}

fn main() {}
