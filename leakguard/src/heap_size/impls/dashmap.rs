//! dashmap's `DashMap` and `DashSet`: an array of shards, each a lock around a hashbrown
//! table of `(K, SharedValue<V>)`, measured exactly from the shards' tables.
//!
//! Both change through `&self`: a tracked field of either compares its footprint at each
//! read (`HeapSize::__LEAKGUARD_SHARED_MUT` keeps its default). A shard's lock is only ever
//! *tried*: the caller may hold a `Ref` into a shard that a writer waits for, and waiting
//! behind that writer would never end. A footprint that cannot see every shard is `None`
//! (the read that wanted it skips its check), and a walk leaves such a shard's entries out
//! until the next one.
//!
//! The one `unsafe` block iterates a shard's table under its read guard.

use std::hash::{BuildHasher, Hash};
use std::mem::size_of_val;

use dashmap::{DashMap, DashSet, SharedValue};

use super::{Footprint, HeapSize, HeapUsage, Measurement, Tally};
use crate::heap_size::layout::hash_table_bytes;

/// The body of both impls, on `self.shards()`: both types hand out the same shards (a set's
/// values are `()`), whose table type dashmap does not name. `$entry` is the table's entry.
macro_rules! sharded {
    ($entry:ty, |$k:ident, $v:ident, $m:ident, $A:ident| $tally:expr) => {
        fn heap_size(&self) -> usize {
            self.heap_size_in(&mut Measurement::new())
        }

        fn heap_size_in(&self, m: &mut Measurement) -> usize {
            type $A = usize;
            walk!(self, m, $entry, $A, |$k, $v, $m| $tally)
        }

        fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
            type $A = HeapUsage;
            walk!(self, m, $entry, $A, |$k, $v, $m| $tally)
        }

        /// The shards' array, each shard padded to a cache line, and each shard's table;
        /// `None` when a shard is locked for writing.
        fn footprint(&self) -> Option<Footprint> {
            let shards = self.shards();
            let mut fp = Footprint {
                len: 0,
                capacity: 0,
                storage_bytes: size_of_val(shards),
            };
            for shard in shards {
                let table = shard.try_read()?;
                fp.len += table.len();
                fp.capacity += table.capacity();
                fp.storage_bytes += hash_table_bytes::<$entry>(table.capacity());
            }
            Some(fp)
        }
    };
}

/// The storage, and what `$tally` counts of every entry of the shards it can read.
macro_rules! walk {
    ($this:expr, $m:expr, $entry:ty, $A:ty, |$k:ident, $v:ident, $mm:ident| $tally:expr) => {{
        let shards = $this.shards();
        let mut storage = Footprint {
            len: 0,
            capacity: 0,
            storage_bytes: size_of_val(shards),
        };
        let mut entries = <$A as Tally>::used(0);
        for shard in shards {
            let Some(table) = shard.try_read() else {
                continue;
            };
            storage.len += table.len();
            storage.capacity += table.capacity();
            storage.storage_bytes += hash_table_bytes::<$entry>(table.capacity());
            // SAFETY: the read guard keeps the table alive and unchanged for the iteration.
            for bucket in unsafe { table.iter() } {
                // SAFETY: the iterator yields full buckets only, of a table the guard keeps.
                let ($k, $v) = unsafe { bucket.as_ref() };
                let $v = $v.get();
                let $mm: &mut Measurement = &mut *$m;
                entries += $tally;
            }
        }
        <$A as Tally>::storage(storage) + entries
    }};
}

impl<K: Eq + Hash + HeapSize, V: HeapSize, S: BuildHasher + Clone> HeapSize for DashMap<K, V, S> {
    sharded!((K, SharedValue<V>), |k, v, m, A| A::of(k, m) + A::of(v, m));
}

impl<K: Eq + Hash + HeapSize, S: BuildHasher + Clone> HeapSize for DashSet<K, S> {
    sharded!((K, SharedValue<()>), |k, v, m, A| {
        let _: &() = v;
        A::of(k, m)
    });
}
