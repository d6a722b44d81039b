//! [`Alloc`], the opt-in global allocator that charges every live byte to the leak scope
//! that allocated it. The only unsafe code of the heap accounting: a trailer behind each
//! block names its account, so that a free, on any thread, takes the block off the account
//! it was charged to without a lookup.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

use crate::accounts;
use crate::mode::ENABLED;
use crate::sampling;

/// A global allocator over `A` that charges every block to the leak scope current where it
/// was allocated, for [`report().scope(name)`](crate::Report::scope), the `retained`
/// detector and the heap check of [`testing::assert_no_leaks`](crate::testing::assert_no_leaks).
///
/// ```
/// #[global_allocator]
/// static ALLOC: leakguard::Alloc = leakguard::Alloc::system();
/// # fn main() {}
/// ```
///
/// Over another allocator: `static ALLOC: leakguard::Alloc<mimalloc::MiMalloc> =
/// leakguard::Alloc::new(mimalloc::MiMalloc);`.
///
/// Each block gets an 8-byte trailer after the bytes asked for, which holds the number of
/// its scope's account. A block allocated, or freed, on a thread where its scope is current
/// is counted in two plain thread-local cells; any other block (freed on another thread,
/// or in another scope) with one relaxed atomic add to its account. No lock, no map. What
/// a block counts is what the program asked for (`Layout::size()`), not the trailer. With
/// instrumentation compiled out, `Alloc` is the inner allocator: no trailer, no accounting.
///
/// A thread moves what it counted locally into its scope's account when the scope stops
/// being current on it (the guard is dropped, the span exited, a `leak_scope` future's poll
/// returns, a test check ends), once it reaches 64 blocks or 64 KiB either way, and when
/// the thread ends (before its `JoinHandle::join` returns). So the figures are exact for
/// what the thread reading them did, for scopes that have ended, and for threads that have
/// ended; the live figures of a scope (or of unscoped memory) that is current on another
/// thread at that moment may be off by up to 64 blocks and 64 KiB for each such thread,
/// never below zero.
///
/// It sees what goes through Rust's global allocator: memory that a C library gets from
/// its own `malloc` is not charged to anything. Past 4096 scope instances holding memory at
/// once, a new instance shares its name's folded account, counted as retained from the
/// start; past 512 scope names, names share `(other scopes)`; one account counts up to 128
/// GiB and 33 million blocks live.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alloc<A = System> {
    inner: A,
}

impl Alloc<System> {
    /// Accounting over the system allocator.
    pub const fn system() -> Self {
        Self { inner: System }
    }
}

impl<A> Alloc<A> {
    /// Accounting over `inner`.
    pub const fn new(inner: A) -> Self {
        Self { inner }
    }
}

/// What follows each block: its account, then marks (bit 0: sampled for the heap profile,
/// with the index of its sample's record above it). Written and read unaligned: the
/// block's alignment is the caller's, unchanged, and its end may be at any byte.
const TRAILER: usize = 8;

/// The layout of a block of `layout` with its trailer; `None` if too large.
#[inline]
fn with_trailer(layout: Layout) -> Option<Layout> {
    let size = layout.size().checked_add(TRAILER)?;
    Layout::from_size_align(size, layout.align()).ok()
}

/// Writes the trailer of a block of `size` bytes at `block` and charges it to the current
/// account.
///
/// # Safety
/// `block` must point to at least `size + TRAILER` writable bytes.
#[inline]
unsafe fn stamp(block: *mut u8, size: usize) {
    let account = accounts::current();
    let marks = sampling::marks_for(size, account);
    let trailer = trailer(account, marks);
    // SAFETY: the caller guarantees `size + TRAILER` bytes at `block`; the trailer is the
    // last `TRAILER` of them, written unaligned.
    unsafe { ptr::write_unaligned(block.add(size).cast::<[u8; TRAILER]>(), trailer) };
    accounts::charge(account, size);
}

/// The trailer of a block charged to `account` with `marks`.
#[inline]
fn trailer(account: u32, marks: u32) -> [u8; TRAILER] {
    (u64::from(account) | u64::from(marks) << 32).to_le_bytes()
}

/// The account and the marks in the trailer of a block of `size` bytes at `block`.
///
/// # Safety
/// `block` must be a live block of `size` bytes that [`stamp`] wrote a trailer for.
#[inline]
unsafe fn account_of(block: *const u8, size: usize) -> (u32, u32) {
    // SAFETY: the block was allocated with `size + TRAILER` bytes and stamped; the
    // trailer is the last `TRAILER`, read unaligned.
    let trailer = unsafe { ptr::read_unaligned(block.add(size).cast::<[u8; TRAILER]>()) };
    let trailer = u64::from_le_bytes(trailer);
    (trailer as u32, (trailer >> 32) as u32)
}

// SAFETY: every block handed out comes from `inner` with the caller's alignment and at
// least the caller's size (plus the trailer), and is given back to `inner` with the same
// layout it was allocated with: the caller's layout plus `TRAILER`, which `with_trailer`
// computes the same way each time. The bookkeeping reads const thread-locals and adds to
// static atomics; a heap-profile sample (one per 512 KiB allocated by default) also walks
// the stack with the platform's unwinder (`_Unwind_Backtrace`, which uses the C library's
// allocator and loader lock, never Rust's allocator), and claims slots of fixed tables with
// compare-and-swap. None of it allocates through Rust's allocator, takes a lock of
// leakguard's or panics, so it cannot re-enter the allocator.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Alloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !ENABLED {
            // SAFETY: the caller's contract, forwarded.
            return unsafe { self.inner.alloc(layout) };
        }
        let Some(outer) = with_trailer(layout) else {
            return ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size (the trailer) and a valid alignment.
        let block = unsafe { self.inner.alloc(outer) };
        if !block.is_null() {
            // SAFETY: `block` has `outer.size()` = `size + TRAILER` bytes.
            unsafe { stamp(block, layout.size()) };
        }
        block
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !ENABLED {
            // SAFETY: the caller's contract, forwarded.
            return unsafe { self.inner.alloc_zeroed(layout) };
        }
        let Some(outer) = with_trailer(layout) else {
            return ptr::null_mut();
        };
        // SAFETY: as in `alloc`.
        let block = unsafe { self.inner.alloc_zeroed(outer) };
        if !block.is_null() {
            // SAFETY: as in `alloc`; the trailer overwrites zeroes past the caller's bytes.
            unsafe { stamp(block, layout.size()) };
        }
        block
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if !ENABLED {
            // SAFETY: the caller's contract, forwarded.
            return unsafe { self.inner.dealloc(block, layout) };
        }
        // SAFETY: the caller hands back a block this allocator allocated with `layout`,
        // so it was stamped, and `with_trailer` succeeded for it then.
        let (account, marks) = unsafe { account_of(block, layout.size()) };
        if marks != 0 {
            sampling::freed(marks);
        }
        accounts::discharge(account, layout.size());
        let outer = with_trailer(layout).unwrap_or(layout);
        // SAFETY: `outer` is the layout `block` was allocated with from `inner`.
        unsafe { self.inner.dealloc(block, outer) };
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !ENABLED {
            // SAFETY: the caller's contract, forwarded.
            return unsafe { self.inner.realloc(block, layout, new_size) };
        }
        let Some(new_outer) = new_size
            .checked_add(TRAILER)
            .and_then(|size| Layout::from_size_align(size, layout.align()).ok())
        else {
            // The old block stays valid and charged, as a failed realloc leaves it.
            return ptr::null_mut();
        };
        // SAFETY: as in `dealloc`: `block` was stamped for `layout.size()` bytes. Read
        // before `inner.realloc`, which may move or shrink the block past the trailer.
        let (account, marks) = unsafe { account_of(block, layout.size()) };
        let outer = with_trailer(layout).unwrap_or(layout);
        // SAFETY: `block` was allocated from `inner` with `outer`; `new_outer.size()` is
        // non-zero and valid for the alignment, as `Layout::from_size_align` checked.
        let moved = unsafe { self.inner.realloc(block, outer, new_outer.size()) };
        if !moved.is_null() {
            // To the profile, a realloc frees the old block and allocates the new one.
            if marks != 0 {
                sampling::freed(marks);
            }
            let trailer = trailer(account, sampling::marks_for(new_size, account));
            // SAFETY: `moved` has `new_size + TRAILER` bytes; the trailer is the last ones.
            unsafe { ptr::write_unaligned(moved.add(new_size).cast::<[u8; TRAILER]>(), trailer) };
            accounts::resize(account, layout.size(), new_size);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    //! The allocator over `System`, called directly, as miri runs it in CI: cross-thread
    //! frees, realloc, alignments up to 4 KiB and zero sizes.

    use super::*;

    static ALLOC: Alloc = Alloc::system();

    /// Allocates `size` bytes aligned to `align` under the current account, fills them,
    /// and returns the block.
    fn filled(size: usize, align: usize, zeroed: bool) -> (usize, Layout) {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: GlobalAlloc's contract is upheld by these tests: every block is freed
        // once, with its layout.
        let block = unsafe {
            if zeroed {
                ALLOC.alloc_zeroed(layout)
            } else {
                ALLOC.alloc(layout)
            }
        };
        assert!(!block.is_null());
        assert_eq!(block as usize % align, 0, "alignment {align}");
        if zeroed {
            // SAFETY: `size` bytes were allocated at `block`.
            assert!(
                unsafe { std::slice::from_raw_parts(block, size) }
                    .iter()
                    .all(|b| *b == 0)
            );
        }
        // SAFETY: as above.
        unsafe { block.write_bytes(0xA5, size) };
        (block as usize, layout)
    }

    fn free(block: usize, layout: Layout) {
        // SAFETY: `block` came from `filled` with `layout` and is freed once.
        unsafe { ALLOC.dealloc(block as *mut u8, layout) };
    }

    fn account_figures(account: u32) -> (usize, usize) {
        accounts::figures_of(account)
    }

    #[test]
    fn every_alignment_up_to_4_kib_and_zero_sizes_round_trip() {
        let account = accounts::test_account();
        let before = account_figures(account);
        let outer = accounts::set_current(account);
        let mut blocks = Vec::new();
        let mut align = 1;
        while align <= 4096 {
            for size in [0, 1, 7, 8, 9, 64, 4095, 4096] {
                blocks.push(filled(size, align, size % 2 == 1));
            }
            align *= 2;
        }
        accounts::set_current(outer);
        // `blocks` itself comes from the test binary's allocator, not this one.
        let sizes: usize = blocks.iter().map(|(_, l)| l.size()).sum();
        let after = account_figures(account);
        assert_eq!(after, (before.0 + sizes, before.1 + blocks.len()));
        for (block, layout) in blocks {
            free(block, layout);
        }
        assert_eq!(account_figures(account), before);
    }

    #[test]
    fn realloc_keeps_the_account_and_the_bytes() {
        let account = accounts::test_account();
        let before = account_figures(account);
        let outer = accounts::set_current(account);
        let (block, layout) = filled(24, 8, false);
        accounts::set_current(outer);
        let mut block = block as *mut u8;
        let mut size = layout.size();
        for new_size in [100, 3, 0, 5000, 64] {
            // SAFETY: `block` is live with `size` bytes at alignment 8.
            block = unsafe {
                ALLOC.realloc(block, Layout::from_size_align(size, 8).unwrap(), new_size)
            };
            assert!(!block.is_null());
            let kept = size.min(new_size);
            // SAFETY: the first `kept` bytes were carried over.
            let data = unsafe { std::slice::from_raw_parts(block, kept) };
            assert!(data.iter().all(|b| *b == 0xA5), "contents kept");
            // SAFETY: `new_size` bytes live at `block`.
            unsafe { block.write_bytes(0xA5, new_size) };
            size = new_size;
            assert_eq!(account_figures(account), (before.0 + size, before.1 + 1));
        }
        free(block as usize, Layout::from_size_align(size, 8).unwrap());
        assert_eq!(account_figures(account), before);
    }

    #[test]
    fn a_block_freed_on_another_thread_leaves_the_account_it_was_charged_to() {
        let account = accounts::test_account();
        let before = account_figures(account);
        let outer = accounts::set_current(account);
        let blocks: Vec<(usize, Layout)> = (0..8).map(|i| filled(16 << i, 16, false)).collect();
        accounts::set_current(outer);
        assert_eq!(account_figures(account).1, before.1 + 8);
        std::thread::spawn(move || {
            for (block, layout) in blocks {
                free(block, layout);
            }
        })
        .join()
        .unwrap();
        assert_eq!(account_figures(account), before);
    }

    #[test]
    fn a_sampled_block_carries_its_record_until_freed() {
        accounts::note_installed();
        let account = accounts::open("sampling test", accounts::name_hash("sampling test"));
        let outer = accounts::set_current(account);
        // `set_rate` draws this thread's countdown anew at 64 bytes: a 4 KiB block all but
        // surely outlasts it.
        sampling::set_rate(64);
        let (block, layout) = filled(4096, 16, false);
        sampling::set_rate(sampling::DEFAULT_RATE);
        accounts::set_current(outer);
        // SAFETY: `block` is live with `layout.size()` bytes, stamped.
        let (charged, marks) = unsafe { account_of(block as *const u8, layout.size()) };
        assert_eq!(charged, account);
        assert_eq!(marks & 1, 1, "sampled");
        let name = accounts::name_of(account);
        let live = || -> f64 {
            sampling::table::read()
                .iter()
                .filter(|s| s.name == name)
                .map(|s| s.inuse_bytes)
                .sum()
        };
        // Under miri, `exp` may be off in its last bits.
        assert!(
            (live() - 4096.0).abs() < 0.01,
            "a 4 KiB block at rate 64 stands for itself: {}",
            live()
        );
        free(block, layout);
        assert_eq!(live(), 0.0);
    }
}

#[cfg(test)]
mod threads;
