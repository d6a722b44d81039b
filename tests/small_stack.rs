//! A thread with a small stack, as pools and async runtimes make, can be the one whose
//! collection needs a new chunk of the registry (128 KiB). In its own binary, so that the
//! collection here is the first to register and must make the first chunk; a stack overflow
//! aborts the whole binary, which fails the test.

use leakguard::{Tracked, track_growth};

#[track_growth]
#[derive(Default)]
struct Log {
    lines: Vec<String>,
}

#[test]
fn a_thread_with_a_96_kib_stack_makes_the_first_chunk_of_the_registry() {
    let worker = std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(96 * 1024)
        .spawn(|| {
            let mut log = Log::default();
            log.lines.push("first".to_string());
            Tracked::bytes(&log.lines)
        })
        .unwrap();
    let bytes = worker
        .join()
        .expect("the worker did not overflow its stack");
    assert!(bytes >= size_of::<String>() + 5, "{bytes}");
    if leakguard::ENABLED {
        assert!(leakguard::report().registry_bytes >= 128 * 1024);
    }
}
