//! [`ValueMut`]: the guard `ScopedCache::get_mut` returns, which weighs the entry again
//! when it drops in a cache bounded in bytes.

use std::fmt;

use quick_cache::unsync;

use super::engine::Hooks;
use super::stored::{Bare, Stored, Timed, Weights};

/// A live value of a [`ScopedCache`](super::ScopedCache), borrowed mutably; see
/// [`ScopedCache::get_mut`](super::ScopedCache::get_mut).
///
/// In a cache bounded in bytes, the entry is weighed again when the guard drops.
pub struct ValueMut<'a, K, V, S>(pub(super) EntryMut<'a, K, V, S>);

/// quick_cache's guard over one stored entry, of each kind of core.
pub(super) enum EntryMut<'a, K, V, S> {
    Bare(unsync::RefMut<'a, K, Bare<V>, Weights, S, Hooks>),
    Timed(unsync::RefMut<'a, K, Timed<V>, Weights, S, Hooks>),
    /// In a cache bounded in bytes, with the value's heap when it was borrowed and how to
    /// measure it again.
    Weighed(
        unsync::RefMut<'a, K, Timed<V, u32>, Weights, S, Hooks>,
        usize,
        fn(&V) -> usize,
    ),
}

impl<K, V, S> Drop for ValueMut<'_, K, V, S> {
    /// Writes the value's new weight into the entry, for quick_cache's guard, dropped
    /// next, to apply.
    fn drop(&mut self) {
        if let EntryMut::Weighed(entry, before, measure) = &mut self.0 {
            let after = measure(entry.value());
            entry.reweigh(*before, after);
        }
    }
}

impl<K, V, S> std::ops::Deref for ValueMut<'_, K, V, S> {
    type Target = V;

    fn deref(&self) -> &V {
        match &self.0 {
            EntryMut::Bare(r) => r.value(),
            EntryMut::Timed(r) => r.value(),
            EntryMut::Weighed(r, ..) => r.value(),
        }
    }
}

impl<K, V, S> std::ops::DerefMut for ValueMut<'_, K, V, S> {
    fn deref_mut(&mut self) -> &mut V {
        match &mut self.0 {
            EntryMut::Bare(r) => r.value_mut(),
            EntryMut::Timed(r) => r.value_mut(),
            EntryMut::Weighed(r, ..) => r.value_mut(),
        }
    }
}

impl<K, V: fmt::Debug, S> fmt::Debug for ValueMut<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
