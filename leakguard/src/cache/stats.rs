//! What a scoped cache counts: its stats, and the heap its entries moved in and out.

use crate::heap_size::{HeapChange, HeapUsage};

/// Heap that entries brought in (positive) or took out since the figures last looked;
/// nothing is kept when instrumentation is compiled out.
#[derive(Default)]
pub(crate) struct Delta([HeapChange; crate::mode::ENABLED as usize]);

impl Delta {
    #[inline]
    pub(crate) fn add(&mut self, change: HeapChange) {
        if let Some(d) = self.0.first_mut() {
            *d += change;
        }
    }

    /// Records that `usage` went out.
    #[inline]
    pub(crate) fn lose(&mut self, usage: HeapUsage) {
        if let Some(d) = self.0.first_mut() {
            *d -= usage;
        }
    }

    /// What was added since the last call.
    pub(crate) fn take(&mut self) -> HeapChange {
        self.0.first_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// The counters behind [`CacheStats`]; removals follow from the others and the length.
#[derive(Clone, Copy, Default)]
pub(crate) struct Counters {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) insertions: u64,
    pub(crate) evictions: u64,
    pub(crate) expirations: u64,
}

impl Counters {
    /// The stats of a collection that holds `held` entries now.
    pub(crate) fn stats(&self, held: usize) -> CacheStats {
        let out = self.evictions + self.expirations + held as u64;
        CacheStats {
            hits: self.hits,
            misses: self.misses,
            insertions: self.insertions,
            evictions: self.evictions,
            expirations: self.expirations,
            removals: self.insertions.saturating_sub(out),
        }
    }
}

/// What a scoped cache has done since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found none, or only an expired one.
    pub misses: u64,
    /// Entries added under a new key.
    pub insertions: u64,
    /// Entries evicted to stay within `max`.
    pub evictions: u64,
    /// Entries released because their TTL was up.
    pub expirations: u64,
    /// Entries removed by the caller (`remove`, `retain`, `clear`).
    pub removals: u64,
}
