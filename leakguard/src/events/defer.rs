//! Findings raised inside the dispatch of another event, kept until they can be emitted
//! without re-entering a subscriber.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, dispatcher};

use super::{Event, Finding, deliver_to, emit_once, format};
use crate::recipient::Recipient;
use crate::sync::{self, lock};

/// Most findings kept waiting; past that the oldest are dropped, and counted.
pub(crate) const MAX_DEFERRED: usize = 1024;

struct Deferred {
    finding: Finding,
    thread: ThreadId,
    /// The subscriber of the thread that raised it, if known.
    to: Recipient,
}

struct Queue {
    items: VecDeque<Deferred>,
    lost: u64,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    items: VecDeque::new(),
    lost: 0,
});

thread_local! {
    /// Whether this thread has findings waiting: the flush costs nothing otherwise.
    static WAITING: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn poison() {
    sync::poison(&QUEUE);
}

/// Makes `tracing` guard against re-entrant dispatch under a global default too, so that
/// leakguard can tell when it is inside a subscriber's callback.
///
/// `tracing` hands code running inside a dispatch no subscriber, so that an event raised
/// there cannot recurse into the subscriber; but it skips that guard, for speed, until some
/// thread sets a scoped default. One scoped default that never ends turns the guard on for
/// the process: events raised inside a subscriber's callbacks then go nowhere, as they
/// already do under `set_default`, instead of re-entering it. It is set on a thread of its
/// own, which ends at once, so that no thread's subscriber changes.
pub(crate) fn arm() {
    static ARMED: OnceLock<()> = OnceLock::new();
    ARMED.get_or_init(|| {
        let armed = thread::Builder::new()
            .name("leakguard-arm".into())
            .spawn(|| {
                probe_global();
                std::mem::forget(dispatcher::set_default(&Dispatch::none()));
            });
        if let Ok(thread) = armed {
            let _ = thread.join();
        }
    });
}

/// Whether a global default subscriber was seen, by a thread with no default of its own.
static GLOBAL: AtomicBool = AtomicBool::new(false);

/// Looks for a global default subscriber; only meaningful on a thread with no default of
/// its own and outside any dispatch.
fn probe_global() {
    if dispatcher::get_default(|d| !d.is::<NoSubscriber>()) {
        GLOBAL.store(true, Relaxed);
    }
}

/// Whether a global default subscriber is known to exist, to receive what waits.
pub(crate) fn global_seen() -> bool {
    GLOBAL.load(Relaxed)
}

/// Keeps `finding`, raised on a thread whose subscriber is `to` (if known), until it can be
/// emitted: at the thread's next leakguard event outside a callback, or by the delivery
/// thread, whichever comes first.
pub(crate) fn defer(finding: Finding, to: Recipient) {
    let _own = crate::accounts::Own::start();
    let thread = thread::current().id();
    {
        let mut queue = lock(&QUEUE);
        if queue.items.len() >= MAX_DEFERRED {
            queue.items.pop_front();
            queue.lost += 1;
        }
        queue.items.push_back(Deferred {
            finding,
            thread,
            to,
        });
    }
    let _ = WAITING.try_with(|w| w.set(true));
    wake_delivery();
}

/// Emits this thread's waiting findings to `dispatch`, its subscriber now.
pub(crate) fn flush_here(dispatch: &Dispatch) {
    if !WAITING.try_with(|w| w.replace(false)).unwrap_or(false) {
        return;
    }
    let here = thread::current().id();
    let (mine, lost) = take(|d| d.thread == here);
    let mine: Vec<Finding> = mine.into_iter().map(|d| d.finding).collect();
    deliver_waiting(dispatch, &mine, lost);
}

/// Takes the waiting findings `pick` chooses, and the count of those lost.
fn take(pick: impl Fn(&Deferred) -> bool) -> (Vec<Deferred>, u64) {
    let mut queue = lock(&QUEUE);
    let mut taken = Vec::new();
    let mut kept = VecDeque::new();
    for deferred in queue.items.drain(..) {
        if pick(&deferred) {
            taken.push(deferred);
        } else {
            kept.push_back(deferred);
        }
    }
    queue.items = kept;
    (taken, std::mem::take(&mut queue.lost))
}

fn deliver_waiting(dispatch: &Dispatch, findings: &[Finding], lost: u64) {
    deliver_to(dispatch, findings);
    if lost > 0 {
        emit_once(|| {
            format::emit(&Event::Lost {
                lost,
                most: MAX_DEFERRED,
            })
        });
    }
}

/// Wakes the thread that delivers waiting findings, starting it the first time.
fn wake_delivery() {
    static WAKE: OnceLock<Option<Mutex<SyncSender<()>>>> = OnceLock::new();
    let wake = WAKE.get_or_init(|| {
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        thread::Builder::new()
            .name("leakguard-deferred".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    // Let the dispatch that raised them end: the subscriber is not entered
                    // from this thread while the other still runs its callback.
                    thread::sleep(Duration::from_millis(1));
                    probe_global();
                    let (waiting, lost) = take(|_| true);
                    deliver_elsewhere(waiting, lost);
                }
            })
            .ok()
            .map(|_| Mutex::new(wake))
    });
    if let Some(wake) = wake {
        let _ = lock(wake).try_send(());
    }
}

/// Emits each of `waiting` to the subscriber of the thread that raised it, or to the global
/// default where that is unknown; what was for a subscriber that has ended goes nowhere.
fn deliver_elsewhere(waiting: Vec<Deferred>, mut lost: u64) {
    // This thread has no default of its own: this is the global one, if any.
    let global = dispatcher::get_default(Dispatch::clone);
    for deferred in waiting {
        let dispatch = match deferred.to.dispatch() {
            Some(dispatch) => dispatch,
            None if deferred.to.is_some() => continue,
            None => global.clone(),
        };
        let lost = std::mem::take(&mut lost);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            dispatcher::with_default(&dispatch, || {
                deliver_waiting(&dispatch, std::slice::from_ref(&deferred.finding), lost)
            })
        }));
    }
    if lost > 0 {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            deliver_waiting(&global, &[], lost)
        }));
    }
}
