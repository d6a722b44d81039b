//! `leakguard::Alloc` compiled out is its inner allocator: the layouts it hands on are the
//! caller's, with no trailer, and nothing is accounted. Instrumentation on (the `production`
//! feature in release), each block carries its 8-byte trailer. In its own binary: it
//! installs the global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// The size of the last layout the inner allocator got on this thread.
    static LAST_SIZE: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, noting the sizes it is asked for.
struct Noting;

// SAFETY: forwards every call to `System` unchanged; noting a size in a const thread-local
// does not allocate.
unsafe impl GlobalAlloc for Noting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LAST_SIZE.try_with(|s| s.set(layout.size()));
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(block, layout) }
    }
}

#[global_allocator]
static ALLOC: leakguard::Alloc<Noting> = leakguard::Alloc::new(Noting);

#[test]
fn the_inner_allocator_gets_the_caller_s_layout_when_compiled_out() {
    assert_eq!(size_of::<leakguard::Alloc>(), 0);
    let block = std::hint::black_box(vec![7u8; 100]);
    let seen = LAST_SIZE.with(Cell::get);
    drop(block);
    if leakguard::ENABLED {
        assert_eq!(seen, 108, "100 bytes and the trailer");
        assert!(leakguard::report().scope("unscoped").is_some());
    } else {
        assert_eq!(seen, 100, "the caller's layout, unchanged");
        assert!(leakguard::report().heap.is_empty());
    }
}
