//! `HeapSize` for the collections and values of other crates, each behind the feature named
//! after its crate.
//!
//! Exact where the crate's layout is known (hashbrown's tables are std's, a spilled
//! `SmallVec` is an array, an `IndexMap` is a vector of entries beside a table of indices);
//! where a type hides its buffer (`Bytes`), the figure says what it can and its docs say so.

#[allow(unused_imports)]
use super::{Footprint, HeapSize, HeapUsage, Measurement, Tally};

#[cfg(feature = "hashbrown")]
mod hashbrown_impls {
    use super::*;

    // hashbrown is the table behind std's `HashMap`: same buckets, same control bytes.
    impl<K: HeapSize, V: HeapSize, S> HeapSize for hashbrown::HashMap<K, V, S> {
        collection!(methods:
            Footprint::hash_table::<(K, V)>(this.len(), this.capacity()),
            |this, m, A| this
                .iter()
                .map(|(k, v)| A::of(k, m) + A::of(v, m))
                .sum::<A>()
        );
    }

    impl<T: HeapSize, S> HeapSize for hashbrown::HashSet<T, S> {
        collection!(methods:
            Footprint::hash_table::<T>(this.len(), this.capacity()),
            |this, m, A| this.iter().map(|v| A::of(v, m)).sum::<A>()
        );
    }
}

#[cfg(feature = "indexmap")]
mod indexmap_impls {
    use super::*;
    use crate::heap_size::layout::{array_bytes, hash_table_bytes};

    /// An entry of an `IndexMap`: its hash beside the key and value.
    #[allow(dead_code)]
    struct Bucket<K, V> {
        hash: usize,
        key: K,
        value: V,
    }

    /// The entries vector and the table of indices, both sized to `capacity`: indexmap grows
    /// the entries to the table's capacity, and reports the smaller of the two.
    fn index_footprint<K, V>(len: usize, capacity: usize) -> Footprint {
        Footprint {
            len,
            capacity,
            storage_bytes: array_bytes::<Bucket<K, V>>(capacity)
                + hash_table_bytes::<usize>(capacity),
        }
    }

    impl<K: HeapSize, V: HeapSize, S> HeapSize for indexmap::IndexMap<K, V, S> {
        collection!(
            index_footprint::<K, V>(this.len(), this.capacity()),
            |this, m, A| this
                .iter()
                .map(|(k, v)| A::of(k, m) + A::of(v, m))
                .sum::<A>()
        );
    }

    impl<T: HeapSize, S> HeapSize for indexmap::IndexSet<T, S> {
        collection!(
            index_footprint::<T, ()>(this.len(), this.capacity()),
            |this, m, A| this.iter().map(|v| A::of(v, m)).sum::<A>()
        );
    }
}

#[cfg(feature = "smallvec")]
mod smallvec_impls {
    use super::*;

    /// Inline elements own no heap; spilled ones are an array of `capacity`.
    fn small_footprint<A: smallvec::Array>(v: &smallvec::SmallVec<A>) -> Footprint {
        if v.spilled() {
            Footprint::array::<A::Item>(v.len(), v.capacity())
        } else {
            Footprint {
                len: v.len(),
                capacity: v.inline_size(),
                storage_bytes: 0,
            }
        }
    }

    impl<Arr: smallvec::Array> HeapSize for smallvec::SmallVec<Arr>
    where
        Arr::Item: HeapSize,
    {
        collection!(small_footprint(this), |this, m, A| A::of(
            this.as_slice(),
            m
        ));
    }
}

#[cfg(feature = "bytes")]
mod bytes_impls {
    use super::*;

    impl HeapSize for bytes::Bytes {
        /// Its length: a `Bytes` does not say how large the buffer it views is, nor whether
        /// it shares it or views static memory. A slice of a larger buffer undercounts it.
        #[inline]
        fn heap_size(&self) -> usize {
            self.len()
        }
    }

    impl HeapSize for bytes::BytesMut {
        #[inline]
        fn heap_size(&self) -> usize {
            self.capacity()
        }

        #[inline]
        fn heap_usage_in(&self, _: &mut Measurement) -> HeapUsage {
            HeapUsage::with_unused(self.capacity(), self.capacity() - self.len())
        }
    }
}

#[cfg(feature = "serde_json")]
mod serde_json_impls {
    use super::*;
    use crate::heap_size::layout::btree_bytes;

    impl HeapSize for serde_json::Value {
        walked!(|this, m, A| match this {
            serde_json::Value::String(s) => A::of(s, m),
            serde_json::Value::Array(values) => A::of(values, m),
            serde_json::Value::Object(map) => A::of(map, m),
            _ => A::default(),
        });
    }

    /// serde_json's `Map` is a `BTreeMap<String, Value>`; with serde_json's
    /// `preserve_order` it is an `IndexMap`, which this estimates as a B-tree too.
    impl HeapSize for serde_json::Map<String, serde_json::Value> {
        collection!(
            Footprint::per_entry(
                this.len(),
                btree_bytes::<String, serde_json::Value>(this.len())
            ),
            |this, m, A| this
                .iter()
                .map(|(k, v)| A::of(k, m) + A::of(v, m))
                .sum::<A>()
        );
    }
}

#[cfg(feature = "uuid")]
mod uuid_impls {
    use super::*;

    impl HeapSize for uuid::Uuid {
        #[inline]
        fn heap_size(&self) -> usize {
            0
        }
    }
}

#[cfg(feature = "chrono")]
mod chrono_impls {
    use super::*;

    macro_rules! no_heap {
        ($($ty:ty),*) => {$(
            impl HeapSize for $ty {
                #[inline]
                fn heap_size(&self) -> usize {
                    0
                }
            }
        )*};
    }

    no_heap!(
        chrono::NaiveDate,
        chrono::NaiveTime,
        chrono::NaiveDateTime,
        chrono::TimeDelta,
        chrono::Utc,
        chrono::FixedOffset,
        chrono::Weekday,
        chrono::Month
    );

    impl<Tz: chrono::TimeZone> HeapSize for chrono::DateTime<Tz> {
        /// A date and an offset: no heap for chrono's own time zones.
        #[inline]
        fn heap_size(&self) -> usize {
            0
        }
    }
}

#[cfg(feature = "parking_lot")]
mod parking_lot_impls {
    use super::*;

    impl<T: ?Sized + HeapSize> HeapSize for parking_lot::Mutex<T> {
        // Counts nothing while another thread holds the lock: measuring never blocks.
        walked!(|this, m, A| this
            .try_lock()
            .map(|guard| A::of::<T>(&guard, m))
            .unwrap_or_default());
    }

    impl<T: ?Sized + HeapSize> HeapSize for parking_lot::RwLock<T> {
        walked!(|this, m, A| this
            .try_read()
            .map(|guard| A::of::<T>(&guard, m))
            .unwrap_or_default());
    }
}

#[cfg(feature = "tokio")]
mod tokio_impls {
    use super::*;

    impl<T: ?Sized + HeapSize> HeapSize for tokio::sync::Mutex<T> {
        // Counts nothing while a task holds the lock: measuring never waits.
        walked!(|this, m, A| this
            .try_lock()
            .map(|guard| A::of::<T>(&guard, m))
            .unwrap_or_default());
    }

    impl<T: ?Sized + HeapSize> HeapSize for tokio::sync::RwLock<T> {
        walked!(|this, m, A| this
            .try_read()
            .map(|guard| A::of::<T>(&guard, m))
            .unwrap_or_default());
    }
}
