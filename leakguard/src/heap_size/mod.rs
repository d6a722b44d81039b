//! Heap accounting: the [`HeapSize`] trait, the figures it gives, and its impls.

mod impls;
pub(crate) mod layout;
mod measured;

use std::collections::HashSet;

pub use measured::{MeasureEntries, Measured, Own, OwnHeap};

/// Heap bytes a value owns, as requested from the allocator.
///
/// The figure is what a counting global allocator would see: the storage of a collection
/// counts its *capacity*, not its length (a truncated `Vec` and a map after deletes still
/// own their memory), plus the heap its elements own. Inline bytes (`size_of::<Self>()`)
/// are not included. A pointee shared through [`Arc`](std::sync::Arc) or [`Rc`](std::rc::Rc) is counted once per
/// measurement, together with its reference-count header.
///
/// Derive it for your own value types with [`#[derive(HeapSize)]`](derive@crate::HeapSize);
/// every `#[track_growth]` struct implements it too, so tracked structs nest: a nested
/// struct's tracked fields report [`HeapUsage::nested`], and a report's totals count their
/// bytes once ([`Report::total_bytes`](crate::Report::total_bytes)).
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
///
/// Such an impl counts every byte as used. To report the spare capacity inside the
/// values it holds, as the std impls and the derive do, override
/// [`heap_usage_in`](HeapSize::heap_usage_in) too, summing the fields' usage.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `leakguard::HeapSize`",
    label = "leakguard cannot measure the heap this value owns",
    note = "for a type of hashbrown, indexmap, smallvec, dashmap, bytes, serde_json, uuid or chrono, enable leakguard's cargo feature named after that crate",
    note = "for the elements of a collection field of a `#[track_growth]` struct or a `derive(HeapSize)` type: measure each with `#[heap_size(each = path)]`, or a map's with `#[heap_size(key = path)]` / `#[heap_size(value = path)]`",
    note = "for a whole field: measure it with `#[heap_size(with = path)]`, leave it out with `#[heap_size(skip)]`, or leave a collection untracked with `#[track(skip)]`",
    note = "for a type defined in your crate: `#[derive(leakguard::HeapSize)]`, or implement `HeapSize` by hand; a type of another crate cannot implement it (the orphan rule): measure it with the `#[heap_size(..)]` attributes above, or wrap it in a newtype of your own and implement `HeapSize` for that"
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

    /// Heap bytes owned by `self` within an ongoing measurement, and how many of them hold
    /// nothing: spare capacity at any depth, as a `String` built with a large capacity and
    /// stored in a map keeps.
    ///
    /// The default counts every byte as used, which is right for a type without spare
    /// capacity and never overstates what is wasted. Containers override it to report their
    /// own spare and pass `m` to their elements; [`derive(HeapSize)`](derive@crate::HeapSize)
    /// does so for every field.
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        HeapUsage::used(self.heap_size_in(m))
    }

    /// Heap bytes owned by `self`, and how many of them hold nothing, counting a shared
    /// pointee once.
    ///
    /// ```
    /// use leakguard::HeapSize;
    ///
    /// let mut line = String::with_capacity(4096);
    /// line.push_str("id=7 name=ada");
    /// let usage = vec![line].heap_usage();
    /// assert_eq!(usage.bytes, size_of::<String>() + 4096);
    /// assert_eq!(usage.unused, 4096 - 13);
    /// ```
    fn heap_usage(&self) -> HeapUsage {
        self.heap_usage_in(&mut Measurement::new())
    }

    /// The cheap figures of a collection, or `None` for a value that is not one.
    ///
    /// Computed in O(1) from the collection's length and capacity; the heap the elements
    /// own is not part of it. leakguard uses it to keep a tracked field's figures current
    /// without walking it.
    fn footprint(&self) -> Option<Footprint> {
        None
    }

    /// Not public API: whether a tracked field of this type can change through `&self`
    /// (a concurrent map), so that each read compares its [`footprint`](HeapSize::footprint)
    /// with the one last evaluated. `false` for the collections leakguard knows.
    #[doc(hidden)]
    const __LEAKGUARD_SHARED_MUT: bool = true;

    /// Not public API: whether leakguard's field methods see every change of this type but
    /// those made through `&mut` access (`values_mut`, a helper taking `&mut`), so that the
    /// next access after one walks the entries in full. Elsewhere a walk is amortized.
    #[doc(hidden)]
    const __LEAKGUARD_EXACT_AFTER_MUT: bool = false;
}

/// Heap bytes a value owns, and how many of them hold nothing: what
/// [`HeapSize::heap_usage_in`] returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeapUsage {
    /// Every heap byte owned, as [`HeapSize::heap_size`] counts them.
    pub bytes: usize,
    /// The part of `bytes` that holds nothing: spare capacity of the value and of
    /// everything it owns.
    pub unused: usize,
    /// The part of `bytes` held by tracked collections inside the value (a
    /// `#[track_growth]` struct's fields), which report those bytes on rows of their own:
    /// totals count them there, once. Sums of usages carry it; a leaf type leaves it 0.
    pub nested: usize,
}

impl HeapUsage {
    /// No heap at all.
    pub(crate) const NONE: Self = Self::used(0);

    /// `bytes` bytes, every one of them in use.
    pub const fn used(bytes: usize) -> Self {
        Self {
            bytes,
            unused: 0,
            nested: 0,
        }
    }

    /// `bytes` bytes of which `unused` hold nothing: a leaf value with spare capacity.
    pub const fn with_unused(bytes: usize, unused: usize) -> Self {
        Self {
            bytes,
            unused,
            nested: 0,
        }
    }

    /// The storage of a collection, from its [`Footprint`], with what its entries own.
    #[inline]
    pub fn of_collection(footprint: Footprint, entries: HeapUsage) -> Self {
        Self {
            bytes: footprint.storage_bytes + entries.bytes,
            unused: footprint.unused_bytes() + entries.unused,
            nested: entries.nested,
        }
    }
}

/// A change of heap usage: what came in (positive) or went out (negative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeapChange {
    pub(crate) bytes: isize,
    pub(crate) unused: isize,
    pub(crate) nested: isize,
}

impl From<HeapUsage> for HeapChange {
    #[inline]
    fn from(usage: HeapUsage) -> Self {
        Self {
            bytes: usage.bytes as isize,
            unused: usage.unused as isize,
            nested: usage.nested as isize,
        }
    }
}

impl std::ops::AddAssign for HeapChange {
    #[inline]
    fn add_assign(&mut self, other: Self) {
        self.bytes += other.bytes;
        self.unused += other.unused;
        self.nested += other.nested;
    }
}

impl std::ops::AddAssign<HeapUsage> for HeapChange {
    #[inline]
    fn add_assign(&mut self, usage: HeapUsage) {
        *self += HeapChange::from(usage);
    }
}

impl std::ops::SubAssign<HeapUsage> for HeapChange {
    #[inline]
    fn sub_assign(&mut self, usage: HeapUsage) {
        self.bytes -= usage.bytes as isize;
        self.unused -= usage.unused as isize;
        self.nested -= usage.nested as isize;
    }
}

impl HeapUsage {
    /// This usage less `other`, never below zero.
    #[inline]
    pub(crate) fn saturating_sub(self, other: Self) -> Self {
        Self {
            bytes: self.bytes.saturating_sub(other.bytes),
            unused: self.unused.saturating_sub(other.unused),
            nested: self.nested.saturating_sub(other.nested),
        }
    }
}

impl std::ops::Add for HeapUsage {
    type Output = Self;

    #[inline]
    fn add(self, other: Self) -> Self {
        Self {
            bytes: self.bytes + other.bytes,
            unused: self.unused + other.unused,
            nested: self.nested + other.nested,
        }
    }
}

impl std::ops::AddAssign for HeapUsage {
    #[inline]
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl std::iter::Sum for HeapUsage {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
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
    /// The figures of a collection that stores `capacity` entries of `T` in one array.
    #[inline]
    pub(crate) fn array<T>(len: usize, capacity: usize) -> Self {
        Self {
            len,
            capacity,
            storage_bytes: layout::array_bytes::<T>(capacity),
        }
    }

    /// The figures of a std hash table that can hold `capacity` entries of `T`.
    #[inline]
    pub(crate) fn hash_table<T>(len: usize, capacity: usize) -> Self {
        Self {
            len,
            capacity,
            storage_bytes: layout::hash_table_bytes::<T>(capacity),
        }
    }

    /// The figures of a collection that allocates per entry, as a B-tree or a list does:
    /// `storage_bytes` for its `len` entries.
    #[inline]
    pub(crate) fn per_entry(len: usize, storage_bytes: usize) -> Self {
        Self {
            len,
            capacity: len,
            storage_bytes,
        }
    }

    /// Storage bytes held for entries the collection does not currently hold.
    pub fn unused_bytes(&self) -> usize {
        if self.capacity == 0 || self.capacity <= self.len {
            return 0;
        }
        let unused = self.capacity - self.len;
        // In 64 bits where the product fits, as it always does short of exabytes: a 128-bit
        // division is a call, on every re-evaluation of a collection (issue 23).
        match self.storage_bytes.checked_mul(unused) {
            Some(product) => product / self.capacity,
            None => (self.storage_bytes as u128 * unused as u128 / self.capacity as u128) as usize,
        }
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

/// Heap owned by one value entering or leaving a tracked collection, and how much of it is
/// unused; nothing when compiled out.
#[inline]
pub(crate) fn running_heap<T: ?Sized + HeapSize>(value: &T) -> HeapUsage {
    if crate::mode::ENABLED {
        value.heap_usage_in(&mut Measurement::running())
    } else {
        HeapUsage::default()
    }
}

/// Heap owned by a run of values entering or leaving a tracked collection.
#[inline]
pub(crate) fn running_heap_of<'a, T: HeapSize + 'a>(
    values: impl IntoIterator<Item = &'a T>,
) -> HeapUsage {
    if crate::mode::ENABLED {
        values.into_iter().map(running_heap).sum()
    } else {
        HeapUsage::default()
    }
}

/// A field of a `#[track_growth]` struct that is not tracked, to be measured if its type
/// implements [`HeapSize`] and counted as 0 otherwise: the struct's figure is what the
/// allocator sees of every field leakguard can measure.
///
/// Chosen by method resolution (`(&IfHeapSize(&field)).__leakguard_heap_usage_in(m)`): the
/// impl for `IfHeapSize` is found before the one for `&IfHeapSize`, and applies only when
/// the type implements `HeapSize`. A field whose type mentions a type parameter counts
/// only where the struct's bounds make that parameter `HeapSize`.
#[doc(hidden)]
#[derive(Debug)]
pub struct IfHeapSize<'a, T: ?Sized>(pub &'a T);

#[doc(hidden)]
pub trait MeasureHeapSize {
    fn __leakguard_heap_usage_in(&self, m: &mut Measurement) -> HeapUsage;
}

impl<T: ?Sized + HeapSize> MeasureHeapSize for IfHeapSize<'_, T> {
    #[inline]
    fn __leakguard_heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        self.0.heap_usage_in(m)
    }
}

#[doc(hidden)]
pub trait MeasureNothing {
    #[inline]
    fn __leakguard_heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let _ = m;
        HeapUsage::NONE
    }
}

impl<T: ?Sized> MeasureNothing for &IfHeapSize<'_, T> {}
