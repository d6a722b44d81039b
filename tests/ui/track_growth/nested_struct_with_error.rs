use leakguard::track_growth;

// `Message` has a mistake, so its own HeapSize impl is not generated; the one error is that
// mistake, not also "`Message` does not implement `HeapSize`" at `Inbox.messages`.
#[track_growth]
struct Inbox {
    messages: Vec<Message>,
}

#[track_growth]
struct Message {
    #[budget(len = 0)]
    attachments: Vec<String>,
}

fn main() {}
