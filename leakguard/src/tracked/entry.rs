//! [`Entry`]: what `entry(key)` on a tracked hash map returns, so that the cache idiom
//! `map.entry(k).or_insert_with(..)` stays O(1) and the value it hands out through `&mut`
//! is measured again, alone, at the field's next access.

use std::panic::Location;

use super::accounting::Accounting;
use crate::heap_size::{Footprint, HeapSize, running_heap};

/// One entry of a hash map, occupied or vacant, as std's and hashbrown's `Entry` are: the
/// maps an [`Entry`] wraps. Implemented by leakguard alone.
pub trait MapEntry<'a>: Sized + sealed::Sealed {
    /// The map's key type.
    type Key: HeapSize + 'a;
    /// The map's value type.
    type Value: HeapSize + 'a;

    #[doc(hidden)]
    fn key(&self) -> &Self::Key;

    /// The value of an occupied entry, or the vacant entry back.
    #[doc(hidden)]
    fn occupied(self) -> Result<&'a mut Self::Value, Self>;

    /// Fills a vacant entry.
    #[doc(hidden)]
    fn fill(self, value: Self::Value) -> &'a mut Self::Value;

    /// Runs `f` on the value of an occupied entry.
    #[doc(hidden)]
    fn modify(self, f: impl FnOnce(&mut Self::Value)) -> Self;
}

pub(super) mod sealed {
    pub trait Sealed {}
}

/// A view into one entry of a tracked hash map, from the field's `entry`: std's `Entry`
/// methods, with the figures kept. A value handed out through `&mut` (`or_insert`,
/// `and_modify`, ...) is measured again, alone, at the field's next access.
///
/// To match on the occupied and vacant cases, take the map's own entry with
/// `(*field).entry(key)`: the field then measures all its entries at the next access.
pub struct Entry<'a, E> {
    entry: E,
    accounting: Option<&'a mut Accounting>,
    /// The map's footprint before the entry was taken.
    footprint: Footprint,
    /// The line of the `entry(..)` call: where the map grew, if this fills the entry.
    site: &'static Location<'static>,
}

impl<'a, E: MapEntry<'a>> Entry<'a, E> {
    pub(super) fn new(
        entry: E,
        accounting: Option<&'a mut Accounting>,
        footprint: Footprint,
        site: &'static Location<'static>,
    ) -> Self {
        Self {
            entry,
            accounting,
            footprint,
            site,
        }
    }

    /// The entry's key; see `Entry::key`.
    pub fn key(&self) -> &E::Key {
        self.entry.key()
    }

    /// The value, inserting `default` if the entry is vacant; see `Entry::or_insert`.
    #[inline]
    pub fn or_insert(self, default: E::Value) -> &'a mut E::Value {
        self.or_insert_with_key(|_| default)
    }

    /// The value, inserting `default()` if the entry is vacant; see `Entry::or_insert_with`.
    #[inline]
    pub fn or_insert_with<F: FnOnce() -> E::Value>(self, default: F) -> &'a mut E::Value {
        self.or_insert_with_key(|_| default())
    }

    /// The value, inserting `default(&key)` if the entry is vacant; see
    /// `Entry::or_insert_with_key`.
    #[inline]
    pub fn or_insert_with_key<F: FnOnce(&E::Key) -> E::Value>(
        self,
        default: F,
    ) -> &'a mut E::Value {
        let Self {
            entry,
            accounting,
            footprint,
            site,
        } = self;
        match entry.occupied() {
            Ok(value) => lend(accounting, value, true),
            Err(vacant) => {
                let value = default(vacant.key());
                let key_heap = running_heap(vacant.key());
                let value = vacant.fill(value);
                match accounting {
                    Some(accounting) => {
                        // The window is shut: the next access evaluates what came in.
                        accounting.grew(footprint.len + 1, key_heap);
                        accounting.grew_at(site);
                        accounting.shut_window();
                        lend(Some(accounting), value, false)
                    }
                    None => value,
                }
            }
        }
    }

    /// The value, inserting `V::default()` if the entry is vacant; see `Entry::or_default`.
    #[inline]
    pub fn or_default(self) -> &'a mut E::Value
    where
        E::Value: Default,
    {
        self.or_insert_with_key(|_| Default::default())
    }

    /// Runs `f` on the value of an occupied entry; see `Entry::and_modify`.
    #[inline]
    pub fn and_modify<F: FnOnce(&mut E::Value)>(mut self, f: F) -> Self {
        let mut change = None;
        self.entry = self.entry.modify(|value| {
            let before = running_heap(&*value);
            f(value);
            change = Some((running_heap(&*value), before));
        });
        if let (Some(accounting), Some((after, before))) = (self.accounting.as_deref_mut(), change)
        {
            // The length and storage stay: the footprint taken with the entry is current.
            if accounting.replaced(after, before) {
                accounting.evaluate(Some(self.footprint));
            }
            accounting.shut_window();
        }
        self
    }
}

/// Hands `value` out through `&mut`, watched; `counted` when its heap is in the figures.
fn lend<'a, V: HeapSize>(
    accounting: Option<&'a mut Accounting>,
    value: &'a mut V,
    counted: bool,
) -> &'a mut V {
    let Some(accounting) = accounting else {
        return value;
    };
    // SAFETY: `value` lives in the heap storage of the tracked map whose accounting this
    // is, and that map is changed only through `Accounted`'s paths, which all take the
    // watch first; `&self` access cannot change a hash map.
    unsafe { accounting.lend(value, !counted) }
}

impl<E: std::fmt::Debug> std::fmt::Debug for Entry<'_, E> {
    /// Formats as the map's own entry does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.entry.fmt(f)
    }
}
