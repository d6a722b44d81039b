//! Scopes: what a scoped collection belongs to, and the check that it does not outlive it.
//!
//! A scope is the current `tracing` span (with [`layer`](crate::layer) installed) or an
//! explicit [`scope`] guard, whichever is innermost on the thread. When it ends, it is due
//! for a check after the grace period: any collection it owns that is still alive then has
//! outlived it. This module keeps the scopes; the check itself is the layer's.
//!
//! What is kept follows from what is live: a scoped collection holds its scope, and a scope
//! is queued for its check only while a collection of it lives, so a scope that owned none,
//! or whose collections were all dropped, leaves nothing behind.
//!
//! A scope's collections are counted by the handles they hold, one each, taken as the
//! collection is made and dropped with it: once a scope has ended, every handle to it is a
//! collection's or a queued check's. Issue 23: a count of its own, beside the handles, cost
//! every scoped collection two more atomic read-modify-writes.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::SeqCst,
};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tracing_subscriber::registry::LookupSpan;

use crate::accounts::{self, Own, name_hash};
use crate::clock::{Nanos, monotonic_now};
use crate::recipient::Recipient;
use crate::settings::SETTINGS;
use crate::sync::{self, lock};

mod current;

use current::Entered;
pub(crate) use current::{current, polled, refresh_account};

/// A scope's identity and name.
pub(crate) struct ScopeInfo {
    pub(crate) id: u64,
    pub(crate) name: Cow<'static, str>,
    /// When it ended, 0 while open.
    pub(crate) ended: AtomicU64,
    /// What keeps it open: its guard, future or span, and the tasks that carry it. It ends
    /// when the last lets go.
    holds: AtomicUsize,
    /// A hash of its name, which the registry keeps for each of its collections: the
    /// collections of one leak, in however many scopes of that name, are counted together.
    pub(crate) name_hash: u64,
    /// The subscriber its collections outliving it are told to, not every subscriber of the
    /// process: the one current where a span's scope began, and for a guard's or a future's,
    /// the one current where it ended ([`end`]), before any collection of it can be due for
    /// a check. Looking it up when a scope begins was half the cost of a request's scope
    /// (issue 23), and most scopes never reach [`end`]: their collections were dropped before
    /// they ended, and [`let_go`] drops them without.
    recipient: OnceLock<Recipient>,
    /// Its heap account, with [`Alloc`](crate::Alloc) installed; 0 without.
    pub(crate) account: u32,
}

impl ScopeInfo {
    /// A scope named `name` that begins here; its subscriber is looked up if it becomes due
    /// for its check.
    pub(crate) fn here(name: Cow<'static, str>) -> Arc<Self> {
        Self::new(name, None)
    }

    /// A scope named `name` for the subscriber `recipient`, or for the one current when it
    /// becomes due for its check if `None`.
    pub(crate) fn new(name: Cow<'static, str>, recipient: Option<Recipient>) -> Arc<Self> {
        let name_hash = name_hash(&name);
        let account = if crate::mode::ENABLED {
            accounts::open(&name, name_hash)
        } else {
            0
        };
        Arc::new(Self {
            id: next_id(),
            name,
            ended: AtomicU64::new(0),
            holds: AtomicUsize::new(1),
            name_hash,
            recipient: recipient.map_or_else(OnceLock::new, OnceLock::from),
            account,
        })
    }

    /// The subscriber its outlived collections are told to: none before it ended (nothing
    /// of it can be reported before).
    pub(crate) fn recipient(&self) -> &Recipient {
        static NONE: Recipient = Recipient::NONE;
        self.recipient.get().unwrap_or(&NONE)
    }
}

impl Drop for ScopeInfo {
    /// A scope dropped without ending (a span whose close was never seen) ends its account.
    /// One that ended did so in [`end`]: its account may belong to another instance by now,
    /// which ending it again would cut short (ThreadSanitizer's scheduling found that).
    #[inline]
    fn drop(&mut self) {
        if self.ended.load(SeqCst) == 0 {
            accounts::end(self.account);
        }
    }
}

/// Ids a thread takes from the shared counter at once (a few under Miri, so that its test
/// crosses blocks cheaply).
const ID_BLOCK: u64 = if cfg!(miri) { 8 } else { 1024 };

/// A new scope id, unique in the process: from a block of ids this thread took, so that
/// threads making scopes at once do not all write one counter (issue 23).
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        /// The next id of this thread's block, and the end of the block.
        static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    IDS.try_with(|ids| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = NEXT.fetch_add(ID_BLOCK, Relaxed);
            end = next + ID_BLOCK;
        }
        ids.set((next + 1, end));
        next
    })
    .unwrap_or_else(|_| NEXT.fetch_add(1, Relaxed))
}

/// Why the current thread is outside any scope, as far as can be told: the cause a
/// `no_scope` warning names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outside {
    /// No scope was ever entered in the process: its spans are disabled, or it has none.
    NoScopeYet,
    /// Other threads enter scopes, this one never did: a closure run on a thread of its
    /// own or of a pool (`spawn_blocking`, `std::thread::spawn`).
    ThreadWithoutScopes,
    /// This thread entered scopes before, none now: code run outside them, or a span a
    /// filter disabled.
    BetweenScopes,
}

/// Why this thread is outside any scope now.
pub(crate) fn outside() -> Outside {
    if !current::entered_anywhere() {
        return Outside::NoScopeYet;
    }
    if current::entered_here() {
        Outside::BetweenScopes
    } else {
        Outside::ThreadWithoutScopes
    }
}

/// The scope of a span, kept in the span's extensions so that its end is seen on close.
pub(crate) struct SpanScope(pub(crate) Arc<ScopeInfo>);

/// Starts an explicit scope named `name` on this thread, for code without spans.
///
/// Collections of `#[track_growth(scoped)]` structs created while the guard lives belong to
/// the scope; when the guard drops, the scope ends, and any of them still alive after the
/// grace period is reported as having outlived it.
///
/// ```
/// # use leakguard::track_growth;
/// #[track_growth(scoped)]
/// #[derive(Default)]
/// struct Batch {
///     rows: Vec<String>,
/// }
///
/// {
///     let _scope = leakguard::scope("batch");
///     let mut batch = Batch::default();
///     batch.rows.push("row".to_string());
/// } // `batch` dropped before the scope ended: nothing to report.
/// ```
#[must_use = "the scope ends when the guard is dropped"]
pub fn scope(name: impl Into<Cow<'static, str>>) -> ScopeGuard {
    let info = ScopeInfo::here(name.into());
    // Compiled out, no collection is ever scoped: the guard only keeps its name.
    if crate::mode::ENABLED {
        current::push(Entered::Explicit(info.clone()));
    }
    ScopeGuard {
        info,
        not_send: PhantomData,
    }
}

/// An explicit scope; it ends when dropped. See [`scope`].
pub struct ScopeGuard {
    info: Arc<ScopeInfo>,
    /// The scope lives on this thread's stack of scopes.
    not_send: PhantomData<*const ()>,
}

impl ScopeGuard {
    /// The scope's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }
}

impl fmt::Debug for ScopeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeGuard")
            .field("name", &self.info.name)
            .finish()
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if !crate::mode::ENABLED {
            return;
        }
        let id = self.info.id;
        current::remove_innermost(|e| matches!(e, Entered::Explicit(s) if s.id == id));
        let_go(&self.info);
    }
}

/// Keeps `scope` open: one more holder, which must [`let_go`].
pub(crate) fn hold(scope: &ScopeInfo) {
    scope.holds.fetch_add(1, SeqCst);
}

/// A holder of `scope` lets go of it; the last ends it. The caller drops its handle
/// right after.
///
/// A scope whose caller's handle is its only one, and whose caller is its only holder,
/// ends when that handle drops: no collection of it lives (each holds a handle), so none
/// can be registered, queued or outlive it, and nothing can hold it again (that takes a
/// handle); `Drop for ScopeInfo` ends its account. Most scopes end so (a request whose
/// collections were all dropped): two loads, where [`end`] costs two atomic
/// read-modify-writes and a clock read (issue 23).
pub(crate) fn let_go(scope: &Arc<ScopeInfo>) {
    if Arc::strong_count(scope) == 1 && scope.holds.load(Acquire) == 1 {
        return;
    }
    if scope.holds.fetch_sub(1, SeqCst) == 1 {
        end(scope);
    }
}

/// A span was entered: it is the innermost scope until exited. `scope` is its scope when
/// already made (as it is for the heap accounts), else it is made on first use.
pub(crate) fn enter_span(span: u64, scope: Option<Arc<ScopeInfo>>) {
    current::push(Entered::Span { span, scope });
}

/// A span was exited.
pub(crate) fn exit_span(span: u64) {
    current::remove_innermost(|e| matches!(e, Entered::Span { span: s, .. } if *s == span));
}

/// A collection of `scope` registered, at its first growth. If the scope has ended already,
/// the collection has outlived it: it is due for a check of its own.
///
/// No count of its own: the collection holds a handle to its scope since it was made, in
/// the scope, before the scope ended; so `end` sees that handle (its last holder's let-go
/// happened after the collection was made), and queues the scope's check. A registration
/// that does not see the end yet is found by that check; one that does is checked on its
/// own (and if both happen, the second check finds the collection already reported).
///
/// Inlined into every registration, whose common case is one load; the compiler stopped
/// inlining it when `ScopeInfo` grew, which cost some 12 instructions a collection.
#[inline]
pub(crate) fn registered(scope: &Arc<ScopeInfo>) {
    let ended = scope.ended.load(SeqCst);
    if ended != 0 {
        registered_after_end(scope, ended);
    }
}

/// A collection of `scope` registered after the scope ended at `ended`: due for a check.
#[cold]
#[inline(never)]
fn registered_after_end(scope: &Arc<ScopeInfo>, ended: Nanos) {
    let at = ended.saturating_add(SETTINGS.grace()).max(monotonic_now());
    queue(Due {
        scope: scope.clone(),
        at,
    });
}

/// The scope of the span `span`, made and stored in its extensions on first use.
fn span_scope(span: u64) -> Option<Arc<ScopeInfo>> {
    let span = tracing::span::Id::from_non_zero_u64(std::num::NonZeroU64::new(span)?);
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(&span)?;
        let mut extensions = span.extensions_mut();
        if let Some(SpanScope(scope)) = extensions.get_mut::<SpanScope>() {
            return Some(scope.clone());
        }
        let scope = ScopeInfo::new(Cow::Borrowed(span.name()), Some(Recipient::of(dispatch)));
        extensions.insert(SpanScope(scope.clone()));
        Some(scope)
    })
}

/// A scope that ended, due for its check.
pub(crate) struct Due {
    pub(crate) scope: Arc<ScopeInfo>,
    at: Nanos,
}

/// Scopes due for a check, and the length below which the queue needs no pruning.
struct Pending {
    due: Vec<Due>,
    prune_at: usize,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    due: Vec::new(),
    prune_at: 64,
});

fn pending() -> MutexGuard<'static, Pending> {
    lock(&PENDING)
}

pub(crate) fn poison() {
    sync::poison(&PENDING);
}

/// Queues `due` for its check. With no layer to check them, dues would pile up: whenever
/// the queue doubles, the scopes with no live collection left are dropped from it, as
/// their check could find nothing. The queue is bounded by the scopes live collections
/// belong to.
fn queue(due: Due) {
    let _own = Own::start();
    let mut pending = pending();
    pending.due.push(due);
    if pending.due.len() >= pending.prune_at {
        prune(&mut pending.due);
        pending.prune_at = (2 * pending.due.len()).max(64);
    }
}

/// Drops from `due` the scopes no collection holds any more: every handle to an ended scope
/// is a collection's or a queued check's (a check under way, or a holder between its let-go
/// and the drop of its handle, holds one more for a moment: its scope stays, to be checked).
fn prune(due: &mut Vec<Due>) {
    let mut queued: HashMap<u64, usize> = HashMap::with_capacity(due.len());
    for d in due.iter() {
        *queued.entry(d.scope.id).or_default() += 1;
    }
    due.retain(|d| Arc::strong_count(&d.scope) > queued[&d.scope.id]);
}

/// A scope ended, by its last holder, which holds `scope`: if a collection of it lives (holds
/// another handle to it), it is due for its check once the grace period is over.
pub(crate) fn end(scope: &Arc<ScopeInfo>) {
    // Before `ended` is stored: a collection that registers after it finds it set.
    scope.recipient.get_or_init(Recipient::current);
    accounts::end(scope.account);
    let now = monotonic_now();
    scope.ended.store(now.max(1), SeqCst);
    // Every collection of it was made before its last holder let go, which happened before
    // this: its handle is counted here, unless it was dropped since. Another holder that let
    // go but has yet to drop its handle counts too: a check that will find nothing.
    if Arc::strong_count(scope) > 1 {
        queue(Due {
            scope: scope.clone(),
            at: now.saturating_add(SETTINGS.grace()),
        });
    }
}

/// Takes the scopes due for their check by `due_by`: those whose grace period is over by
/// then.
pub(crate) fn take_due(due_by: Nanos) -> Vec<Due> {
    let mut pending = pending();
    let (due, waiting) = pending.due.drain(..).partition(|d| d.at <= due_by);
    pending.due = waiting;
    due
}

/// Takes the scopes due by `due_by` whose warnings go to the subscriber `here`.
pub(crate) fn take_due_of(due_by: Nanos, here: &Recipient) -> Vec<Due> {
    // Dropped after the lock: the last handle to a subscriber that ended meanwhile drops it,
    // and whatever it holds.
    let mut held = Vec::new();
    let due = {
        let mut pending = pending();
        let (due, waiting) = pending
            .due
            .drain(..)
            .partition(|d| d.at <= due_by && d.scope.recipient().is(here, &mut held));
        pending.due = waiting;
        due
    };
    drop(held);
    due
}

/// The names of scopes collections outlived, by the hash the registry keeps: what a report
/// labels outlived collections with. At most [`MAX_NAMES`]; names are forgotten once no
/// outlived collection of theirs is live.
static OUTLIVED_NAMES: Mutex<Option<HashMap<u64, Cow<'static, str>>>> = Mutex::new(None);

/// Most scope names kept for reports.
const MAX_NAMES: usize = 4096;

/// Notes the name of a scope that collections outlived.
pub(crate) fn remember_outlived(scope: &ScopeInfo) {
    let _own = Own::start();
    let mut names = lock(&OUTLIVED_NAMES);
    let names = names.get_or_insert_with(HashMap::new);
    if names.len() < MAX_NAMES || names.contains_key(&scope.name_hash) {
        names.insert(scope.name_hash, scope.name.clone());
    }
}

/// The name of the outlived scope of hash `name_hash`, if noted.
pub(crate) fn outlived_name(name_hash: u64) -> Option<Cow<'static, str>> {
    if name_hash == 0 {
        return None;
    }
    lock(&OUTLIVED_NAMES)
        .as_ref()
        .and_then(|names| names.get(&name_hash).cloned())
}

/// Forgets the names of outlived scopes that no live collection outlived any more.
pub(crate) fn retain_outlived_names(live: &std::collections::HashSet<u64>) {
    if let Some(names) = lock(&OUTLIVED_NAMES).as_mut() {
        names.retain(|hash, _| live.contains(hash));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids come from blocks each thread takes: still unique across threads, more than a
    /// block each.
    #[test]
    fn scope_ids_are_unique_across_threads() {
        let per_thread = 3 * ID_BLOCK as usize;
        let ids: Vec<u64> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| s.spawn(move || (0..per_thread).map(|_| next_id()).collect::<Vec<_>>()))
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 4 * per_thread);
        assert!(!ids.contains(&0), "0 is no scope's id");
    }

    /// The running instances of the scope name `name` in the heap accounts.
    fn running(name: &str) -> u64 {
        accounts::by_name()
            .iter()
            .find(|f| f.name == name)
            .map_or(0, |f| f.running_instances)
    }

    /// The last holder's `let_go` ends a scope: at once if something else keeps a handle
    /// to it (a collection of it), else when the holder's handle drops.
    #[test]
    fn the_last_holder_ends_a_scope_with_or_without_other_handles() {
        accounts::note_installed();
        let alone = ScopeInfo::here("let go alone".into());
        assert_eq!(running("let go alone"), 1);
        let_go(&alone);
        drop(alone);
        assert_eq!(
            running("let go alone"),
            0,
            "its account ended with its handle"
        );

        let held = ScopeInfo::here("let go held".into());
        let collection = held.clone();
        hold(&held);
        let_go(&held);
        assert_eq!(held.ended.load(SeqCst), 0, "one holder left");
        assert_eq!(running("let go held"), 1);
        let_go(&held);
        drop(held);
        assert_ne!(
            collection.ended.load(SeqCst),
            0,
            "ended though a handle lives"
        );
        assert_eq!(running("let go held"), 0);
    }

    /// A scope ended with a collection's handle to it outstanding is queued for its check;
    /// one whose collections were all dropped is not, and a prune of the queue drops the
    /// scopes no collection holds any more, however many checks of theirs are queued.
    #[test]
    fn the_handles_of_its_collections_keep_an_ended_scope_queued() {
        let kept = ScopeInfo::here("kept by a collection".into());
        let collection = kept.clone();
        let dropped = ScopeInfo::here("collection dropped".into());
        drop(dropped.clone());
        let twice = ScopeInfo::here("queued twice".into());
        let due = |scope: &Arc<ScopeInfo>| Due {
            scope: scope.clone(),
            at: 0,
        };
        let mut queued = vec![due(&kept), due(&dropped), due(&twice), due(&twice)];
        // The scopes' own handles, here, are dropped as a holder's are once it let go.
        drop((kept, dropped, twice));
        prune(&mut queued);
        let names: Vec<&str> = queued.iter().map(|d| &*d.scope.name).collect();
        assert_eq!(names, ["kept by a collection"]);
        drop(collection);
        prune(&mut queued);
        assert!(queued.is_empty(), "its collection dropped");

        // `end` queues a scope a collection holds, and only such a scope.
        let held = ScopeInfo::here("ends held".into());
        let collection = held.clone();
        let alone = ScopeInfo::here("ends alone".into());
        end(&held);
        end(&alone);
        let mut pending = pending();
        let of = |id| pending.due.iter().filter(|d| d.scope.id == id).count();
        assert_eq!((of(held.id), of(alone.id)), (1, 0));
        pending.due.retain(|d| d.scope.id != held.id);
        drop(pending);
        drop(collection);
    }

    /// A guard's or future's scope looks its subscriber up where it ends, not where it
    /// begins; one that ends with no other handle to it (no collection of it lives) never
    /// does.
    #[test]
    fn a_scope_takes_the_subscriber_current_where_it_ends() {
        use tracing::Dispatch;
        use tracing::dispatcher::with_default;

        let one = Dispatch::new(tracing_subscriber::registry());
        let other = Dispatch::new(tracing_subscriber::registry());
        let scope = with_default(&other, || ScopeInfo::here("ends under one".into()));
        assert!(!scope.recipient().is_some(), "not looked up as it begins");
        let collection = scope.clone();
        with_default(&one, || let_go(&scope));
        drop(scope);
        assert_ne!(collection.ended.load(SeqCst), 0);
        assert_eq!(
            collection.recipient().identity(),
            crate::recipient::identity(&one)
        );

        let alone = with_default(&one, || ScopeInfo::here("ends alone".into()));
        with_default(&one, || let_go(&alone));
        assert!(
            !alone.recipient().is_some(),
            "nothing of it can be reported"
        );
    }
}
