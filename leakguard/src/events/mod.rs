//! The one pipeline of leakguard's events: a [`Finding`] is recorded for the test check its
//! collection was made under, rate-limited by the receiving subscriber's
//! [`LeakLayer`](crate::LeakLayer), if it has one, formatted, and emitted through `tracing`.
//! Budget and hoarding findings come from the hot path of tracked collections, the others
//! from the layer's checks; all take the same way.
//!
//! leakguard never emits from inside the dispatch of another event on the same thread, as it
//! would when a subscriber's own callback uses a tracked collection: the subscriber would be
//! re-entered, and deadlock on its own lock or panic on its own `RefCell`. A finding raised
//! there is deferred, and emitted at the thread's next leakguard event outside a callback,
//! by [`check_now`](crate::check_now), or by a delivery thread a millisecond or so after it
//! was raised, to the thread's subscriber (the global default where the thread's is
//! unknown), whichever comes first: the thread may end before it sees another event.

mod defer;
mod finding;
mod format;
mod rate;

use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use tracing::Dispatch;
use tracing::dispatcher;

pub(crate) use defer::{arm, poison as poison_deferred};
pub(crate) use finding::{Finding, Fingerprint, Hoard, Outlived, Retained, Suspect, Unscoped};
pub(crate) use rate::{Rates, Verdict};

use crate::accounts::Own;
use crate::harness;
use crate::recipient::Recipient;

/// A finding as one subscriber receives it, or the summary of what its rate limit held back.
pub(crate) enum Event<'a> {
    Finding(&'a Finding, Verdict),
    Summary(Fingerprint, Verdict),
    /// New leaks the subscriber's full rate table could not tell apart.
    Overflow(Verdict),
    /// Findings deferred and dropped for want of room: how many, and the most that may wait.
    Lost {
        lost: u64,
        most: usize,
    },
}

/// Records `finding` for the test check its collection was made under: once, whatever
/// subscribers receive it.
pub(crate) fn record(finding: &Finding) {
    let _own = Own::start();
    if let Some(kind) = finding.kind_name() {
        crate::publish::event(kind);
    }
    if let Finding::OverBudget {
        meta,
        crossing,
        site,
        test,
        ..
    } = finding
    {
        if *test != 0 {
            harness::record_crossing(*test, meta, *site, *crossing);
        }
    }
}

/// Takes `finding`, raised on the hot path, through the whole pipeline to this thread's
/// subscriber, or defers it if this thread is inside the dispatch of another event.
pub(crate) fn emit_now(finding: Finding) {
    record(&finding);
    match current() {
        Some(dispatch) => {
            defer::flush_here(&dispatch);
            deliver_to(&dispatch, std::slice::from_ref(&finding));
        }
        None if has_subscriber() => defer::defer(finding, thread_recipient()),
        // Nobody listens: there is nothing to wait for.
        None => {}
    }
}

/// Emits `findings` to this thread's subscriber, rate-limited by its layer, with the
/// summaries its layer has due; deferred findings of this thread go first.
pub(crate) fn deliver(findings: &[Finding]) {
    match current() {
        Some(dispatch) => {
            defer::flush_here(&dispatch);
            deliver_to(&dispatch, findings);
        }
        None if has_subscriber() => {
            let to = thread_recipient();
            findings
                .iter()
                .for_each(|f| defer::defer(f.clone(), to.clone()));
        }
        None => {}
    }
}

/// This thread's subscriber, or `None` inside the dispatch of another event, where `tracing`
/// hands out none (see [`arm`]), and where there is none at all.
fn current() -> Option<Dispatch> {
    let dispatch = dispatcher::get_default(|dispatch| {
        (!dispatch.is::<tracing::subscriber::NoSubscriber>()).then(|| dispatch.clone())
    });
    if let Some(dispatch) = &dispatch {
        let seen = Arc::new(OnceLock::from(Recipient::of(dispatch)));
        let _ = THREAD_SUBSCRIBER.try_with(|known| known.replace(Some(seen)));
    }
    dispatch
}

/// A subscriber as its layer knows it: set once the subscriber is a dispatch.
pub(crate) type LayerRecipient = Arc<OnceLock<Recipient>>;

thread_local! {
    /// This thread's subscriber as last seen: the one that `tracing` hides inside a
    /// dispatch, as opposed to none at all. What is deferred here is for it.
    static THREAD_SUBSCRIBER: RefCell<Option<LayerRecipient>> = const { RefCell::new(None) };
}

/// Whether a layer joined a subscriber anywhere: a thread that has seen none of its own yet
/// may have the global default, which the delivery thread finds.
static LAYERED: AtomicBool = AtomicBool::new(false);

/// Notes that a layer's subscriber is a dispatch.
pub(crate) fn layered() {
    LAYERED.store(true, Relaxed);
}

/// Notes that this thread's subscriber is `subscriber`, as its layer does on each of its
/// events: cheap when it already was.
pub(crate) fn saw_subscriber(subscriber: &LayerRecipient) {
    let _ = THREAD_SUBSCRIBER.try_with(|known| {
        let Ok(mut known) = known.try_borrow_mut() else {
            return;
        };
        if !known.as_ref().is_some_and(|k| Arc::ptr_eq(k, subscriber)) {
            *known = Some(subscriber.clone());
        }
    });
}

/// The subscriber of this thread as last seen, if any.
fn thread_recipient() -> Recipient {
    THREAD_SUBSCRIBER
        .try_with(|known| {
            let known = known.try_borrow().ok()?;
            known.as_ref()?.get().cloned()
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Whether this thread has a subscriber to tell.
pub(crate) fn listening() -> bool {
    current().is_some()
}

/// Whether a finding that finds no subscriber here has one to wait for: the thread's own,
/// hidden by a dispatch in progress, or the global default, known or possible.
fn has_subscriber() -> bool {
    defer::global_seen()
        || LAYERED.load(Relaxed)
        || THREAD_SUBSCRIBER
            .try_with(|known| known.try_borrow().is_ok_and(|k| k.is_some()))
            .unwrap_or(false)
}

/// The rate table of the layer in `dispatch`, if it has one.
fn rates(dispatch: &Dispatch) -> Option<&Rates> {
    dispatch.downcast_ref::<Rates>()
}

/// Emits `findings` and the due summaries to `dispatch`, which is this thread's subscriber.
fn deliver_to(dispatch: &Dispatch, findings: &[Finding]) {
    // The rate tables, and what a subscriber keeps of leakguard's events, are leakguard's
    // memory, not that of the scope or test check the event was raised in.
    let _own = Own::start();
    let rates = rates(dispatch);
    for finding in findings {
        let verdict = match (rates, finding.fingerprint()) {
            (Some(rates), Some((fingerprint, count, again))) => {
                match rates.occurred(&fingerprint, count, again) {
                    Some(verdict) => verdict,
                    None => continue,
                }
            }
            _ => Verdict::ALONE,
        };
        emit_once(|| format::emit(&Event::Finding(finding, verdict)));
    }
    if let Some(rates) = rates {
        let (due, overflow) = rates.due_summaries();
        for (fingerprint, verdict) in due {
            emit_once(|| format::emit(&Event::Summary(fingerprint, verdict)));
        }
        if let Some(verdict) = overflow {
            emit_once(|| format::emit(&Event::Overflow(verdict)));
        }
    }
}

/// A pointer to `rates` when a layer's `downcast_raw` is asked for [`Rates`].
pub(crate) fn downcast_rates(rates: &Arc<Rates>, id: TypeId) -> Option<*const ()> {
    (id == TypeId::of::<Rates>()).then(|| Arc::as_ptr(rates).cast::<()>())
}

thread_local! {
    static EMITTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `emit` unless this thread is already emitting a leakguard event.
///
/// A subscriber that itself uses tracked collections would otherwise re-enter leakguard
/// from inside its own callback and recurse without bound.
fn emit_once(emit: impl FnOnce()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = EMITTING.try_with(|e| e.set(false));
        }
    }
    let entered = EMITTING.try_with(|e| !e.replace(true)).unwrap_or(false);
    if entered {
        let _reset = Reset;
        emit();
    }
}
