//! A global allocator that counts the bytes each thread has live: the truth that the
//! accuracy tests and the W3 benchmark compare leakguard's figures with. Shared by the
//! examples, the end-to-end tests and the benchmarks.
//!
//! Counts are per thread, so tests running in parallel do not see each other's
//! allocations; a value must be allocated and freed on the measuring thread. The process's
//! total is kept too, for what crosses threads (leakguard's own tables, thread stocks): read
//! it where nothing else runs, as the memory-bound tests do in their own binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

static PROCESS_LIVE: AtomicIsize = AtomicIsize::new(0);

/// Counts requested bytes (`Layout::size`) on top of the system allocator.
///
/// ```text
/// #[global_allocator]
/// static ALLOC: Counting = Counting;
/// ```
#[derive(Debug)]
pub struct Counting;

fn add(delta: isize) {
    // Unavailable only while the thread is being torn down.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
    PROCESS_LIVE.fetch_add(delta, Ordering::Relaxed);
}

/// Bytes the whole process has allocated and not yet freed, on every thread.
pub fn process_live_bytes() -> isize {
    PROCESS_LIVE.load(Ordering::Relaxed)
}

// SAFETY: every call forwards to `System` with the caller's arguments unchanged; the
// bookkeeping touches a const-initialized thread-local and an atomic, neither of which
// allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// Bytes this thread has allocated and not yet freed, since it started.
pub fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

/// Has leakguard's registry of live collections allocate its first chunk and this
/// thread's stock of free slots, so that measurements that follow count the collections'
/// heap only. The registry's own bytes are reported apart, by
/// `leakguard::report().registry_bytes`.
pub fn warm_up_registry() {
    #[leakguard::track_growth]
    #[derive(Default)]
    struct Warm {
        items: Vec<u8>,
    }
    let warm: Vec<Warm> = (0..64)
        .map(|_| {
            let mut w = Warm::default();
            w.items.push(1);
            w
        })
        .collect();
    drop(warm);
}

/// Runs `f` and returns its value with the bytes it left allocated on this thread.
pub fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let before = live_bytes();
    let value = f();
    (value, live_bytes() - before)
}
