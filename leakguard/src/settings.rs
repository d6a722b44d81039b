//! Settings shared by the whole process: those the layer configures, read by the detectors
//! wherever they run.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use crate::clock::{Nanos, nanos};

pub(crate) struct Settings {
    grace: AtomicU64,
    sample_interval: AtomicU64,
    growth_samples: AtomicU32,
    hoard_ratio: AtomicU32,
    hoard_bytes: AtomicUsize,
    report_interval: AtomicU64,
    history: AtomicUsize,
}

/// The defaults, documented on [`LeakLayer`](crate::LeakLayer).
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_GROWTH_SAMPLES: u32 = 5;
pub(crate) const DEFAULT_HOARD_RATIO: u32 = 4;
pub(crate) const DEFAULT_HOARD_BYTES: usize = 1 << 20;
pub(crate) const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_HISTORY: usize = 120;
/// The most samples of history a group keeps: 80 KB a group at most.
pub(crate) const MAX_HISTORY: usize = 10_000;

pub(crate) static SETTINGS: Settings = Settings {
    grace: AtomicU64::new(DEFAULT_GRACE.as_secs() * 1_000_000_000),
    sample_interval: AtomicU64::new(DEFAULT_SAMPLE_INTERVAL.as_secs() * 1_000_000_000),
    growth_samples: AtomicU32::new(DEFAULT_GROWTH_SAMPLES),
    hoard_ratio: AtomicU32::new(DEFAULT_HOARD_RATIO),
    hoard_bytes: AtomicUsize::new(DEFAULT_HOARD_BYTES),
    report_interval: AtomicU64::new(0),
    history: AtomicUsize::new(DEFAULT_HISTORY),
};

impl Settings {
    pub(crate) fn grace(&self) -> Nanos {
        self.grace.load(Relaxed)
    }
    pub(crate) fn sample_interval(&self) -> Nanos {
        self.sample_interval.load(Relaxed)
    }
    pub(crate) fn growth_samples(&self) -> u32 {
        self.growth_samples.load(Relaxed)
    }
    pub(crate) fn hoard_ratio(&self) -> u32 {
        self.hoard_ratio.load(Relaxed)
    }
    pub(crate) fn hoard_bytes(&self) -> usize {
        self.hoard_bytes.load(Relaxed)
    }
    pub(crate) fn report_interval(&self) -> Nanos {
        self.report_interval.load(Relaxed)
    }
    /// How many samples of each group's bytes the sampler keeps; 0 keeps none.
    pub(crate) fn history(&self) -> usize {
        self.history.load(Relaxed)
    }

    pub(crate) fn set_grace(&self, grace: Duration) {
        self.grace.store(nanos(grace), Relaxed);
    }
    pub(crate) fn set_sample_interval(&self, interval: Duration) {
        self.sample_interval.store(nanos(interval), Relaxed);
    }
    pub(crate) fn set_growth_samples(&self, samples: u32) {
        self.growth_samples.store(samples, Relaxed);
    }
    pub(crate) fn set_hoard(&self, ratio: u32, bytes: usize) {
        self.hoard_ratio.store(ratio, Relaxed);
        self.hoard_bytes.store(bytes, Relaxed);
    }
    pub(crate) fn set_history(&self, samples: usize) {
        self.history.store(samples, Relaxed);
    }
    pub(crate) fn set_report_interval(&self, interval: Option<Duration>) {
        self.report_interval
            .store(interval.map_or(0, nanos), Relaxed);
    }
}
