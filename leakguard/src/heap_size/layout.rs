//! Copies of other crates' internal layouts, for the sizes of their allocations: std's
//! hash table, B-tree, linked list and reference-counted boxes, and quick_cache's slab.
//!
//! None of them exposes what it allocates, so leakguard follows their layouts here, in one
//! place to check when they change.

use std::mem::{align_of, size_of};
use std::num::NonZeroU32;
use std::sync::atomic::AtomicU16;

/// Bytes of the allocation behind an `Rc`/`Arc`: two counters, then the value (`repr(C)`).
pub(crate) fn counted_allocation(value_size: usize, value_align: usize) -> usize {
    let header = 2 * size_of::<usize>();
    let align = value_align.max(align_of::<usize>());
    let offset = header.next_multiple_of(value_align);
    (offset + value_size).next_multiple_of(align)
}

/// Bytes of a buffer of `capacity` elements of `T` (zero for zero-sized `T`).
#[inline]
pub(crate) fn array_bytes<T>(capacity: usize) -> usize {
    capacity.saturating_mul(size_of::<T>())
}

/// Width of a control-byte group in the SwissTable behind std's `HashMap`.
const GROUP_WIDTH: usize = if cfg!(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
)) || cfg!(all(target_arch = "loongarch64", target_feature = "lsx"))
{
    16
} else if cfg!(any(target_pointer_width = "64", target_arch = "wasm32")) {
    8
} else {
    4
};

/// Buckets of a hash table whose `capacity()` reads `capacity`.
///
/// Tables have a power-of-two bucket count and hold 7/8 of it (all but one bucket below 8).
/// Tombstones left by deletions lower `capacity()` until the next rehash; rounding up to the
/// next power of two absorbs them as long as they are fewer than half the buckets.
#[inline]
pub(crate) fn hash_table_buckets(capacity: usize) -> usize {
    match capacity {
        0 => 0,
        1..=3 => 4,
        4..=7 => 8,
        _ => (capacity.saturating_mul(8) / 7).next_power_of_two(),
    }
}

/// Bytes of the allocation behind a std `HashMap`/`HashSet` with entries of type `T`.
#[inline]
pub(crate) fn hash_table_bytes<T>(capacity: usize) -> usize {
    let buckets = hash_table_buckets(capacity);
    if buckets == 0 {
        return 0;
    }
    let ctrl_align = align_of::<T>().max(GROUP_WIDTH);
    array_bytes::<T>(buckets).next_multiple_of(ctrl_align) + buckets + GROUP_WIDTH
}

/// Mirror of std's B-tree node layout (`alloc::collections::btree::node`), for its size.
#[allow(dead_code)]
struct LeafNode<K, V> {
    parent: Option<std::ptr::NonNull<()>>,
    parent_idx: u16,
    len: u16,
    keys: [std::mem::MaybeUninit<K>; 11],
    vals: [std::mem::MaybeUninit<V>; 11],
}

#[allow(dead_code)]
struct InternalNode<K, V> {
    data: LeafNode<K, V>,
    edges: [std::mem::MaybeUninit<std::ptr::NonNull<()>>; 12],
}

/// Estimated bytes of the nodes of a B-tree with `len` entries.
///
/// std does not expose its node count. A tree of up to 11 entries is one leaf; beyond that
/// this assumes the two-thirds fill that random insertion converges to, and one internal
/// node per eight children. Bulk-built or sequentially filled trees are denser, so the
/// figure is an upper estimate for them.
pub(crate) fn btree_bytes<K, V>(len: usize) -> usize {
    let leaf = size_of::<LeafNode<K, V>>();
    if len == 0 {
        return 0;
    }
    if len <= 11 {
        return leaf;
    }
    let leaves = len.div_ceil(8);
    let mut internal = 0;
    let mut level = leaves;
    while level > 1 {
        level = level.div_ceil(8);
        internal += level;
    }
    leaves * leaf + internal * size_of::<InternalNode<K, V>>()
}

/// Mirror of std's linked-list node, for its size.
#[allow(dead_code)]
pub(crate) struct ListNode<T> {
    next: Option<std::ptr::NonNull<()>>,
    prev: Option<std::ptr::NonNull<()>>,
    element: T,
}

/// Mirror of quick_cache 0.7's slab entry, for its size: `memory_used` reports the slab by
/// length, and the allocator sees its capacity.
#[allow(dead_code)]
mod quick_cache {
    use super::*;

    pub(super) struct SlabEntry<T> {
        item: Option<T>,
        next: NonZeroU32,
        prev: NonZeroU32,
    }

    pub(super) enum Entry<K, V> {
        Resident(Resident<K, V>),
        Placeholder(Placeholder<K>),
        Ghost(u64),
    }

    pub(super) struct Resident<K, V> {
        key: K,
        value: V,
        state: State,
        referenced: AtomicU16,
    }

    pub(super) enum State {
        Hot,
        Cold,
    }

    pub(super) struct Placeholder<K> {
        key: K,
        hot: State,
        shared: Shared,
    }

    pub(super) struct Shared {
        hash: u64,
        idx: NonZeroU32,
    }
}

/// Bytes of one quick_cache slab slot holding `(K, W)`.
pub(crate) const fn slab_slot<K, W>() -> usize {
    size_of::<quick_cache::SlabEntry<quick_cache::Entry<K, W>>>()
}

/// The capacity a `Vec` reaches when pushed to `len` elements of `size` bytes one by one.
pub(crate) fn pushed_capacity(len: usize, size: usize) -> usize {
    if len == 0 || size == 0 {
        return 0;
    }
    let min = if size == 1 {
        8
    } else if size <= 1024 {
        4
    } else {
        1
    };
    len.next_power_of_two().max(min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn hash_table_buckets_follow_the_swiss_table_growth_steps() {
        for (requested, expected) in [(0, 0), (1, 4), (3, 4), (4, 8), (7, 8), (8, 16), (14, 16)] {
            let map: HashMap<u64, u64> = HashMap::with_capacity(requested);
            assert_eq!(
                hash_table_buckets(map.capacity()),
                expected,
                "with_capacity({requested})"
            );
        }
        let map: HashMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
        assert_eq!(hash_table_buckets(map.capacity()), 2048);
    }
}
