//! This thread's side of the accounts: which account is current, and what the thread
//! allocated and freed in it that is not yet in the account's atomic counter.
//!
//! An atomic read-modify-write costs 10-25 ns on a loaded machine, more when threads share
//! the cache line, and an alloc + free pair needs two: most of what `Alloc` added (W7). Yet
//! most blocks are charged to, and many freed from, the account current on the thread: the
//! thread keeps that account's change in two plain cells, and adds it to the account in one
//! go when the account stops being current (scope entered or left, a future's poll, a test
//! check, leakguard's own code), when it reaches [`PENDING_BLOCKS`] or [`PENDING_BYTES`]
//! either way, and when the thread ends. A block of another account (freed on another
//! thread, or in another scope) goes to its account at once, as before.
//!
//! The thread's end is seen by a thread-local with a destructor, registered on the thread's
//! first allocation. Registering must not re-enter the allocator through this path: with
//! glibc, std registers it with `__cxa_thread_atexit_impl`, which takes C `malloc`'s memory,
//! not Rust's global allocator; elsewhere std may push to a `Vec`, so allocations during
//! the registration take the atomic path (the phase is [`Phase::Arming`]). Once the
//! destructor has run, every change goes to its account at once, so that the thread-local
//! destructors that run after it still count exactly.

use std::cell::Cell;

use super::{OWN, STRIPES, add_to};

/// The most blocks a thread keeps uncounted in its current account, either way.
pub(crate) const PENDING_BLOCKS: u64 = 64;
/// The most bytes a thread keeps uncounted in its current account, either way.
pub(crate) const PENDING_BYTES: u64 = 64 * 1024;

/// No account: what the pending account is before the thread first allocates and after its
/// end, so that no block's account matches it.
const NO_ACCOUNT: u32 = u32::MAX;

/// Whether this thread keeps a pending change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// It has not allocated yet.
    Unarmed,
    /// It is registering the destructor that counts the change at its end.
    Arming,
    /// It keeps the current account's change in [`Local`].
    Armed,
    /// Its end: every change goes to its account at once.
    Ended,
}

/// This thread's accounting state; a const thread-local without a destructor, so that it
/// stays readable while the thread's other thread-locals are torn down.
struct Local {
    /// The account this thread's allocations go to; 0 for unscoped (a stripe of it).
    current: Cell<u32>,
    /// The account that is current when no scope is: a test check's, or 0.
    base: Cell<u32>,
    /// The account `bytes` and `blocks` are pending for: `current`, resolved to this
    /// thread's stripe for unscoped, while armed; [`NO_ACCOUNT`] otherwise.
    pending: Cell<u32>,
    bytes: Cell<i64>,
    blocks: Cell<i64>,
    phase: Cell<Phase>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            current: Cell::new(0),
            base: Cell::new(0),
            pending: Cell::new(NO_ACCOUNT),
            bytes: Cell::new(0),
            blocks: Cell::new(0),
            phase: Cell::new(Phase::Unarmed),
        }
    };
    /// Counts this thread's pending change when the thread ends.
    static AT_EXIT: FlushAtExit = const { FlushAtExit };
}

struct FlushAtExit;

impl Drop for FlushAtExit {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|local| {
            local.flush();
            local.phase.set(Phase::Ended);
            local.pending.set(NO_ACCOUNT);
        });
    }
}

impl Local {
    /// `current`, with unscoped resolved to this thread's stripe.
    #[inline]
    fn resolved(&self) -> u32 {
        let account = self.current.get();
        if account != 0 {
            return account;
        }
        // A stripe from the address of this thread's state: threads outside any scope do
        // not all add to one cache line.
        let here = std::ptr::from_ref(self) as usize;
        (here.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> (usize::BITS - 4)) as u32
            % STRIPES as u32
    }

    /// Adds `blocks` and `bytes` to `account`: to the pending change if it is the current
    /// account, else to the account's counter.
    #[inline]
    fn add(&self, account: u32, blocks: i64, bytes: i64) {
        if account == self.pending.get() {
            // The pending bytes stay within `PENDING_BYTES` of zero, and a block that was
            // allocated is far smaller than `i64::MAX`: the adds do not wrap.
            let bytes = self.bytes.get().wrapping_add(bytes);
            let blocks = self.blocks.get().wrapping_add(blocks);
            // Within the bounds either way: one unsigned compare each.
            let bytes_within = (bytes as u64).wrapping_add(PENDING_BYTES) <= 2 * PENDING_BYTES;
            let blocks_within = (blocks as u64).wrapping_add(PENDING_BLOCKS) <= 2 * PENDING_BLOCKS;
            if bytes_within && blocks_within {
                self.bytes.set(bytes);
                self.blocks.set(blocks);
            } else {
                self.bytes.set(0);
                self.blocks.set(0);
                add_to(account, blocks, bytes);
            }
            return;
        }
        self.add_elsewhere(account, blocks, bytes);
    }

    /// [`add`](Self::add) for a block of an account this thread keeps no change for: on the
    /// thread's first allocation, arms it. Out of line, to keep the common path short.
    #[inline(never)]
    fn add_elsewhere(&self, account: u32, blocks: i64, bytes: i64) {
        if self.phase.get() == Phase::Unarmed {
            // Every thread's first block comes here: what tells scopes that they need
            // accounts, off the common path.
            super::note_installed();
            self.phase.set(Phase::Arming);
            // Registers the destructor (see the module's docs: it does not come back here,
            // and if it does, the phase sends the allocation to its account).
            if AT_EXIT.try_with(|_| ()).is_ok() {
                self.phase.set(Phase::Armed);
                self.pending.set(self.resolved());
                if account == self.pending.get() {
                    return self.add(account, blocks, bytes);
                }
            } else {
                self.phase.set(Phase::Ended);
            }
        }
        add_to(account, blocks, bytes);
    }

    /// Adds the pending change to its account.
    fn flush(&self) {
        let (bytes, blocks) = (self.bytes.replace(0), self.blocks.replace(0));
        if bytes != 0 || blocks != 0 {
            add_to(self.pending.get(), blocks, bytes);
        }
    }

    /// The current account changed: counts the change pending for the one before, if
    /// any. Only its test is inlined.
    #[inline]
    fn retarget(&self) {
        if self.phase.get() == Phase::Armed {
            self.rearm();
        }
    }

    #[inline(never)]
    fn rearm(&self) {
        self.flush();
        self.pending.set(self.resolved());
    }
}

// The allocation path.

/// The account an allocation made now on this thread is charged to.
#[inline]
pub(crate) fn current() -> u32 {
    LOCAL.try_with(Local::resolved).unwrap_or(0)
}

/// Charges a block of `bytes` to `account`.
#[inline]
pub(crate) fn charge(account: u32, bytes: usize) {
    add(account, 1, bytes as i64);
}

/// Takes a block of `bytes` off `account`, which it was charged to.
#[inline]
pub(crate) fn discharge(account: u32, bytes: usize) {
    add(account, -1, (bytes as i64).wrapping_neg());
}

/// A block charged to `account` changed from `old` to `new` bytes (`realloc`).
#[inline]
pub(crate) fn resize(account: u32, old: usize, new: usize) {
    add(account, 0, (new as i64).wrapping_sub(old as i64));
}

#[inline]
fn add(account: u32, blocks: i64, bytes: i64) {
    if LOCAL
        .try_with(|local| local.add(account, blocks, bytes))
        .is_err()
    {
        add_to(account, blocks, bytes);
    }
}

// Outside the allocator.

/// Counts this thread's pending change in its account: what readers of the figures call
/// first, so that what the calling thread did is always in them.
pub(crate) fn flush() {
    let _ = LOCAL.try_with(Local::flush);
}

/// If `account` is the one this thread keeps a change for, counts the change.
pub(crate) fn flush_if_pending(account: u32) {
    let _ = LOCAL.try_with(|local| {
        if local.pending.get() == account {
            local.flush();
        }
    });
}

/// The account current on this thread as its scopes set it: 0 for unscoped.
pub(crate) fn current_unresolved() -> u32 {
    LOCAL.try_with(|local| local.current.get()).unwrap_or(0)
}

/// Makes `account` current on this thread (0: the base); returns the one it replaces.
/// Inlined: a future's poll calls it on entry and exit (issue 23), and most often the
/// account does not change, or nothing is pending for the one before.
#[inline]
pub(crate) fn set_current(account: u32) -> u32 {
    LOCAL
        .try_with(|local| {
            let account = if account == 0 {
                local.base.get()
            } else {
                account
            };
            let before = local.current.replace(account);
            if before != account {
                local.retarget();
            }
            before
        })
        .unwrap_or(0)
}

/// The account current when no scope is: a running test check's, or 0 for unscoped.
pub(crate) fn base() -> u32 {
    LOCAL.try_with(|local| local.base.get()).unwrap_or(0)
}

/// Makes `account` the base on this thread; returns the one it replaces.
pub(crate) fn set_base(account: u32) -> u32 {
    LOCAL
        .try_with(|local| local.base.replace(account))
        .unwrap_or(0)
}

/// Charges what this thread allocates to leakguard's own account until dropped.
pub(crate) struct Own(u32);

impl Own {
    pub(crate) fn start() -> Self {
        Own(set_current(OWN))
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|local| {
            if local.current.replace(self.0) != self.0 {
                local.retarget();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{counted, test_account};
    use super::*;

    #[test]
    fn the_current_account_s_change_is_counted_when_it_stops_being_current_or_grows_past_the_bounds()
     {
        let account = test_account();
        let other = test_account();
        let outer = set_current(account);
        charge(account, 100);
        charge(other, 10);
        assert_eq!(counted(account), (0, 0), "pending while current");
        assert_eq!(counted(other), (10, 1), "another account's block, at once");
        discharge(other, 10);
        for _ in 1..PENDING_BLOCKS {
            charge(account, 1);
        }
        assert_eq!(counted(account), (0, 0), "{PENDING_BLOCKS} blocks pending");
        charge(account, 1);
        let blocks = PENDING_BLOCKS as i64 + 1;
        assert_eq!(
            counted(account),
            (100 + blocks - 1, blocks),
            "past the bound"
        );
        charge(account, PENDING_BYTES as usize + 1);
        assert_eq!(
            counted(account),
            (100 + blocks + PENDING_BYTES as i64, blocks + 1)
        );
        resize(account, PENDING_BYTES as usize + 1, 1);
        assert_eq!(
            counted(account),
            (100 + blocks + PENDING_BYTES as i64, blocks + 1)
        );
        set_current(outer);
        assert_eq!(
            counted(account),
            (100 + blocks, blocks + 1),
            "no longer current"
        );
        // What a thread keeps pending may be freed elsewhere first: below zero for a moment.
        set_current(account);
        charge(account, 8);
        std::thread::spawn(move || discharge(account, 8))
            .join()
            .unwrap();
        assert_eq!(counted(account), (100 + blocks - 8, blocks));
        flush();
        assert_eq!(counted(account), (100 + blocks, blocks + 1));
        {
            let _own = Own::start();
            charge(OWN, 5);
        }
        assert_eq!(current(), account, "back from leakguard's own");
        set_current(outer);
        discharge(OWN, 5);
    }

    #[test]
    fn a_stripe_is_inside_the_unscoped_accounts() {
        assert!((LOCAL.with(Local::resolved) as usize) < STRIPES);
    }
}
