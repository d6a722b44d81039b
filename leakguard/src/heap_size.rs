//! Heap accounting: the [`HeapSize`] trait and its impls for std types.

use std::borrow::{Cow, ToOwned};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::ffi::{CString, OsString};
use std::marker::PhantomData;
use std::mem::{align_of, align_of_val, size_of, size_of_val};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};

/// Heap bytes a value owns, as requested from the allocator.
///
/// The figure is what a counting global allocator would see: the storage of a collection
/// counts its *capacity*, not its length (a truncated `Vec` and a map after deletes still
/// own their memory), plus the heap its elements own. Inline bytes (`size_of::<Self>()`)
/// are not included. A pointee shared through [`Arc`] or [`Rc`] is counted once per
/// measurement, together with its reference-count header.
///
/// Derive it for your own value types with [`#[derive(HeapSize)]`](derive@crate::HeapSize);
/// every `#[track_growth]` struct implements it too, so tracked structs nest.
///
/// # Implementing it by hand
///
/// A leaf type implements [`heap_size`](HeapSize::heap_size) only. A type that holds other
/// values overrides [`heap_size_in`](HeapSize::heap_size_in) as well and passes the
/// [`Measurement`] down, so that shared pointees are counted once:
///
/// ```
/// use leakguard::{HeapSize, Measurement};
///
/// struct Blob {
///     bytes: Box<[u8]>,
///     tags: Vec<String>,
/// }
///
/// impl HeapSize for Blob {
///     fn heap_size(&self) -> usize {
///         self.heap_size_in(&mut Measurement::new())
///     }
///
///     fn heap_size_in(&self, m: &mut Measurement) -> usize {
///         self.bytes.heap_size_in(m) + self.tags.heap_size_in(m)
///     }
/// }
///
/// let blob = Blob { bytes: vec![0; 100].into_boxed_slice(), tags: Vec::with_capacity(2) };
/// assert_eq!(blob.heap_size(), 100 + 2 * size_of::<String>());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `leakguard::HeapSize`",
    label = "leakguard cannot measure the heap this value owns",
    note = "derive it with `#[derive(leakguard::HeapSize)]` or implement it by hand; to leave the field unmeasured, mark it `#[track(skip)]` in a `#[track_growth]` struct or `#[heap_size(skip)]` in a derive"
)]
pub trait HeapSize {
    /// Heap bytes owned by `self`, counting a shared pointee once.
    fn heap_size(&self) -> usize;

    /// Heap bytes owned by `self` within an ongoing measurement.
    ///
    /// Containers override this to pass `m` to their elements; leaf types keep the default.
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let _ = m;
        self.heap_size()
    }

    /// The cheap figures of a collection, or `None` for a value that is not one.
    ///
    /// Computed in O(1) from the collection's length and capacity; the heap the elements
    /// own is not part of it. leakguard uses it to keep a tracked field's figures current
    /// without walking it.
    fn footprint(&self) -> Option<Footprint> {
        None
    }
}

/// The O(1) figures of a collection: what [`HeapSize::footprint`] returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Footprint {
    /// Entries held.
    pub len: usize,
    /// Entries the current storage can hold without growing.
    ///
    /// Equal to `len` for collections that allocate per entry (`BTreeMap`, `LinkedList`).
    pub capacity: usize,
    /// Heap bytes of the collection's own storage, excluding the heap its entries own.
    pub storage_bytes: usize,
}

impl Footprint {
    /// Storage bytes held for entries the collection does not currently hold.
    pub fn unused_bytes(&self) -> usize {
        if self.capacity == 0 || self.capacity <= self.len {
            return 0;
        }
        let unused = (self.capacity - self.len) as u128;
        (self.storage_bytes as u128 * unused / self.capacity as u128) as usize
    }
}

/// The state of one measurement: which shared pointees have already been counted.
///
/// Create one per measurement root; [`HeapSize::heap_size`] does it for you.
#[derive(Debug, Default)]
pub struct Measurement {
    seen: Option<HashSet<usize>>,
    running: bool,
}

impl Measurement {
    /// A fresh measurement in which nothing has been counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The measurement of one value entering or leaving a tracked collection.
    ///
    /// Each such value is measured on its own, so a shared pointee cannot be deduplicated
    /// against the rest of the collection; it is counted only when the value holds the
    /// sole strong reference. The next deep measurement of the collection corrects the
    /// running figure.
    pub(crate) fn running() -> Self {
        Self {
            seen: None,
            running: true,
        }
    }

    /// Whether to count the pointee at `ptr`, which has `strong_count` owners.
    ///
    /// `true` the first time a measurement reaches the pointee. Implementations of
    /// `HeapSize` for shared-ownership pointers count their pointee only when this returns
    /// `true`.
    pub fn count_shared<T: ?Sized>(&mut self, ptr: *const T, strong_count: usize) -> bool {
        if self.running {
            return strong_count <= 1;
        }
        self.seen
            .get_or_insert_with(HashSet::new)
            .insert(ptr.cast::<()>() as usize)
    }
}

macro_rules! no_heap {
    ($($ty:ty),* $(,)?) => {$(
        impl HeapSize for $ty {
            #[inline]
            fn heap_size(&self) -> usize {
                0
            }
        }
    )*};
}

no_heap! {
    (), bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, str,
    std::num::NonZeroU8, std::num::NonZeroU16, std::num::NonZeroU32, std::num::NonZeroU64,
    std::num::NonZeroU128, std::num::NonZeroUsize, std::num::NonZeroI8, std::num::NonZeroI16,
    std::num::NonZeroI32, std::num::NonZeroI64, std::num::NonZeroI128, std::num::NonZeroIsize,
    std::sync::atomic::AtomicBool, std::sync::atomic::AtomicU8, std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32, std::sync::atomic::AtomicU64, std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicI8, std::sync::atomic::AtomicI16, std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64, std::sync::atomic::AtomicIsize,
    std::time::Duration, std::time::Instant, std::time::SystemTime, std::cmp::Ordering,
    std::net::IpAddr, std::net::Ipv4Addr, std::net::Ipv6Addr, std::net::SocketAddr,
    std::net::SocketAddrV4, std::net::SocketAddrV6, std::any::TypeId,
    std::thread::ThreadId,
}

impl<T: ?Sized> HeapSize for PhantomData<T> {
    #[inline]
    fn heap_size(&self) -> usize {
        0
    }
}

impl<T: ?Sized> HeapSize for &T {
    /// A borrow owns nothing.
    #[inline]
    fn heap_size(&self) -> usize {
        0
    }
}

impl<T: ?Sized> HeapSize for &mut T {
    /// A borrow owns nothing.
    #[inline]
    fn heap_size(&self) -> usize {
        0
    }
}

impl<T: Copy> HeapSize for Cell<T> {
    /// A `Copy` value cannot own heap memory.
    #[inline]
    fn heap_size(&self) -> usize {
        0
    }
}

/// Implements `heap_size` through `heap_size_in` with a fresh measurement.
macro_rules! measured {
    () => {
        #[inline]
        fn heap_size(&self) -> usize {
            self.heap_size_in(&mut Measurement::new())
        }
    };
}

impl<T: HeapSize> HeapSize for [T] {
    measured!();

    #[inline]
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.iter().map(|e| e.heap_size_in(m)).sum()
    }
}

impl<T: HeapSize, const N: usize> HeapSize for [T; N] {
    measured!();

    #[inline]
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.as_slice().heap_size_in(m)
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    measured!();

    #[inline]
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.as_ref().map_or(0, |v| v.heap_size_in(m))
    }
}

impl<T: HeapSize, E: HeapSize> HeapSize for Result<T, E> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        match self {
            Ok(v) => v.heap_size_in(m),
            Err(e) => e.heap_size_in(m),
        }
    }
}

macro_rules! tuples {
    ($(($($name:ident $idx:tt),+))*) => {$(
        impl<$($name: HeapSize),+> HeapSize for ($($name,)+) {
            measured!();

            #[inline]
            fn heap_size_in(&self, m: &mut Measurement) -> usize {
                0 $(+ self.$idx.heap_size_in(m))+
            }
        }
    )*};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
}

impl<T: ?Sized + HeapSize> HeapSize for Box<T> {
    measured!();

    #[inline]
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        size_of_val::<T>(self) + (**self).heap_size_in(m)
    }
}

/// Bytes of the allocation behind an `Rc`/`Arc`: two counters, then the value (`repr(C)`).
fn counted_allocation(value_size: usize, value_align: usize) -> usize {
    let header = 2 * size_of::<usize>();
    let align = value_align.max(align_of::<usize>());
    let offset = header.next_multiple_of(value_align);
    (offset + value_size).next_multiple_of(align)
}

impl<T: ?Sized + HeapSize> HeapSize for Arc<T> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        if !m.count_shared(Arc::as_ptr(self), Arc::strong_count(self)) {
            return 0;
        }
        let value: &T = self;
        counted_allocation(size_of_val(value), align_of_val(value)) + value.heap_size_in(m)
    }
}

impl<T: ?Sized + HeapSize> HeapSize for Rc<T> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        if !m.count_shared(Rc::as_ptr(self), Rc::strong_count(self)) {
            return 0;
        }
        let value: &T = self;
        counted_allocation(size_of_val(value), align_of_val(value)) + value.heap_size_in(m)
    }
}

impl<T: ?Sized> HeapSize for std::sync::Weak<T> {
    /// A weak reference does not own its pointee.
    #[inline]
    fn heap_size(&self) -> usize {
        0
    }
}

impl<T: ?Sized> HeapSize for std::rc::Weak<T> {
    /// A weak reference does not own its pointee.
    #[inline]
    fn heap_size(&self) -> usize {
        0
    }
}

impl<B> HeapSize for Cow<'_, B>
where
    B: ?Sized + ToOwned,
    B::Owned: HeapSize,
{
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        match self {
            Cow::Borrowed(_) => 0,
            Cow::Owned(owned) => owned.heap_size_in(m),
        }
    }
}

impl<T: ?Sized + HeapSize> HeapSize for RefCell<T> {
    measured!();

    /// Counts 0 while the cell is mutably borrowed, rather than panicking.
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.try_borrow().map_or(0, |v| v.heap_size_in(m))
    }
}

impl<T: ?Sized + HeapSize> HeapSize for Mutex<T> {
    measured!();

    /// Counts 0 while another thread holds the lock: measuring never blocks.
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        match self.try_lock() {
            Ok(guard) => guard.heap_size_in(m),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().heap_size_in(m),
            Err(TryLockError::WouldBlock) => 0,
        }
    }
}

impl<T: ?Sized + HeapSize> HeapSize for RwLock<T> {
    measured!();

    /// Counts 0 while a writer holds the lock: measuring never blocks.
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        match self.try_read() {
            Ok(guard) => guard.heap_size_in(m),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().heap_size_in(m),
            Err(TryLockError::WouldBlock) => 0,
        }
    }
}

impl<T: HeapSize> HeapSize for OnceLock<T> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.get().map_or(0, |v| v.heap_size_in(m))
    }
}

impl HeapSize for String {
    #[inline]
    fn heap_size(&self) -> usize {
        self.capacity()
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.capacity(),
            storage_bytes: self.capacity(),
        })
    }
}

impl HeapSize for PathBuf {
    #[inline]
    fn heap_size(&self) -> usize {
        self.capacity()
    }
}

impl HeapSize for OsString {
    #[inline]
    fn heap_size(&self) -> usize {
        self.capacity()
    }
}

impl HeapSize for CString {
    #[inline]
    fn heap_size(&self) -> usize {
        self.as_bytes_with_nul().len()
    }
}

/// Bytes of a buffer of `capacity` elements of `T` (zero for zero-sized `T`).
#[inline]
fn array_bytes<T>(capacity: usize) -> usize {
    capacity.saturating_mul(size_of::<T>())
}

impl<T: HeapSize> HeapSize for Vec<T> {
    measured!();

    #[inline]
    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        array_bytes::<T>(self.capacity()) + self.as_slice().heap_size_in(m)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.capacity(),
            storage_bytes: array_bytes::<T>(self.capacity()),
        })
    }
}

impl<T: HeapSize> HeapSize for VecDeque<T> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let (front, back) = self.as_slices();
        array_bytes::<T>(self.capacity()) + front.heap_size_in(m) + back.heap_size_in(m)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.capacity(),
            storage_bytes: array_bytes::<T>(self.capacity()),
        })
    }
}

impl<T: HeapSize> HeapSize for BinaryHeap<T> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        array_bytes::<T>(self.capacity()) + self.as_slice().heap_size_in(m)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.capacity(),
            storage_bytes: array_bytes::<T>(self.capacity()),
        })
    }
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

impl<K: HeapSize, V: HeapSize, S> HeapSize for HashMap<K, V, S> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let entries: usize = self
            .iter()
            .map(|(k, v)| k.heap_size_in(m) + v.heap_size_in(m))
            .sum();
        hash_table_bytes::<(K, V)>(self.capacity()) + entries
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.capacity(),
            storage_bytes: hash_table_bytes::<(K, V)>(self.capacity()),
        })
    }
}

impl<T: HeapSize, S> HeapSize for HashSet<T, S> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let entries: usize = self.iter().map(|v| v.heap_size_in(m)).sum();
        hash_table_bytes::<T>(self.capacity()) + entries
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.capacity(),
            storage_bytes: hash_table_bytes::<T>(self.capacity()),
        })
    }
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
fn btree_bytes<K, V>(len: usize) -> usize {
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

impl<K: HeapSize, V: HeapSize> HeapSize for BTreeMap<K, V> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let entries: usize = self
            .iter()
            .map(|(k, v)| k.heap_size_in(m) + v.heap_size_in(m))
            .sum();
        btree_bytes::<K, V>(self.len()) + entries
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.len(),
            storage_bytes: btree_bytes::<K, V>(self.len()),
        })
    }
}

impl<T: HeapSize> HeapSize for BTreeSet<T> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let entries: usize = self.iter().map(|v| v.heap_size_in(m)).sum();
        btree_bytes::<T, ()>(self.len()) + entries
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.len(),
            storage_bytes: btree_bytes::<T, ()>(self.len()),
        })
    }
}

/// Mirror of std's linked-list node, for its size.
#[allow(dead_code)]
struct ListNode<T> {
    next: Option<std::ptr::NonNull<()>>,
    prev: Option<std::ptr::NonNull<()>>,
    element: T,
}

impl<T: HeapSize> HeapSize for LinkedList<T> {
    measured!();

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let entries: usize = self.iter().map(|v| v.heap_size_in(m)).sum();
        array_bytes::<ListNode<T>>(self.len()) + entries
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint {
            len: self.len(),
            capacity: self.len(),
            storage_bytes: array_bytes::<ListNode<T>>(self.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn arc_pointee_is_counted_once_per_measurement() {
        let shared = Arc::new(vec![0u8; 1000]);
        let v = vec![shared.clone(), shared.clone(), shared];
        let inner = counted_allocation(size_of::<Vec<u8>>(), align_of::<Vec<u8>>()) + 1000;
        assert_eq!(v.heap_size(), 3 * size_of::<Arc<Vec<u8>>>() + inner);
        // Each fresh measurement counts the pointee again.
        assert_eq!(v[0].heap_size(), inner);
    }

    #[test]
    fn unsized_arc_counts_its_header_and_bytes() {
        let s: Arc<str> = Arc::from("hello");
        // Two counters, then five bytes, rounded up to the counters' alignment.
        assert_eq!(s.heap_size(), 24);
    }

    #[test]
    fn unused_bytes_scale_with_free_capacity() {
        let fp = Footprint {
            len: 25,
            capacity: 100,
            storage_bytes: 800,
        };
        assert_eq!(fp.unused_bytes(), 600);
        assert_eq!(Footprint::default().unused_bytes(), 0);
    }
}
