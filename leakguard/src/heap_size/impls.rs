//! `HeapSize` for std types.

use std::borrow::{Cow, ToOwned};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::ffi::{CString, OsString};
use std::marker::PhantomData;
use std::mem::{align_of_val, size_of_val};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};

use super::layout::{ListNode, array_bytes, btree_bytes, counted_allocation};
use super::measured::{MeasureEntries, Measured};
use super::{Footprint, HeapSize, HeapUsage, Measurement};

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

/// What a walk adds up: bytes alone, for `heap_size_in`, or bytes and the unused part of
/// them, for `heap_usage_in`. Each container writes its walk once, generic over this; the
/// bytes-only walk then costs nothing for the unused figure it does not need.
trait Tally:
    Copy + Default + std::ops::Add<Output = Self> + std::ops::AddAssign + std::iter::Sum
{
    /// What `value` owns.
    fn of<T: ?Sized + HeapSize>(value: &T, m: &mut Measurement) -> Self;
    /// A collection's own storage.
    fn storage(footprint: Footprint) -> Self;
    /// `bytes` bytes, all in use.
    fn used(bytes: usize) -> Self;
    /// What a function of the owner measured.
    fn usage(usage: HeapUsage) -> Self;
}

impl Tally for usize {
    #[inline]
    fn of<T: ?Sized + HeapSize>(value: &T, m: &mut Measurement) -> Self {
        value.heap_size_in(m)
    }

    #[inline]
    fn storage(footprint: Footprint) -> Self {
        footprint.storage_bytes
    }

    #[inline]
    fn used(bytes: usize) -> Self {
        bytes
    }

    #[inline]
    fn usage(usage: HeapUsage) -> Self {
        usage.bytes
    }
}

impl Tally for HeapUsage {
    #[inline]
    fn of<T: ?Sized + HeapSize>(value: &T, m: &mut Measurement) -> Self {
        value.heap_usage_in(m)
    }

    #[inline]
    fn storage(footprint: Footprint) -> Self {
        HeapUsage::of_collection(footprint, HeapUsage::NONE)
    }

    #[inline]
    fn used(bytes: usize) -> Self {
        HeapUsage::used(bytes)
    }

    #[inline]
    fn usage(usage: HeapUsage) -> Self {
        usage
    }
}

/// The sum of `$value` over the entries of `$entries`, as a `$A`, in a plain loop: where
/// `iter().map(..).sum()` would instantiate the iterator's `fold`, `Map`, `Sum` and two
/// closures for each collection type, in every crate that measures one (a debug build
/// compiles them all).
macro_rules! each {
    ($A:ty, for $pat:pat in $entries:expr => $value:expr) => {{
        let mut total = <$A as Default>::default();
        for $pat in $entries {
            total += $value;
        }
        total
    }};
}

/// Implements `heap_size`, `heap_size_in` and `heap_usage_in` from one walk, `body`, which
/// reads `this` and `m` and adds up a [`Tally`] named `A`.
macro_rules! walked {
    (|$this:ident, $m:ident, $A:ident| $body:expr) => {
        #[inline]
        fn heap_size(&self) -> usize {
            self.heap_size_in(&mut Measurement::new())
        }

        #[inline]
        fn heap_size_in(&self, $m: &mut Measurement) -> usize {
            type $A = usize;
            let $this = self;
            $body
        }

        #[inline]
        fn heap_usage_in(&self, $m: &mut Measurement) -> HeapUsage {
            type $A = HeapUsage;
            let $this = self;
            $body
        }
    };
}

impl<T: HeapSize> HeapSize for [T] {
    walked!(|this, m, A| each!(A, for e in this => A::of(e, m)));
}

impl<T: HeapSize, const N: usize> HeapSize for [T; N] {
    walked!(|this, m, A| A::of(this.as_slice(), m));
}

impl<T: HeapSize> HeapSize for Option<T> {
    walked!(|this, m, A| this.as_ref().map(|v| A::of(v, m)).unwrap_or_default());
}

impl<T: HeapSize, E: HeapSize> HeapSize for Result<T, E> {
    walked!(|this, m, A| match this {
        Ok(v) => A::of(v, m),
        Err(e) => A::of(e, m),
    });
}

macro_rules! tuples {
    ($(($($name:ident $idx:tt),+))*) => {$(
        impl<$($name: HeapSize),+> HeapSize for ($($name,)+) {
            walked!(|this, m, A| A::default() $(+ A::of(&this.$idx, m))+);
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
    // The boxed value itself is used; what it owns may not be.
    walked!(|this, m, A| A::used(size_of_val::<T>(this)) + A::of::<T>(this, m));
}

/// A value shared through an `Rc`/`Arc`: its allocation, once per measurement.
#[inline]
fn shared<A: Tally, T: ?Sized + HeapSize>(value: &T, counted: bool, m: &mut Measurement) -> A {
    if !counted {
        return A::default();
    }
    A::used(counted_allocation(size_of_val(value), align_of_val(value))) + A::of(value, m)
}

impl<T: ?Sized + HeapSize> HeapSize for Arc<T> {
    walked!(|this, m, A| {
        let counted = m.count_shared(Arc::as_ptr(this), Arc::strong_count(this));
        shared::<A, T>(this, counted, m)
    });
}

impl<T: ?Sized + HeapSize> HeapSize for Rc<T> {
    walked!(|this, m, A| {
        let counted = m.count_shared(Rc::as_ptr(this), Rc::strong_count(this));
        shared::<A, T>(this, counted, m)
    });
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
    walked!(|this, m, A| match this {
        Cow::Borrowed(_) => A::default(),
        Cow::Owned(owned) => A::of(owned, m),
    });
}

impl<T: ?Sized + HeapSize> HeapSize for RefCell<T> {
    // Counts nothing while the cell is mutably borrowed, rather than panicking.
    walked!(|this, m, A| this
        .try_borrow()
        .map(|v| A::of::<T>(&v, m))
        .unwrap_or_default());
}

impl<T: ?Sized + HeapSize> HeapSize for Mutex<T> {
    // Counts nothing while another thread holds the lock: measuring never blocks.
    walked!(|this, m, A| match this.try_lock() {
        Ok(guard) => A::of::<T>(&guard, m),
        Err(TryLockError::Poisoned(poisoned)) => A::of::<T>(&poisoned.into_inner(), m),
        Err(TryLockError::WouldBlock) => A::default(),
    });
}

impl<T: ?Sized + HeapSize> HeapSize for RwLock<T> {
    // Counts nothing while a writer holds the lock: measuring never blocks.
    walked!(|this, m, A| match this.try_read() {
        Ok(guard) => A::of::<T>(&guard, m),
        Err(TryLockError::Poisoned(poisoned)) => A::of::<T>(&poisoned.into_inner(), m),
        Err(TryLockError::WouldBlock) => A::default(),
    });
}

impl<T: HeapSize> HeapSize for OnceLock<T> {
    walked!(|this, m, A| this.get().map(|v| A::of(v, m)).unwrap_or_default());
}

/// A buffer of bytes with a length and a capacity: the spare capacity is unused.
macro_rules! byte_buffer {
    ($($ty:ty: $len:expr),*) => {$(
        impl HeapSize for $ty {
            #[inline]
            fn heap_size(&self) -> usize {
                self.capacity()
            }

            #[inline]
            fn heap_usage_in(&self, _: &mut Measurement) -> HeapUsage {
                let len: fn(&$ty) -> usize = $len;
                HeapUsage::with_unused(self.capacity(), self.capacity() - len(self))
            }
        }
    )*};
}

byte_buffer!(PathBuf: |p| p.as_os_str().len(), OsString: |s| s.len());

impl HeapSize for String {
    #[inline]
    fn heap_size(&self) -> usize {
        self.capacity()
    }

    #[inline]
    fn heap_usage_in(&self, _: &mut Measurement) -> HeapUsage {
        HeapUsage::with_unused(self.capacity(), self.capacity() - self.len())
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::array::<u8>(self.len(), self.capacity()))
    }

    const __LEAKGUARD_SHARED_MUT: bool = false;
    const __LEAKGUARD_EXACT_AFTER_MUT: bool = true;
}

impl HeapSize for CString {
    #[inline]
    fn heap_size(&self) -> usize {
        self.as_bytes_with_nul().len()
    }
}

/// The storage of a collection, from its footprint, and what its entries own.
macro_rules! collection {
    (methods: $($rest:tt)*) => {
        collection!($($rest)*);

        const __LEAKGUARD_EXACT_AFTER_MUT: bool = true;
    };
    ($footprint:expr, |$this:ident, $m:ident, $A:ident| $entries:expr) => {
        walked!(|$this, $m, $A| {
            let footprint: Footprint = $footprint;
            $A::storage(footprint) + $entries
        });

        #[inline]
        fn footprint(&self) -> Option<Footprint> {
            let $this = self;
            Some($footprint)
        }

        const __LEAKGUARD_SHARED_MUT: bool = false;
    };
}

impl<T: HeapSize> HeapSize for Vec<T> {
    collection!(methods:
        Footprint::array::<T>(this.len(), this.capacity()),
        |this, m, A| A::of(this.as_slice(), m)
    );
}

impl<T: HeapSize> HeapSize for VecDeque<T> {
    collection!(methods:
        Footprint::array::<T>(this.len(), this.capacity()),
        |this, m, A| {
            let (front, back) = this.as_slices();
            A::of(front, m) + A::of(back, m)
        }
    );
}

impl<T: HeapSize> HeapSize for BinaryHeap<T> {
    collection!(methods:
        Footprint::array::<T>(this.len(), this.capacity()),
        |this, m, A| A::of(this.as_slice(), m)
    );
}

impl<K: HeapSize, V: HeapSize, S> HeapSize for HashMap<K, V, S> {
    collection!(methods:
        Footprint::hash_table::<(K, V)>(this.len(), this.capacity()),
        |this, m, A| each!(A, for (k, v) in this => A::of(k, m) + A::of(v, m))
    );
}

impl<T: HeapSize, S> HeapSize for HashSet<T, S> {
    collection!(methods:
        Footprint::hash_table::<T>(this.len(), this.capacity()),
        |this, m, A| each!(A, for v in this => A::of(v, m))
    );
}

impl<K: HeapSize, V: HeapSize> HeapSize for BTreeMap<K, V> {
    collection!(methods:
        Footprint::per_entry(this.len(), btree_bytes::<K, V>(this.len())),
        |this, m, A| each!(A, for (k, v) in this => A::of(k, m) + A::of(v, m))
    );
}

impl<T: HeapSize> HeapSize for BTreeSet<T> {
    collection!(methods:
        Footprint::per_entry(this.len(), btree_bytes::<T, ()>(this.len())),
        |this, m, A| each!(A, for v in this => A::of(v, m))
    );
}

impl<T: HeapSize> HeapSize for LinkedList<T> {
    collection!(methods:
        Footprint::per_entry(this.len(), array_bytes::<ListNode<T>>(this.len())),
        |this, m, A| each!(A, for v in this => A::of(v, m))
    );
}

impl<T: HeapSize> HeapSize for std::cell::OnceCell<T> {
    walked!(|this, m, A| this.get().map(|v| A::of(v, m)).unwrap_or_default());
}

/// The std collections again, their elements measured by the functions of the owner `O`
/// (`#[heap_size(each = ..)]`, `key = ..`, `value = ..`): the same storage, other entries.
macro_rules! measured {
    ($($collection:ident<$($param:ident),*> [$key:ty, $value:ty] => $footprint:expr, |$this:ident, $m:ident| $entries:expr;)*) => {$(
        impl<$($param,)* O, const J: usize> HeapSize for Measured<$collection<$($param),*>, O, J>
        where
            O: MeasureEntries<J, Key = $key, Value = $value>,
        {
            collection!($footprint, |$this, $m, A| {
                let entries: HeapUsage = $entries;
                A::usage(entries)
            });
        }
    )*};
}

measured! {
    Vec<T> [T, ()] => Footprint::array::<T>(this.len(), this.capacity()),
        |this, m| each!(HeapUsage, for v in this => O::key(v, m));
    VecDeque<T> [T, ()] => Footprint::array::<T>(this.len(), this.capacity()),
        |this, m| each!(HeapUsage, for v in this => O::key(v, m));
    BinaryHeap<T> [T, ()] => Footprint::array::<T>(this.len(), this.capacity()),
        |this, m| each!(HeapUsage, for v in this => O::key(v, m));
    LinkedList<T> [T, ()] => Footprint::per_entry(this.len(), array_bytes::<ListNode<T>>(this.len())),
        |this, m| each!(HeapUsage, for v in this => O::key(v, m));
    HashSet<T, S> [T, ()] => Footprint::hash_table::<T>(this.len(), this.capacity()),
        |this, m| each!(HeapUsage, for v in this => O::key(v, m));
    BTreeSet<T> [T, ()] => Footprint::per_entry(this.len(), btree_bytes::<T, ()>(this.len())),
        |this, m| each!(HeapUsage, for v in this => O::key(v, m));
    HashMap<K, V, S> [K, V] => Footprint::hash_table::<(K, V)>(this.len(), this.capacity()),
        |this, m| each!(HeapUsage, for (k, v) in this => O::key(k, m) + O::value(v, m));
    BTreeMap<K, V> [K, V] => Footprint::per_entry(this.len(), btree_bytes::<K, V>(this.len())),
        |this, m| each!(HeapUsage, for (k, v) in this => O::key(k, m) + O::value(v, m));
}

// After the macros above, which it uses.
#[cfg(feature = "dashmap")]
mod dashmap;
mod ecosystem;

#[cfg(test)]
mod tests {
    use super::super::layout::counted_allocation;
    use super::*;
    use std::mem::{align_of, size_of};

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
    fn unused_bytes_are_spare_capacity_at_every_depth() {
        let mut line = String::with_capacity(4096);
        line.push_str("twenty bytes of text");
        let usage = line.heap_usage_in(&mut Measurement::new());
        assert_eq!(usage, HeapUsage::with_unused(4096, 4076));

        let mut lines = Vec::with_capacity(4);
        lines.push(line);
        let usage = lines.heap_usage_in(&mut Measurement::new());
        // Three spare `String`s of storage, and the first one's spare bytes.
        assert_eq!(usage.bytes, 4 * size_of::<String>() + 4096);
        assert_eq!(usage.unused, 3 * size_of::<String>() + 4076);
        assert_eq!(lines.heap_size(), usage.bytes);

        let boxed: Box<[Vec<u8>]> = vec![Vec::with_capacity(64)].into_boxed_slice();
        let usage = boxed.heap_usage_in(&mut Measurement::new());
        assert_eq!(usage, HeapUsage::with_unused(size_of::<Vec<u8>>() + 64, 64));
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
        // Storage times the spare entries past a word: still exact, three quarters of
        // 2^n - 1 rounded down, 3 * 2^(n-2) - 1.
        let huge = Footprint {
            len: 1,
            capacity: 4,
            storage_bytes: usize::MAX,
        };
        assert_eq!(huge.unused_bytes(), usize::MAX / 4 * 3 + 2);
    }
}
