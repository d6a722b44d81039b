//! Bounds in entries, in bytes, or both, as quick_cache's weights: what a cache bounded by
//! `max_bytes` (a [`ScopedCache`](super::ScopedCache) or a `SharedCache`) weighs each entry.

/// The bounds of a cache: `max` entries and `max_bytes` bytes, 0 for no bound of that kind.
///
/// Under `max` alone an entry weighs 1 against a capacity of `max`; under `max_bytes` alone
/// it weighs its bytes against `max_bytes`; under both, the larger of its share of `max`
/// and its share of `max_bytes`, each counted in [`UNITS`] per entry, against `max` entries'
/// worth of units, so that a sum within the capacity keeps both bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Weigh {
    pub(crate) max: u64,
    pub(crate) max_bytes: u64,
}

/// Under both bounds, the units an entry's share is counted in, per entry: fine enough that
/// rounding every share up loses under a thousandth of the bound. Counted in whole entries,
/// an entry of 1.4 entries' worth of bytes weighed 2, and a cache of such entries settled
/// at 70% of its `max_bytes`.
pub(crate) const UNITS: u64 = 1024;

impl Weigh {
    /// The units of weight an entry's share of `max` is: [`UNITS`] under both bounds (less
    /// if `max` is so large that its units would overflow), 1 otherwise. With `max = 1`,
    /// 1 too: quick_cache admits no entry heavier than 97% of the capacity.
    #[inline]
    pub(crate) fn units(self) -> u64 {
        match (self.max, self.max_bytes) {
            (0 | 1, _) | (_, 0) => 1,
            (max, _) => UNITS.min(u64::MAX / 4 / max).max(1),
        }
    }

    /// Whether entries are weighed by their bytes, rather than counted.
    #[inline]
    pub(crate) fn by_bytes(self) -> bool {
        self.max_bytes != 0
    }

    /// The weight all entries together may reach; `u64::MAX` when unbounded.
    pub(crate) fn capacity(self) -> u64 {
        match (self.max, self.max_bytes) {
            (0, 0) => u64::MAX,
            (0, max_bytes) => max_bytes,
            (max, _) => max * self.units(),
        }
    }

    /// How many entries to tell quick_cache to expect: the bound in entries, or under a
    /// bound in bytes alone one entry per 64 bytes; 0 when unbounded.
    pub(crate) fn estimated_items(self) -> usize {
        let items = match (self.max, self.max_bytes) {
            (0, 0) => 0,
            (0, max_bytes) => (max_bytes / 64).max(1),
            (max, _) => max,
        };
        usize::try_from(items).unwrap_or(usize::MAX)
    }

    /// The weight of an entry of `bytes`, key and value, inline and on the heap.
    #[inline]
    pub(crate) fn weight(self, bytes: u64) -> u64 {
        match (self.max, self.max_bytes) {
            (_, 0) => 1,
            (0, _) => bytes.max(1),
            (max, max_bytes) => {
                let units = self.units();
                let scaled =
                    (u128::from(bytes) * u128::from(max * units)).div_ceil(u128::from(max_bytes));
                u64::try_from(scaled).unwrap_or(u64::MAX).max(units)
            }
        }
    }

    /// The most bytes an entry may have and still be admitted by quick_cache, which turns
    /// away an entry heavier than its hot section, 97% of the capacity.
    pub(crate) fn admissible_bytes(self) -> u64 {
        let capacity = self.capacity();
        let hot = ((capacity as f64 * 0.97) as u64).clamp(capacity.min(1), capacity);
        match (self.max, self.max_bytes) {
            (_, 0) => u64::MAX,
            (0, _) => hot,
            (max, max_bytes) => {
                let bytes =
                    u128::from(hot) * u128::from(max_bytes) / u128::from(max * self.units());
                u64::try_from(bytes).unwrap_or(u64::MAX)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_weighs_its_share_of_every_bound() {
        let count = Weigh {
            max: 10,
            max_bytes: 0,
        };
        assert_eq!((count.capacity(), count.weight(5_000)), (10, 1));
        let bytes = Weigh {
            max: 0,
            max_bytes: 1_000,
        };
        assert_eq!(
            (bytes.capacity(), bytes.weight(300), bytes.weight(0)),
            (1_000, 300, 1)
        );
        // 100 entries or 1,000 bytes: an entry of 25 bytes is 2.5 hundredths of the bytes,
        // in 1,024ths of an entry rounded up; one of 1 byte weighs its share of the entries.
        let both = Weigh {
            max: 100,
            max_bytes: 1_000,
        };
        assert_eq!(
            (both.capacity(), both.weight(25), both.weight(1)),
            (102_400, 2_560, 1_024)
        );
        assert_eq!(both.weight(14), 1_434, "1.4 entries' worth of bytes");
        let one = Weigh {
            max: 1,
            max_bytes: 1_000,
        };
        assert_eq!((one.capacity(), one.weight(900)), (1, 1));
        assert_eq!(Weigh::default().capacity(), u64::MAX);
    }

    #[test]
    fn the_admissible_entry_weighs_no_more_than_the_hot_section() {
        for weigh in [
            Weigh {
                max: 0,
                max_bytes: 1_000,
            },
            Weigh {
                max: 100,
                max_bytes: 1_000,
            },
            Weigh {
                max: 7,
                max_bytes: 1 << 20,
            },
            Weigh {
                max: u64::MAX / 2,
                max_bytes: 1 << 20,
            },
        ] {
            let hot = (weigh.capacity() as f64 * 0.97) as u64;
            let bytes = weigh.admissible_bytes();
            assert!(weigh.weight(bytes) <= hot, "{weigh:?}");
            assert!(weigh.weight(bytes + bytes / 50 + 1) > hot, "{weigh:?}");
        }
    }
}
