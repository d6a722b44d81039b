//! Time for expiry: the system's coarse monotonic clock, or a manual clock in tests.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Nanoseconds on a clock's own scale.
pub(crate) type Nanos = u64;

/// `duration` in nanoseconds, saturating at `Nanos::MAX` (some 584 years).
pub(crate) fn nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The source of time of a scoped cache: the system clock, or a [`ManualClock`].
///
/// The system clock is read through the operating system's coarse monotonic clock where it
/// has one (`CLOCK_MONOTONIC_COARSE` on Linux, a few nanoseconds a read), so that a TTL
/// costs little per operation. Its resolution is one scheduler tick (1–4 ms); an entry may
/// therefore expire up to two ticks before its TTL is up, never after. A TTL shorter than
/// ten ticks uses the precise clock instead.
#[derive(Clone, Default)]
pub struct Clock(Option<ManualClock>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// The clock for a cache created now on this thread: the [`ManualClock`] installed on the
    /// thread, if any, else the system clock.
    pub(crate) fn current() -> Self {
        INSTALLED
            .try_with(|installed| installed.borrow().last().cloned())
            .ok()
            .flatten()
            .map_or_else(Self::system, |clock| Self(Some(clock)))
    }

    /// The time now, and the resolution below which it cannot tell two times apart.
    #[inline]
    pub(crate) fn now(&self, ttl: Nanos) -> (Nanos, Nanos) {
        match &self.0 {
            Some(manual) => (manual.nanos(), 0),
            None => system::now(ttl),
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(manual) => manual.fmt(f),
            None => f.write_str("Clock::system()"),
        }
    }
}

impl From<ManualClock> for Clock {
    fn from(clock: ManualClock) -> Self {
        Self(Some(clock))
    }
}

/// A clock that moves only when told to, for tests.
///
/// Clones share the same time. Pass it to [`ScopedCacheBuilder::clock`](crate::ScopedCacheBuilder::clock),
/// or [`install`](ManualClock::install) it so that the scoped caches of `#[track_growth]`
/// structs created on this thread use it.
///
/// ```
/// use std::time::Duration;
/// use leakguard::{ManualClock, ScopedCache};
///
/// let clock = ManualClock::new();
/// let mut cache = ScopedCache::builder()
///     .ttl(Duration::from_secs(30))
///     .clock(clock.clone())
///     .build()
///     .unwrap();
/// cache.insert("token", 7);
/// clock.advance(Duration::from_secs(29));
/// assert_eq!(cache.get("token"), Some(&7));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(cache.get("token"), None);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = nanos(by);
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(by))
            });
    }

    /// The time since the clock's start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    fn nanos(&self) -> Nanos {
        self.0.load(Ordering::Relaxed)
    }

    /// Makes the scoped caches that `#[track_growth]` structs create on this thread use this
    /// clock, until the returned guard is dropped.
    ///
    /// Caches keep the clock they were created with.
    #[must_use = "the clock is uninstalled when the guard is dropped"]
    pub fn install(&self) -> ClockGuard {
        let _ = INSTALLED.try_with(|installed| installed.borrow_mut().push(self.clone()));
        ClockGuard(())
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.elapsed()).finish()
    }
}

thread_local! {
    static INSTALLED: RefCell<Vec<ManualClock>> = const { RefCell::new(Vec::new()) };
}

/// Keeps a [`ManualClock`] installed on this thread; see [`ManualClock::install`].
#[derive(Debug)]
pub struct ClockGuard(());

impl Drop for ClockGuard {
    fn drop(&mut self) {
        let _ = INSTALLED.try_with(|installed| installed.borrow_mut().pop());
    }
}

mod system {
    use super::Nanos;
    use std::sync::OnceLock;
    use std::time::Instant;

    /// The precise clock, in nanoseconds since the first read.
    fn precise() -> Nanos {
        static START: OnceLock<Instant> = OnceLock::new();
        let start = *START.get_or_init(Instant::now);
        super::nanos(start.elapsed())
    }

    /// How many coarse ticks a TTL must span for the coarse clock to serve it.
    const MIN_TICKS: u64 = 10;

    // Miri runs no vDSO: under it, the precise clock serves every TTL.
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    mod coarse {
        use super::Nanos;
        use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};
        use std::sync::atomic::{AtomicU64, Ordering};

        // `#[inline]` throughout: a cache's generic code, compiled in the user's crate, could
        // only call these otherwise, and a TTL cache reads the clock on nearly every operation.
        #[inline]
        fn nanos(ts: Timespec) -> Option<Nanos> {
            let secs = u64::try_from(ts.tv_sec).ok()?;
            let nanos = u64::try_from(ts.tv_nsec).ok()?;
            Some(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
        }

        /// The coarse clock's resolution, 0 until read, `u64::MAX` if unavailable.
        static TICK: AtomicU64 = AtomicU64::new(0);

        #[inline]
        pub(super) fn tick() -> Nanos {
            let tick = TICK.load(Ordering::Relaxed);
            if tick != 0 {
                return tick;
            }
            first_tick()
        }

        #[cold]
        fn first_tick() -> Nanos {
            let tick = nanos(clock_getres(ClockId::MonotonicCoarse))
                .filter(|&t| t > 0)
                .unwrap_or(u64::MAX);
            TICK.store(tick, Ordering::Relaxed);
            tick
        }

        /// rustix calls the vDSO directly, without libc's wrapper around it.
        #[inline]
        pub(super) fn now() -> Option<Nanos> {
            nanos(clock_gettime(ClockId::MonotonicCoarse))
        }
    }

    #[cfg(any(not(any(target_os = "linux", target_os = "android")), miri))]
    mod coarse {
        use super::Nanos;

        pub(super) fn tick() -> Nanos {
            u64::MAX
        }

        pub(super) fn now() -> Option<Nanos> {
            None
        }
    }

    /// The time for a cache with this `ttl`, and the clock's resolution.
    ///
    /// The coarse clock serves TTLs of at least ten of its ticks; shorter ones, and systems
    /// without one, use the precise clock.
    #[inline]
    pub(crate) fn now(ttl: Nanos) -> (Nanos, Nanos) {
        let tick = coarse::tick();
        if ttl / MIN_TICKS >= tick {
            if let Some(now) = coarse::now() {
                return (now, tick);
            }
        }
        (precise(), 0)
    }
}

/// The time on the system's monotonic clock, coarse where the system has a coarse clock:
/// for ages and rate windows, where a few milliseconds do not matter.
#[inline]
pub(crate) fn monotonic_now() -> Nanos {
    system::now(u64::MAX).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_moves_forward() {
        let clock = Clock::system();
        let (a, _) = clock.now(Duration::from_secs(60).as_nanos() as u64);
        std::thread::sleep(Duration::from_millis(20));
        let (b, tick) = clock.now(Duration::from_secs(60).as_nanos() as u64);
        assert!(b > a, "{a} then {b}");
        assert!(tick <= 10_000_000, "tick {tick}");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let manual = ManualClock::new();
        let clock = Clock::from(manual.clone());
        assert_eq!(clock.now(1), (0, 0));
        manual.advance(Duration::from_millis(5));
        assert_eq!(clock.now(1), (5_000_000, 0));
    }

    #[test]
    fn installed_clock_applies_until_its_guard_drops() {
        let manual = ManualClock::new();
        assert!(!Clock::current().is_manual());
        {
            let _guard = manual.install();
            assert!(Clock::current().is_manual());
        }
        assert!(!Clock::current().is_manual());
    }
}
