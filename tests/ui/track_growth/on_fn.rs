use leakguard::track_growth;

#[track_growth]
pub fn fill(messages: &mut Vec<String>) {
    messages.push("hello".to_string());
}

fn main() {}
