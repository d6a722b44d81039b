//! Collections whose elements are measured by functions their owner names: a field with
//! `#[heap_size(each = path)]`, `key = path` or `value = path`, for element types that do
//! not implement [`HeapSize`] and that the orphan rule keeps the user from implementing it
//! for.
//!
//! The owner (the `#[track_growth]` or `derive(HeapSize)` type) implements
//! [`MeasureEntries<J>`] for its field at position `J`, and the field's collection `C` is
//! measured as `Measured<C, Owner, J>`, whose `HeapSize` is the collection's own storage,
//! exactly as for `C`, plus what those functions say the elements own.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::{HeapSize, HeapUsage, Measurement};

/// How a type measures the elements of its field at position `J`: written by
/// `#[track_growth]` and `derive(HeapSize)` for a field with `#[heap_size(each = ..)]`,
/// `#[heap_size(key = ..)]` or `#[heap_size(value = ..)]`.
#[doc(hidden)]
pub trait MeasureEntries<const J: usize> {
    /// The elements of a sequence or a set; the keys of a map.
    type Key: ?Sized;
    /// The values of a map; `()` for a sequence or a set.
    type Value: ?Sized;
    /// Heap owned by one element or key.
    fn key(key: &Self::Key, m: &mut Measurement) -> HeapUsage;
    /// Heap owned by one value.
    fn value(value: &Self::Value, m: &mut Measurement) -> HeapUsage;
}

/// The elements that have no function, measured by their own `HeapSize`:
/// `<Own<T> as OwnHeap>::usage`, so that an element type without it is reported, at the
/// type, with the notes of `HeapSize` that say what to write.
#[doc(hidden)]
#[derive(Debug)]
pub struct Own<T: ?Sized>(PhantomData<T>);

#[doc(hidden)]
pub trait OwnHeap {
    type Element: ?Sized;
    fn usage(value: &Self::Element, m: &mut Measurement) -> HeapUsage;
}

impl<T: ?Sized + HeapSize> OwnHeap for Own<T> {
    type Element = T;
    #[inline]
    fn usage(value: &T, m: &mut Measurement) -> HeapUsage {
        value.heap_usage_in(m)
    }
}

/// A collection whose elements are measured by the functions its owner `O` names for its
/// field `J`; see `#[heap_size(each = path)]` on [`track_growth`](crate::track_growth).
///
/// `#[track_growth]` makes the field's collection this type. It dereferences to the
/// collection, so the field is used as the collection itself: `field.push(x)`,
/// `field.len()`, `for x in &*field`. Growth through it is picked up on the field's next
/// access, by a walk amortized as for changes made through `&mut`.
#[repr(transparent)]
pub struct Measured<C, O, const J: usize> {
    inner: C,
    owner: PhantomData<fn() -> O>,
}

impl<C, O, const J: usize> Measured<C, O, J> {
    /// `inner`, measured by the functions `O` names for its field `J`.
    pub const fn new(inner: C) -> Self {
        Self {
            inner,
            owner: PhantomData,
        }
    }

    /// The collection.
    pub fn into_inner(self) -> C {
        self.inner
    }

    /// A collection borrowed as measured: how a type measures a field it does not track.
    #[doc(hidden)]
    pub fn view(inner: &C) -> &Self {
        // SAFETY: `Measured` is `repr(transparent)` over `C`; its other field is a
        // zero-sized `PhantomData`.
        unsafe { &*(inner as *const C).cast::<Self>() }
    }
}

impl<C, O, const J: usize> Deref for Measured<C, O, J> {
    type Target = C;

    #[inline]
    fn deref(&self) -> &C {
        &self.inner
    }
}

impl<C, O, const J: usize> DerefMut for Measured<C, O, J> {
    #[inline]
    fn deref_mut(&mut self) -> &mut C {
        &mut self.inner
    }
}

impl<C, O, const J: usize> From<C> for Measured<C, O, J> {
    fn from(inner: C) -> Self {
        Self::new(inner)
    }
}

impl<C: Default, O, const J: usize> Default for Measured<C, O, J> {
    fn default() -> Self {
        Self::new(C::default())
    }
}

impl<C: Clone, O, const J: usize> Clone for Measured<C, O, J> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<C: fmt::Debug, O, const J: usize> fmt::Debug for Measured<C, O, J> {
    /// Formats exactly as the collection does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<C: PartialEq, O, const J: usize> PartialEq for Measured<C, O, J> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<C: Eq, O, const J: usize> Eq for Measured<C, O, J> {}

impl<C: Hash, O, const J: usize> Hash for Measured<C, O, J> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl<C: FromIterator<A>, A, O, const J: usize> FromIterator<A> for Measured<C, O, J> {
    fn from_iter<T: IntoIterator<Item = A>>(iter: T) -> Self {
        Self::new(C::from_iter(iter))
    }
}

impl<C: IntoIterator, O, const J: usize> IntoIterator for Measured<C, O, J> {
    type Item = C::Item;
    type IntoIter = C::IntoIter;

    fn into_iter(self) -> C::IntoIter {
        self.inner.into_iter()
    }
}

impl<'a, C, O, const J: usize> IntoIterator for &'a Measured<C, O, J>
where
    &'a C: IntoIterator,
{
    type Item = <&'a C as IntoIterator>::Item;
    type IntoIter = <&'a C as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (&self.inner).into_iter()
    }
}

impl<'a, C, O, const J: usize> IntoIterator for &'a mut Measured<C, O, J>
where
    &'a mut C: IntoIterator,
{
    type Item = <&'a mut C as IntoIterator>::Item;
    type IntoIter = <&'a mut C as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (&mut self.inner).into_iter()
    }
}

impl<C, A, O, const J: usize> Extend<A> for Measured<C, O, J>
where
    C: Extend<A>,
{
    fn extend<T: IntoIterator<Item = A>>(&mut self, iter: T) {
        self.inner.extend(iter);
    }
}

#[cfg(feature = "serde")]
impl<C: serde::Serialize, O, const J: usize> serde::Serialize for Measured<C, O, J> {
    /// Serializes exactly as the collection does.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de, C: serde::Deserialize<'de>, O, const J: usize> serde::Deserialize<'de>
    for Measured<C, O, J>
{
    /// Deserializes exactly as the collection does.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        C::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owner whose field 0 is a `Vec<Vec<u8>>` measured by the inner vectors' lengths.
    struct Owner;

    impl MeasureEntries<0> for Owner {
        type Key = Vec<u8>;
        type Value = ();
        fn key(key: &Vec<u8>, _: &mut Measurement) -> HeapUsage {
            HeapUsage::used(key.len())
        }
        fn value(_: &(), _: &mut Measurement) -> HeapUsage {
            HeapUsage::used(0)
        }
    }

    #[test]
    fn a_borrowed_collection_is_measured_as_its_owner_says() {
        let mut rows = Vec::with_capacity(4);
        rows.push(Vec::with_capacity(100));
        rows[0].extend_from_slice(&[1, 2, 3]);
        let view = Measured::<_, Owner, 0>::view(&rows);
        assert_eq!(view.len(), 1);
        assert_eq!(view.heap_size(), 4 * size_of::<Vec<u8>>() + 3);
        let owned = Measured::<_, Owner, 0>::new(rows.clone());
        assert_eq!(
            owned.heap_size(),
            owned.capacity() * size_of::<Vec<u8>>() + 3
        );
    }
}
