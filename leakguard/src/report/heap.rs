//! The heap by scope name, from the accounts of [`Alloc`](crate::Alloc).

use std::borrow::Cow;

use crate::accounts;

/// What the instances of one scope name hold on the heap, with
/// [`Alloc`](crate::Alloc) installed: [`Report::scope`](super::Report::scope).
///
/// Bytes are what the program asked for (`Layout::size()`), with no trailer or rounding.
/// `unscoped` is what was allocated outside any scope, and `leakguard` leakguard's own
/// memory. An instance has ended when its guard, span or future is dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ScopeHeap {
    /// The scope's name.
    pub name: Cow<'static, str>,
    /// Live bytes the name's instances allocated, running and ended together.
    pub live_bytes: usize,
    /// Live blocks, likewise.
    pub live_blocks: usize,
    /// The part of `live_bytes` held by instances that ended.
    pub retained_bytes: usize,
    /// Ended instances holding at least one byte.
    pub retained_instances: usize,
}

/// Every scope name's heap figures, the most live bytes first; empty without
/// [`Alloc`](crate::Alloc).
pub(crate) fn by_scope() -> Vec<ScopeHeap> {
    if !accounts::installed() {
        return Vec::new();
    }
    let mut scopes: Vec<ScopeHeap> = accounts::by_name()
        .into_iter()
        .enumerate()
        .filter(|(at, f)| *at < 2 || f.live_blocks > 0 || f.running_instances > 0)
        .map(|(_, f)| ScopeHeap {
            name: f.name,
            live_bytes: f.live_bytes as usize,
            live_blocks: f.live_blocks as usize,
            retained_bytes: f.retained_bytes as usize,
            retained_instances: f.retained_instances as usize,
        })
        .collect();
    scopes.sort_by(|a, b| b.live_bytes.cmp(&a.live_bytes).then(a.name.cmp(&b.name)));
    scopes
}
