use leakguard::track_growth;

#[track_growth]
struct Inbox(#[budget(len = 100)] Vec<String>);

fn fill(inbox: &mut Inbox) {
    inbox.0.push("hello".to_string());
}

fn main() {}
