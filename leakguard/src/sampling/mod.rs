//! Which allocations the heap profile samples, and the call stacks it keeps for them.
//!
//! A Poisson sample of the bytes allocated, as Go's runtime and jemalloc take: each thread
//! counts down a random number of bytes, drawn from an exponential distribution whose mean
//! is the rate, and the allocation that takes the count below zero is sampled, so that an
//! allocation of `size` bytes is sampled with probability `1 - exp(-size / rate)`. An
//! allocation that is not sampled costs one subtract and compare on a const thread-local.
//!
//! A sample records the return addresses of the stack (no symbols: those are resolved
//! when a profile is asked for) into the fixed tables of [`table`], under a thread-local
//! flag that keeps any allocation made meanwhile from being sampled in turn. Nothing here
//! allocates through the global allocator.

pub(crate) mod table;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::accounts;

/// The default rate: on average one sample per 512 KiB allocated, as Go's.
pub(crate) const DEFAULT_RATE: u64 = 512 * 1024;
/// The rate before the environment was read.
const UNREAD: u64 = u64::MAX;
/// With sampling off, how many bytes a thread allocates between looks at the rate.
const OFF_RECHECK: i64 = 64 << 20;

/// Bytes between samples on average; 0 for none.
static RATE: AtomicU64 = AtomicU64::new(UNREAD);
/// Seeds threads' generators apart.
static SEED: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);

thread_local! {
    /// Bytes this thread allocates before its next sample; 0 until its first allocation
    /// draws it.
    static COUNTDOWN: Cell<i64> = const { Cell::new(0) };
    /// Whether this thread has drawn its first countdown.
    static STARTED: Cell<bool> = const { Cell::new(false) };
    /// The rate this thread's countdown was drawn at.
    static DRAWN: Cell<u64> = const { Cell::new(0) };
    /// Set while this thread takes a sample or builds a profile: nothing is sampled then.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// This thread's xorshift state; 0 until seeded.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// The marks for a block of `size` bytes just allocated under `account`: 0 if it is not
/// sampled, else bit 0 and its record's index above it.
#[inline]
pub(crate) fn marks_for(size: usize, account: u32) -> u32 {
    let due = COUNTDOWN
        .try_with(|left| {
            let now = left.get().wrapping_sub(size as i64);
            left.set(now);
            now < 0
        })
        .unwrap_or(false);
    if due { sample(size, account) } else { 0 }
}

/// A block with `marks` (not 0) was freed (or moved by `realloc`). Out of line: the free
/// of an unsampled block only tests its marks against zero.
#[cold]
#[inline(never)]
pub(crate) fn freed(marks: u32) {
    if marks & 1 != 0 {
        table::release(marks >> 1);
    }
}

/// The current rate, from `LEAKGUARD_HEAP_SAMPLE_RATE` the first time.
pub(crate) fn rate() -> u64 {
    let rate = RATE.load(Ordering::Relaxed);
    if rate != UNREAD {
        return rate;
    }
    let from_env = env_rate().unwrap_or(DEFAULT_RATE);
    // A rate set in code meanwhile wins.
    match RATE.compare_exchange(UNREAD, from_env, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => from_env,
        Err(set) => set,
    }
}

/// Sets the rate: at once on the calling thread, whose countdown starts anew, and on the
/// others at their next sample.
pub(crate) fn set_rate(bytes: u64) {
    let rate = bytes.min(UNREAD - 1);
    RATE.store(rate, Ordering::Relaxed);
    if let Some(_busy) = Busy::enter() {
        let _ = STARTED.try_with(|started| started.set(true));
        redraw(rate);
    }
}

/// `LEAKGUARD_HEAP_SAMPLE_RATE`, read without allocating: `None` if unset or not a number.
fn env_rate() -> Option<u64> {
    #[cfg(all(unix, not(miri)))]
    {
        // SAFETY: the name is a NUL-terminated C string; `getenv` returns null or a
        // NUL-terminated string that stays valid until the environment is changed, and it
        // is read at once.
        let value = unsafe { libc::getenv(c"LEAKGUARD_HEAP_SAMPLE_RATE".as_ptr()) };
        if value.is_null() {
            return None;
        }
        // SAFETY: as above, `value` is a NUL-terminated string.
        let bytes = unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes();
        parse_rate(bytes)
    }
    #[cfg(not(all(unix, not(miri))))]
    {
        std::env::var_os("LEAKGUARD_HEAP_SAMPLE_RATE")
            .and_then(|v| v.to_str().and_then(|v| parse_rate(v.as_bytes())))
    }
}

/// A rate in bytes, as an integer: `4096`, `0` for off.
pub(crate) fn parse_rate(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text).ok()?.trim().parse().ok()
}

/// Marks this thread busy until dropped, so that it samples nothing; `None` if it already
/// was (or its thread-locals are gone).
pub(crate) struct Busy(());

impl Busy {
    pub(crate) fn enter() -> Option<Self> {
        // `then`, not `then_some`: a `Busy` made and dropped when the thread was already
        // busy would clear the flag.
        BUSY.try_with(|busy| !busy.replace(true))
            .unwrap_or(false)
            .then(|| Busy(()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = BUSY.try_with(|busy| busy.set(false));
    }
}

/// The next uniform number in `[0, 1)` of this thread's generator.
fn uniform() -> f64 {
    let next = RNG
        .try_with(|state| {
            let mut x = state.get();
            if x == 0 {
                // Seeded from a global sequence and where this thread's locals are.
                let here = std::ptr::from_ref(state) as u64;
                x = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ here.rotate_left(32);
                x |= 1;
            }
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            state.set(x);
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        })
        .unwrap_or(0x2545_F491_4F6C_DD1D);
    (next >> 11) as f64 / (1u64 << 53) as f64
}

/// Bytes until the next sample at `rate`: exponentially distributed, mean `rate`.
fn draw(rate: u64) -> i64 {
    let bytes = -(1.0 - uniform()).ln() * rate as f64;
    bytes.min(i64::MAX as f64 / 2.0) as i64
}

/// The objects a sample of `size` bytes at `rate` stands for: Go's un-biasing,
/// `1 / (1 - exp(-size / rate))`.
pub(crate) fn weight(size: usize, rate: u64) -> f64 {
    if rate == 0 || size == 0 {
        return 1.0;
    }
    let p = -(-(size as f64) / rate as f64).exp_m1();
    if p > 0.0 { 1.0 / p } else { 1.0 }
}

/// Starts this thread's next countdown at `rate`.
fn redraw(rate: u64) {
    let next = if rate == 0 { OFF_RECHECK } else { draw(rate) };
    let _ = COUNTDOWN.try_with(|left| left.set(next));
    let _ = DRAWN.try_with(|drawn| drawn.set(rate));
}

/// The slow path: the countdown ran out on an allocation of `size` bytes.
#[cold]
#[inline(never)]
fn sample(size: usize, account: u32) -> u32 {
    let Some(_busy) = Busy::enter() else {
        return 0;
    };
    let rate = rate();
    if !STARTED
        .try_with(|started| started.replace(true))
        .unwrap_or(true)
    {
        // The thread's first allocation: its countdown starts now, with this allocation
        // counted against it, as any other.
        redraw(rate);
        let due = COUNTDOWN
            .try_with(|left| {
                left.set(left.get().saturating_sub(size as i64));
                left.get() < 0
            })
            .unwrap_or(false);
        if !due {
            return 0;
        }
    }
    // The countdown that ran out was drawn at `drawn`: the sample stands for allocations
    // at that rate, whatever the rate is now (the process stays a Poisson one).
    let drawn = DRAWN.try_with(Cell::get).unwrap_or(0);
    redraw(rate);
    if drawn == 0 {
        return 0;
    }
    let mut frames = [0usize; table::DEPTH];
    let depth = capture(&mut frames);
    let name = accounts::name_of(account);
    match table::record(name, &frames[..depth], size, weight(size, drawn)) {
        Some(at) => at << 1 | 1,
        None => 0,
    }
}

/// Fills `frames` with the return addresses of the calling stack, leaf first; returns how
/// many. Empty where stacks are not walked (under miri, and off Unix, where walking a stack
/// needs a lock that may allocate).
fn capture(frames: &mut [usize; table::DEPTH]) -> usize {
    #[cfg(all(unix, not(miri)))]
    {
        let mut depth = 0;
        // SAFETY: `trace_unsynchronized` is unsafe for want of synchronization with other
        // unwinds on platforms whose unwinder is not thread-safe (Windows' dbghelp); on
        // Unix it is `_Unwind_Backtrace`, which is, and which does not allocate through
        // Rust's allocator. The callback only stores addresses.
        unsafe {
            backtrace::trace_unsynchronized(|frame| {
                let ip = frame.ip() as usize;
                if ip == 0 {
                    // The end of the stack, as some unwinders report it.
                    return false;
                }
                let Some(slot) = frames.get_mut(depth) else {
                    return false;
                };
                *slot = ip;
                depth += 1;
                depth < frames.len()
            });
        }
        depth
    }
    #[cfg(not(all(unix, not(miri))))]
    {
        let _ = frames;
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weight_un_biases_as_go_does() {
        assert!((weight(524_288, 524_288) - 1.0 / (1.0 - (-1.0f64).exp())).abs() < 1e-9);
        assert!(
            (weight(1 << 30, 4096) - 1.0).abs() < 1e-9,
            "a large block is one"
        );
        assert!((weight(16, 524_288) - 524_288.0 / 16.0).abs() < 1.0);
    }

    #[test]
    fn draws_average_the_rate() {
        let n = if cfg!(miri) { 200 } else { 20_000 };
        let mean = (0..n).map(|_| draw(4096) as f64).sum::<f64>() / n as f64;
        let tolerance = if cfg!(miri) { 0.25 } else { 0.05 };
        assert!((mean / 4096.0 - 1.0).abs() < tolerance, "mean {mean}");
    }

    #[test]
    fn a_busy_thread_stays_busy_until_its_first_guard_drops() {
        let outer = Busy::enter().expect("not busy");
        assert!(Busy::enter().is_none());
        assert!(
            Busy::enter().is_none(),
            "a refused guard does not clear the flag"
        );
        drop(outer);
        assert!(Busy::enter().is_some());
    }

    #[test]
    fn rates_parse_as_integers() {
        assert_eq!(parse_rate(b"4096"), Some(4096));
        assert_eq!(parse_rate(b" 0 "), Some(0));
        assert_eq!(parse_rate(b"4 KiB"), None);
        assert_eq!(parse_rate(b"-1"), None);
    }
}
