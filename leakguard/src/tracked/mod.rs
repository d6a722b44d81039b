//! The wrapper `#[track_growth]` puts around each tracked field.
//!
//! A field's type is [`Tracked<C, O, I>`](Tracked): it knows which field of which struct it
//! is, which only its constructors need. Its methods are thin: the work is done by an
//! [`Accounted<C>`](accounted::Accounted) inside it, which depends on the collection's type
//! alone, and by the [`Accounting`](accounting::Accounting) inside that, which depends on
//! nothing, so that a hundred fields of five collection types compile five copies of that
//! code, not a hundred.
//!
//! What is left for each field, its `Deref`, `DerefMut`, `Default`, `Clone` and the shells
//! of its growth methods, is `#[inline(always)]`: a single call each, inlined into the
//! caller even in a debug build, where a function of its own for every field of every
//! struct cost the backend more than that call (issue 23: a tenth of what the attribute
//! added to a debug build of 20 structs of 5 fields).

mod accounted;
mod accounting;
mod bounded;
mod entry;
mod figures;
mod first;
mod hashed;
mod marks;
mod named;
mod ordered;
mod republish;
mod sequence;
mod shared;
mod string;
mod walk;

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use accounted::Accounted;
pub use entry::{Entry, MapEntry};
pub use named::{Named, NamedCache, NamedCacheBuilder, NamedRing, NamedSet};
pub use sequence::Position;
pub use shared::{SharedCache, SharedCacheBuilder, SharedField};

use crate::budget::Budget;
use crate::heap_size::{Footprint, HeapSize, HeapUsage, Measured, Measurement};
use crate::meta::{FromMeta, TrackedStruct, field_meta, registered_meta};
use crate::registry::Origin;

/// A collection field of a `#[track_growth]` struct, with its figures kept current.
///
/// `#[track_growth]` rewrites the type of each tracked field `C` to `Tracked<C, Self, N>`,
/// where `N` is the field's position. You keep using the field as the collection it wraps:
/// it dereferences to `C`, its growth and removal methods (`push`,
/// `insert`, `extend`, `append`, `remove`, `pop`, `truncate`, `clear`, `retain`, `drain`,
/// ...) have the same signatures as the collection's own and update the figures in O(1) as
/// they run, and it forwards `Debug`, `Clone`, `PartialEq`, `Hash`, `Default`, iteration and
/// (with the `serde` feature) serde to the collection.
///
/// Build one from its collection with `.into()` or `Default::default()`:
///
/// ```
/// use leakguard::track_growth;
///
/// #[track_growth]
/// struct Inbox {
///     #[budget(len = 100)]
///     messages: Vec<String>,
/// }
///
/// let mut inbox = Inbox { messages: vec!["hello".to_string()].into() };
/// inbox.messages.push("world".to_string());
/// assert_eq!(inbox.messages.len(), 2);
/// assert_eq!(&inbox.messages[..], ["hello", "world"]);
/// ```
///
/// Its own functions are associated functions, called as `Tracked::name(&field)`, so that
/// they never shadow a method of the collection.
#[repr(transparent)]
pub struct Tracked<C, O, const I: usize> {
    accounted: Accounted<C>,
    owner: PhantomData<fn() -> O>,
}

impl<C, O: TrackedStruct, const I: usize> Tracked<C, O, I> {
    /// The collection's name as warnings and reports show it: `Type.field`, with a generic
    /// struct's type arguments as the type is written (`Registry<u64, String>.map`).
    pub fn name(_this: &Self) -> &'static str {
        field_meta::<O>(I).name
    }

    /// The budget declared for the field.
    pub fn budget(_this: &Self) -> Budget {
        registered_meta::<O>(I).budget
    }
}

impl<C, O, const I: usize> Tracked<C, O, I> {
    /// The collection, without its tracking.
    pub fn into_inner(this: Self) -> C {
        this.accounted.into_inner()
    }
}

impl<C: HeapSize, O, const I: usize> Tracked<C, O, I> {
    /// Heap bytes the collection owns by its running figures, without walking it.
    ///
    /// Exact for changes made through the collection's growth and removal methods, and for
    /// changes made through `&mut` access before this call: an entry handed out by
    /// `get_mut`, `entry`, `last_mut` or an index is measured again alone, and a std
    /// collection handed out whole (`values_mut`, `iter_mut`, `&mut *field` into a helper)
    /// is walked in full. With instrumentation compiled out there are no running figures,
    /// and this measures the collection.
    pub fn bytes(this: &Self) -> usize {
        this.accounted.bytes()
    }

    /// Walks the collection, corrects its running figures and returns its heap bytes.
    pub fn measure(this: &mut Self) -> usize {
        this.accounted.measure()
    }
}

impl<C: HeapSize, O, const I: usize> Deref for Tracked<C, O, I> {
    type Target = C;

    #[inline(always)]
    fn deref(&self) -> &C {
        &self.accounted
    }
}

impl<C: HeapSize, O, const I: usize> DerefMut for Tracked<C, O, I> {
    /// Hands out the collection; changes made through it are picked up on the next access,
    /// and growth is said to be at the caller's line.
    #[inline(always)]
    #[track_caller]
    fn deref_mut(&mut self) -> &mut C {
        &mut self.accounted
    }
}

impl<C: HeapSize, O, const I: usize> AsRef<C> for Tracked<C, O, I> {
    fn as_ref(&self) -> &C {
        self
    }
}

impl<C: HeapSize, O, const I: usize> AsMut<C> for Tracked<C, O, I> {
    #[track_caller]
    fn as_mut(&mut self) -> &mut C {
        self
    }
}

impl<C: HeapSize, O, const I: usize> Borrow<C> for Tracked<C, O, I> {
    fn borrow(&self) -> &C {
        self
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> Tracked<C, O, I> {
    /// Not public API: what `tracked!` expands to, `From` with the collection's type
    /// inferred from the value.
    #[doc(hidden)]
    #[track_caller]
    pub fn __local(inner: C) -> Self {
        Self::from(inner)
    }

    /// Tracks `inner`, which came by its content as `origin` says where the caller's line
    /// is not the user's.
    #[track_caller]
    fn made(inner: C, origin: Origin) -> Self {
        Self {
            accounted: Accounted::constructed(inner, registered_meta::<O>(I), origin),
            owner: PhantomData,
        }
    }
}

impl<C: HeapSize, O: TrackedStruct, const I: usize> From<C> for Tracked<C, O, I> {
    /// Tracks `inner` with the content it holds: measured, and registered with the scope and
    /// test check of the code that converts it.
    #[track_caller]
    fn from(inner: C) -> Self {
        Self::made(inner, Origin::Converted)
    }
}

impl<C, P, const J: usize, O: TrackedStruct, const I: usize> From<C>
    for Tracked<Measured<C, P, J>, O, I>
where
    Measured<C, P, J>: HeapSize,
{
    /// Tracks `inner`, its elements measured as `#[heap_size(each = ..)]` says: the
    /// collection of a struct literal converts with `.into()` as for any tracked field.
    #[track_caller]
    fn from(inner: C) -> Self {
        Self {
            accounted: Accounted::constructed(
                Measured::new(inner),
                registered_meta::<O>(I),
                Origin::Converted,
            ),
            owner: PhantomData,
        }
    }
}

// No `HeapSize` bound: an empty collection has nothing to measure, and `derive(Default)` on
// a generic struct then needs no `K: HeapSize` written on it.
impl<C: FromMeta, O: TrackedStruct, const I: usize> Default for Tracked<C, O, I> {
    /// An empty collection; for a `#[scoped_cache]` field, one with the field's bounds. A
    /// type whose `Default` holds content is registered with it at once.
    #[inline(always)]
    #[track_caller]
    fn default() -> Self {
        Self {
            accounted: Accounted::for_field(registered_meta::<O>(I)),
            owner: PhantomData,
        }
    }
}

impl<C: Clone + HeapSize, O, const I: usize> Clone for Tracked<C, O, I> {
    /// Clones the collection; the clone is tracked on its own.
    #[inline(always)]
    #[track_caller]
    fn clone(&self) -> Self {
        Self {
            accounted: self.accounted.clone(),
            owner: PhantomData,
        }
    }
}

impl<C: fmt::Debug, O, const I: usize> fmt::Debug for Tracked<C, O, I> {
    /// Formats exactly as the collection does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.accounted.collection().fmt(f)
    }
}

impl<C: fmt::Display, O, const I: usize> fmt::Display for Tracked<C, O, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.accounted.collection().fmt(f)
    }
}

impl<C, D, O, P, const I: usize, const J: usize> PartialEq<Tracked<D, P, J>> for Tracked<C, O, I>
where
    C: PartialEq<D>,
{
    fn eq(&self, other: &Tracked<D, P, J>) -> bool {
        self.accounted.collection() == other.accounted.collection()
    }
}

impl<C: Eq, O, const I: usize> Eq for Tracked<C, O, I> {}

impl<C, D, O, P, const I: usize, const J: usize> PartialOrd<Tracked<D, P, J>> for Tracked<C, O, I>
where
    C: PartialOrd<D>,
{
    fn partial_cmp(&self, other: &Tracked<D, P, J>) -> Option<Ordering> {
        self.accounted
            .collection()
            .partial_cmp(other.accounted.collection())
    }
}

impl<C: Ord, O, const I: usize> Ord for Tracked<C, O, I> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.accounted
            .collection()
            .cmp(other.accounted.collection())
    }
}

impl<C: Hash, O, const I: usize> Hash for Tracked<C, O, I> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.accounted.collection().hash(state);
    }
}

impl<C: HeapSize, O, const I: usize> HeapSize for Tracked<C, O, I> {
    fn heap_size(&self) -> usize {
        self.accounted.heap_size()
    }

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        self.accounted.heap_size_in(m)
    }

    /// The collection's usage, all of it `nested`: it has a row of its own, so the total
    /// of a tracked collection holding this one counts these bytes here, not twice.
    fn heap_usage_in(&self, m: &mut Measurement) -> HeapUsage {
        let usage = self.accounted.heap_usage_in(m);
        if crate::mode::ENABLED {
            HeapUsage {
                nested: usage.bytes,
                ..usage
            }
        } else {
            usage
        }
    }

    fn footprint(&self) -> Option<Footprint> {
        self.accounted.footprint()
    }
}

impl<C: IntoIterator, O, const I: usize> IntoIterator for Tracked<C, O, I> {
    type Item = C::Item;
    type IntoIter = C::IntoIter;

    fn into_iter(self) -> C::IntoIter {
        self.accounted.into_inner().into_iter()
    }
}

impl<'a, C: HeapSize, O, const I: usize> IntoIterator for &'a Tracked<C, O, I>
where
    &'a C: IntoIterator,
{
    type Item = <&'a C as IntoIterator>::Item;
    type IntoIter = <&'a C as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

impl<'a, C: HeapSize, O, const I: usize> IntoIterator for &'a mut Tracked<C, O, I>
where
    &'a mut C: IntoIterator,
{
    type Item = <&'a mut C as IntoIterator>::Item;
    type IntoIter = <&'a mut C as IntoIterator>::IntoIter;

    #[track_caller]
    fn into_iter(self) -> Self::IntoIter {
        (**self).into_iter()
    }
}

impl<C: FromIterator<A> + HeapSize, A, O: TrackedStruct, const I: usize> FromIterator<A>
    for Tracked<C, O, I>
{
    #[track_caller]
    fn from_iter<T: IntoIterator<Item = A>>(iter: T) -> Self {
        Self::made(C::from_iter(iter), Origin::Collected)
    }
}

#[cfg(feature = "serde")]
impl<C: serde::Serialize, O, const I: usize> serde::Serialize for Tracked<C, O, I> {
    /// Serializes exactly as the collection does.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.accounted.collection().serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de, C: serde::Deserialize<'de> + HeapSize, O: TrackedStruct, const I: usize>
    serde::Deserialize<'de> for Tracked<C, O, I>
{
    /// Deserializes the collection and tracks it; where its entries came from reads
    /// `deserialized as `Type``, the struct the field belongs to.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let inner = C::deserialize(deserializer)?;
        Ok(Self::made(
            inner,
            Origin::Deserialized(registered_meta::<O>(I).type_name),
        ))
    }
}
