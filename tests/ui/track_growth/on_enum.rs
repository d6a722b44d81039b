use leakguard::track_growth;

#[track_growth]
enum Message {
    Text(String),
    Batch {
        #[budget(len = 100)]
        parts: Vec<String>,
    },
}

fn main() {}
