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

/// Implements `heap_size` and `heap_size_in` through `heap_usage_in`: one walk gives both
/// the bytes and the part of them unused.
macro_rules! measured {
    () => {
        #[inline]
        fn heap_size(&self) -> usize {
            self.heap_size_in(&mut Measurement::new())
        }

        #[inline]
        fn heap_size_in(&self, m: &mut Measurement) -> usize {
            self.heap_usage_in(m).bytes
        }
    };
}

impl<T: HeapSize> HeapSize for [T] {
    measured!();

    #[inline]
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.iter().map(|e| e.heap_usage_in(m)).sum()
    }
}

impl<T: HeapSize, const N: usize> HeapSize for [T; N] {
    measured!();

    #[inline]
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.as_slice().heap_usage_in(m)
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    measured!();

    #[inline]
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.as_ref()
            .map(|v| v.heap_usage_in(m))
            .unwrap_or_default()
    }
}

impl<T: HeapSize, E: HeapSize> HeapSize for Result<T, E> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        match self {
            Ok(v) => v.heap_usage_in(m),
            Err(e) => e.heap_usage_in(m),
        }
    }
}

macro_rules! tuples {
    ($(($($name:ident $idx:tt),+))*) => {$(
        impl<$($name: HeapSize),+> HeapSize for ($($name,)+) {
            measured!();

            #[inline]
            fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
                HeapUsage::default() $(+ self.$idx.heap_usage_in(m))+
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

    /// The boxed value itself is used; what it owns may not be.
    #[inline]
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        HeapUsage::used(size_of_val::<T>(self)) + (**self).heap_usage_in(m)
    }
}

/// Usage of a value shared through an `Rc`/`Arc`: its allocation once per measurement.
fn shared_usage<T: ?Sized + HeapSize>(value: &T, counted: bool, m: &mut Measurement) -> HeapUsage {
    if !counted {
        return HeapUsage::default();
    }
    HeapUsage::used(counted_allocation(size_of_val(value), align_of_val(value)))
        + value.heap_usage_in(m)
}

impl<T: ?Sized + HeapSize> HeapSize for Arc<T> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let counted = m.count_shared(Arc::as_ptr(self), Arc::strong_count(self));
        shared_usage::<T>(self, counted, m)
    }
}

impl<T: ?Sized + HeapSize> HeapSize for Rc<T> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let counted = m.count_shared(Rc::as_ptr(self), Rc::strong_count(self));
        shared_usage::<T>(self, counted, m)
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

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        match self {
            Cow::Borrowed(_) => HeapUsage::default(),
            Cow::Owned(owned) => owned.heap_usage_in(m),
        }
    }
}

impl<T: ?Sized + HeapSize> HeapSize for RefCell<T> {
    measured!();

    /// Counts nothing while the cell is mutably borrowed, rather than panicking.
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.try_borrow()
            .map(|v| v.heap_usage_in(m))
            .unwrap_or_default()
    }
}

impl<T: ?Sized + HeapSize> HeapSize for Mutex<T> {
    measured!();

    /// Counts nothing while another thread holds the lock: measuring never blocks.
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        match self.try_lock() {
            Ok(guard) => guard.heap_usage_in(m),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().heap_usage_in(m),
            Err(TryLockError::WouldBlock) => HeapUsage::default(),
        }
    }
}

impl<T: ?Sized + HeapSize> HeapSize for RwLock<T> {
    measured!();

    /// Counts nothing while a writer holds the lock: measuring never blocks.
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        match self.try_read() {
            Ok(guard) => guard.heap_usage_in(m),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().heap_usage_in(m),
            Err(TryLockError::WouldBlock) => HeapUsage::default(),
        }
    }
}

impl<T: HeapSize> HeapSize for OnceLock<T> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.get().map(|v| v.heap_usage_in(m)).unwrap_or_default()
    }
}

/// A buffer of bytes with a length and a capacity: the spare capacity is unused.
macro_rules! byte_buffer {
    ($($ty:ty),*) => {$(
        impl HeapSize for $ty {
            #[inline]
            fn heap_size(&self) -> usize {
                self.capacity()
            }

            #[inline]
            fn heap_usage_in(&self, _: &mut Measurement) -> HeapUsage {
                HeapUsage {
                    bytes: self.capacity(),
                    unused: self.capacity() - self.as_os_str().len(),
                }
            }
        }
    )*};
}

byte_buffer!(PathBuf, OsString);

impl HeapSize for String {
    #[inline]
    fn heap_size(&self) -> usize {
        self.capacity()
    }

    #[inline]
    fn heap_usage_in(&self, _: &mut Measurement) -> HeapUsage {
        HeapUsage {
            bytes: self.capacity(),
            unused: self.capacity() - self.len(),
        }
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::array::<u8>(self.len(), self.capacity()))
    }
}

impl HeapSize for CString {
    #[inline]
    fn heap_size(&self) -> usize {
        self.as_bytes_with_nul().len()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    measured!();

    #[inline]
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let footprint = Footprint::array::<T>(self.len(), self.capacity());
        HeapUsage::of_collection(footprint, self.as_slice().heap_usage_in(m))
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::array::<T>(self.len(), self.capacity()))
    }
}

impl<T: HeapSize> HeapSize for VecDeque<T> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let (front, back) = self.as_slices();
        let footprint = Footprint::array::<T>(self.len(), self.capacity());
        HeapUsage::of_collection(footprint, front.heap_usage_in(m) + back.heap_usage_in(m))
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::array::<T>(self.len(), self.capacity()))
    }
}

impl<T: HeapSize> HeapSize for BinaryHeap<T> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let footprint = Footprint::array::<T>(self.len(), self.capacity());
        HeapUsage::of_collection(footprint, self.as_slice().heap_usage_in(m))
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::array::<T>(self.len(), self.capacity()))
    }
}

impl<K: HeapSize, V: HeapSize, S> HeapSize for HashMap<K, V, S> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let entries = self
            .iter()
            .map(|(k, v)| k.heap_usage_in(m) + v.heap_usage_in(m))
            .sum();
        let footprint = Footprint::hash_table::<(K, V)>(self.len(), self.capacity());
        HeapUsage::of_collection(footprint, entries)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::hash_table::<(K, V)>(self.len(), self.capacity()))
    }
}

impl<T: HeapSize, S> HeapSize for HashSet<T, S> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let entries = self.iter().map(|v| v.heap_usage_in(m)).sum();
        let footprint = Footprint::hash_table::<T>(self.len(), self.capacity());
        HeapUsage::of_collection(footprint, entries)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::hash_table::<T>(self.len(), self.capacity()))
    }
}

impl<K: HeapSize, V: HeapSize> HeapSize for BTreeMap<K, V> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let entries = self
            .iter()
            .map(|(k, v)| k.heap_usage_in(m) + v.heap_usage_in(m))
            .sum();
        HeapUsage::of_collection(self.footprint().unwrap_or_default(), entries)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::per_entry(
            self.len(),
            btree_bytes::<K, V>(self.len()),
        ))
    }
}

impl<T: HeapSize> HeapSize for BTreeSet<T> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let entries = self.iter().map(|v| v.heap_usage_in(m)).sum();
        HeapUsage::of_collection(self.footprint().unwrap_or_default(), entries)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::per_entry(
            self.len(),
            btree_bytes::<T, ()>(self.len()),
        ))
    }
}

impl<T: HeapSize> HeapSize for LinkedList<T> {
    measured!();

    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let entries = self.iter().map(|v| v.heap_usage_in(m)).sum();
        HeapUsage::of_collection(self.footprint().unwrap_or_default(), entries)
    }

    #[inline]
    fn footprint(&self) -> Option<Footprint> {
        Some(Footprint::per_entry(
            self.len(),
            array_bytes::<ListNode<T>>(self.len()),
        ))
    }
}

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
        assert_eq!(
            usage,
            HeapUsage {
                bytes: 4096,
                unused: 4076
            }
        );

        let mut lines = Vec::with_capacity(4);
        lines.push(line);
        let usage = lines.heap_usage_in(&mut Measurement::new());
        // Three spare `String`s of storage, and the first one's spare bytes.
        assert_eq!(usage.bytes, 4 * size_of::<String>() + 4096);
        assert_eq!(usage.unused, 3 * size_of::<String>() + 4076);
        assert_eq!(lines.heap_size(), usage.bytes);

        let boxed: Box<[Vec<u8>]> = vec![Vec::with_capacity(64)].into_boxed_slice();
        let usage = boxed.heap_usage_in(&mut Measurement::new());
        assert_eq!(
            usage,
            HeapUsage {
                bytes: size_of::<Vec<u8>>() + 64,
                unused: 64
            }
        );
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
