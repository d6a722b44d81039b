//! The heap accounts of [`Alloc`](crate::Alloc): a fixed table of counters, one per leak
//! scope instance holding memory, that the allocator charges every block to.
//!
//! The allocation path touches only this module's statics and const thread-locals: a
//! block of the account current on the thread is counted in two plain thread-local cells,
//! which go to the account's atomic counter when the account stops being current (see
//! [`local`]); any other block, with one relaxed atomic add to its account. No lock, no map,
//! nothing allocated (saluki's memory-accounting allocator; rerun's re_memory for the const
//! thread-local). Everything that names, opens, ends or reads accounts runs outside the
//! allocator, in ordinary code.
//!
//! The table is fixed, so leakguard's own memory does not grow with the number of scope
//! instances: [`INSTANCES`] accounts for instances, reused once an instance has ended and
//! freed all it allocated. Past the table, a new instance shares its name's *folded*
//! account, which counts as held by ended instances (retained) from the start, and as one
//! instance. Names past [`NAMES`] share one, `(other scopes)`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

mod local;
mod names;

#[cfg(test)]
pub(crate) use local::current_unresolved;
pub(crate) use local::{
    Own, base, charge, current, discharge, flush, resize, set_base, set_current,
};
pub(crate) use names::name_hash;

/// Scope instances with an account of their own at once.
pub(crate) const INSTANCES: usize = 4096;
/// Scope names told apart; more share the last name, `(other scopes)`.
pub(crate) const NAMES: usize = 512;
/// Accounts unscoped memory is spread over, so that threads outside any scope do not all
/// add to one cache line.
const STRIPES: usize = 16;

/// The account of leakguard's own memory: its tables, names and pending events.
pub(crate) const OWN: u32 = STRIPES as u32;
const FOLDED_BASE: usize = STRIPES + 1;
const INSTANCE_BASE: usize = FOLDED_BASE + NAMES;
const TOTAL: usize = INSTANCE_BASE + INSTANCES;

/// The name index of unscoped memory and of leakguard's own.
pub(crate) const UNSCOPED_NAME: u32 = 0;
pub(crate) const OWN_NAME: u32 = 1;
/// The first index of a scope's name.
pub(crate) const FIRST_SCOPE_NAME: u32 = 2;

/// One account; a cache line of its own, so that instances on different threads do not
/// contend.
#[repr(align(64))]
struct Account {
    /// Live blocks and bytes, packed by [`pack`]: one atomic add counts a block.
    live: AtomicU64,
    /// [`State`], packed.
    state: AtomicU64,
}

/// The bits of [`Account::live`] that count bytes, as a signed number: up to 128 GiB live
/// in one account, and up to 2^25 (33 million) live blocks above them.
const BYTES_BITS: u32 = 38;

/// Blocks and bytes as one word that adds like the pair: `blocks * 2^38 + bytes`, modulo
/// 2^64. Either may be below zero for a moment, when a block freed on one thread reaches
/// the account before the thread that allocated it counted it (see [`local`]).
fn pack(blocks: i64, bytes: i64) -> u64 {
    ((blocks as u64) << BYTES_BITS).wrapping_add(bytes as u64)
}

/// The blocks and bytes [`pack`] packed: bytes sign-extended from the low bits, blocks the
/// rest.
fn unpack(word: u64) -> (i64, i64) {
    let bytes = ((word << (64 - BYTES_BITS)) as i64) >> (64 - BYTES_BITS);
    let blocks = (word as i64).wrapping_sub(bytes) >> BYTES_BITS;
    (blocks, bytes)
}

impl Account {
    const fn new() -> Self {
        Self {
            live: AtomicU64::new(0),
            state: AtomicU64::new(0),
        }
    }

    /// Live bytes and blocks, below zero for a moment when a free on one thread got here
    /// before the thread that allocated the block counted it.
    fn read(&self) -> (i64, i64) {
        let (blocks, bytes) = unpack(self.live.load(Ordering::Acquire));
        (bytes, blocks)
    }
}

/// Figures summed over accounts, as readers show them: none below zero.
fn shown(signed: i64) -> u64 {
    signed.max(0) as u64
}

static TABLE: [Account; TOTAL] = [const { Account::new() }; TOTAL];

/// Whether an [`Alloc`](crate::Alloc) has charged anything: without one, no scope needs an
/// account.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The lifecycle of an instance account, packed into its `state`: the phase in bits 0-1,
/// the name index in bits 2-11, how many instances have had the account in bits 12-31
/// (so that an open that read an ended state cannot take the account from the instance
/// that reused it since and ended in turn, with the same name: ThreadSanitizer's scheduling
/// found that), the test check's tag in bits 32-63.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    phase: Phase,
    name: u32,
    generation: u32,
    check: u32,
}

const NAME_MASK: u64 = 0x3ff;
const GENERATION_MASK: u64 = 0xf_ffff;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Free = 0,
    Running = 1,
    Ended = 2,
}

impl State {
    fn pack(self) -> u64 {
        self.phase as u64
            | (u64::from(self.name) & NAME_MASK) << 2
            | (u64::from(self.generation) & GENERATION_MASK) << 12
            | u64::from(self.check) << 32
    }

    fn unpack(word: u64) -> Self {
        let phase = match word & 3 {
            1 => Phase::Running,
            2 => Phase::Ended,
            _ => Phase::Free,
        };
        Self {
            phase,
            name: ((word >> 2) & NAME_MASK) as u32,
            generation: ((word >> 12) & GENERATION_MASK) as u32,
            check: (word >> 32) as u32,
        }
    }
}

// The allocation path, beside the thread's side in [`local`].

/// Adds `blocks` and `bytes` to `account`'s counter.
#[inline]
fn add_to(account: u32, blocks: i64, bytes: i64) {
    if let Some(account) = TABLE.get(account as usize) {
        account
            .live
            .fetch_add(pack(blocks, bytes), Ordering::Relaxed);
    }
}

/// Notes that an allocator charges accounts: the first block a thread charges or
/// discharges does.
pub(crate) fn note_installed() {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Whether an [`Alloc`](crate::Alloc) is installed and has allocated.
#[inline]
pub(crate) fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

// Opening and ending accounts.

/// Where the search for a free account starts, and how many opens are left to skip the
/// search after one found the table full.
static CURSOR: AtomicUsize = AtomicUsize::new(0);
static SKIP_SEARCH: AtomicU32 = AtomicU32::new(0);
/// After a full table, the next opens go to folded accounts without searching.
const SKIP_AFTER_FULL: u32 = 64;

/// Opens the account of a new scope instance named `name`, whose [`name_hash`] is `hash`,
/// under the test check of the account current on this thread; 0 if no allocator is
/// installed. Inlined: without one, a scope's creation pays a load and a branch for it
/// rather than a call (issue 23).
#[inline]
pub(crate) fn open(name: &str, hash: u64) -> u32 {
    if !installed() {
        return 0;
    }
    let check = check_of(local::current_unresolved());
    open_under(name, hash, check)
}

/// Opens the account of test check `check`, named `name`; 0 if no allocator is installed.
pub(crate) fn open_check(name: &str, check: u32) -> u32 {
    open_under(name, name_hash(name), check)
}

/// The test check of `account`, 0 for none.
fn check_of(account: u32) -> u32 {
    if (account as usize) < INSTANCE_BASE {
        return 0;
    }
    TABLE.get(account as usize).map_or(0, |a| {
        let state = State::unpack(a.state.load(Ordering::Acquire));
        if state.phase == Phase::Running {
            state.check
        } else {
            0
        }
    })
}

fn open_under(name: &str, hash: u64, check: u32) -> u32 {
    if !installed() {
        return 0;
    }
    let name = names::index(name, hash);
    if SKIP_SEARCH.load(Ordering::Relaxed) == 0 {
        let start = CURSOR.load(Ordering::Relaxed);
        for step in 0..INSTANCES {
            let at = (start + step) % INSTANCES;
            let account = &TABLE[INSTANCE_BASE + at];
            let word = account.state.load(Ordering::Acquire);
            let state = State::unpack(word);
            let reusable = match state.phase {
                Phase::Free => true,
                Phase::Ended => account.read().1 == 0,
                Phase::Running => false,
            };
            let running = State {
                phase: Phase::Running,
                name,
                generation: state.generation.wrapping_add(1),
                check,
            }
            .pack();
            if reusable
                && account
                    .state
                    .compare_exchange(word, running, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                CURSOR.store(at + 1, Ordering::Relaxed);
                return (INSTANCE_BASE + at) as u32;
            }
        }
        SKIP_SEARCH.store(SKIP_AFTER_FULL, Ordering::Relaxed);
    } else {
        let _ =
            SKIP_SEARCH.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
    (FOLDED_BASE + name as usize) as u32
}

/// The instance of `account` ended: what it still holds is retained. Idempotent.
pub(crate) fn end(account: u32) {
    let at = account as usize;
    if !(INSTANCE_BASE..TOTAL).contains(&at) {
        return;
    }
    // Ended with nothing live, the account may be reused: nothing of it may stay pending
    // here. (No other thread keeps a change for it: an instance cannot end while it is
    // current on a thread, whose scope, span or future holds it.)
    local::flush_if_pending(account);
    let state = &TABLE[at].state;
    let _ = state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
        let mut s = State::unpack(word);
        (s.phase == Phase::Running).then(|| {
            s.phase = Phase::Ended;
            s.pack()
        })
    });
}

// Reading the figures.

/// What one scope name's instances hold. See [`ScopeHeap`](crate::ScopeHeap).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NameFigures {
    pub(crate) name: Cow<'static, str>,
    pub(crate) live_bytes: u64,
    pub(crate) live_blocks: u64,
    pub(crate) retained_bytes: u64,
    pub(crate) retained_instances: u64,
    pub(crate) running_instances: u64,
}

/// Every account's figures, by name: index 0 is unscoped memory, 1 leakguard's own, then
/// each scope name that holds or held memory. Exact for what this thread did, and for the
/// scopes current on no other thread; see [`local`] for the others.
pub(crate) fn by_name() -> Vec<NameFigures> {
    flush();
    let names = {
        let _own = Own::start();
        names::all()
    };
    let mut figures: Vec<NameFigures> = names
        .into_iter()
        .map(|name| NameFigures {
            name,
            ..NameFigures::default()
        })
        .collect();
    // Live bytes and blocks, summed before any is shown: one account's may be below zero
    // for a moment, when another's of the name is above by as much.
    let mut live = vec![(0_i64, 0_i64); figures.len()];
    for (at, account) in TABLE.iter().enumerate() {
        let (bytes, blocks) = account.read();
        let (name, retained, instance) = if at < STRIPES {
            (UNSCOPED_NAME, false, false)
        } else if at == OWN as usize {
            (OWN_NAME, false, false)
        } else if at < INSTANCE_BASE {
            let name = (at - FOLDED_BASE) as u32;
            (name, true, true)
        } else {
            let state = State::unpack(account.state.load(Ordering::Acquire));
            if state.phase == Phase::Free {
                continue;
            }
            if state.phase == Phase::Running {
                if let Some(f) = figures.get_mut(state.name as usize) {
                    f.running_instances += 1;
                }
            }
            (state.name, state.phase == Phase::Ended, true)
        };
        let (Some(f), Some(live)) = (figures.get_mut(name as usize), live.get_mut(name as usize))
        else {
            continue;
        };
        live.0 += bytes;
        live.1 += blocks;
        if retained && instance && bytes > 0 {
            f.retained_bytes += shown(bytes);
            f.retained_instances += 1;
        }
    }
    for (f, (bytes, blocks)) in figures.iter_mut().zip(live) {
        // Retained is part of live, whatever running instance is short for a moment.
        f.live_bytes = shown(bytes).max(f.retained_bytes);
        f.live_blocks = shown(blocks).max(f.retained_instances);
    }
    figures
}

/// What the accounts of test check `check` hold: bytes and blocks.
pub(crate) fn held_by_check(check: u32) -> (u64, u64) {
    let mut held = (0, 0);
    if check == 0 {
        return (0, 0);
    }
    flush();
    for account in &TABLE[INSTANCE_BASE..] {
        let state = State::unpack(account.state.load(Ordering::Acquire));
        if state.phase != Phase::Free && state.check == check {
            let (bytes, blocks) = account.read();
            held.0 += bytes;
            held.1 += blocks;
        }
    }
    (shown(held.0), shown(held.1))
}

/// The index of the name `account` is kept under, as [`by_name`] orders names: for the
/// heap profile's samples. Lock-free, allocation-free.
pub(crate) fn name_of(account: u32) -> u32 {
    let at = account as usize;
    if at < STRIPES {
        UNSCOPED_NAME
    } else if at == OWN as usize {
        OWN_NAME
    } else if at < INSTANCE_BASE {
        (at - FOLDED_BASE) as u32
    } else {
        TABLE.get(at).map_or(UNSCOPED_NAME, |a| {
            State::unpack(a.state.load(Ordering::Acquire)).name
        })
    }
}

/// A fresh account, for the allocator's own tests.
#[cfg(test)]
pub(crate) fn test_account() -> u32 {
    note_installed();
    open("allocator test", name_hash("allocator test"))
}

/// The bytes and blocks charged to `account`.
#[cfg(test)]
pub(crate) fn figures_of(account: u32) -> (usize, usize) {
    flush();
    let (bytes, blocks) = TABLE[account as usize].read();
    (shown(bytes) as usize, shown(blocks) as usize)
}

/// What `account`'s counter holds, without counting what this thread keeps pending.
#[cfg(test)]
fn counted(account: u32) -> (i64, i64) {
    TABLE[account as usize].read()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_packs_and_unpacks() {
        let s = State {
            phase: Phase::Ended,
            name: 511,
            generation: 0xf_ffff,
            check: u32::MAX,
        };
        assert_eq!(State::unpack(s.pack()), s);
    }

    #[test]
    fn blocks_and_bytes_add_packed_either_side_of_zero() {
        let cases = [
            (0, 0),
            (1, 64),
            (-1, -64),
            (3, -5),
            (-3, 5),
            (1 << 24, (1 << 37) - 1),
        ];
        for (blocks, bytes) in cases {
            assert_eq!(unpack(pack(blocks, bytes)), (blocks, bytes));
        }
        // A free that gets to the account before its allocation, then the allocation.
        let free_first = pack(-1, -100);
        assert_eq!(unpack(free_first), (-1, -100));
        assert_eq!(unpack(free_first.wrapping_add(pack(1, 100))), (0, 0));
        let most = pack((1 << 25) - 1, (1 << 37) - 1);
        assert_eq!(unpack(most), ((1 << 25) - 1, (1 << 37) - 1));
    }
}
