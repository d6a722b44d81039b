//! The sampler thread: one for the process, started with the first layer, running the
//! checks at the sample interval and emitting what they find: what is about one scope to
//! the subscriber its warnings go to, the rest to every subscriber that includes a layer.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tracing::dispatcher::{self, Dispatch, WeakDispatch};
use tracing::subscriber::NoSubscriber;

use super::detect::checks;
use crate::clock::{Nanos, monotonic_now};
use crate::events::{self, Finding};
use crate::publish;
use crate::report::sample;
use crate::scope;
use crate::settings::SETTINGS;
use crate::sync::{self, lock};

/// The subscribers the sampler reports to.
static SUBSCRIBERS: Mutex<Vec<WeakDispatch>> = Mutex::new(Vec::new());
static STARTED: OnceLock<()> = OnceLock::new();

pub(super) fn poison() {
    sync::poison(&SUBSCRIBERS);
}

/// Reports to `subscriber` from now on, starting the sampler thread the first time.
pub(super) fn start(subscriber: WeakDispatch) {
    {
        // Subscribers come and go (a test makes one per test): the list holds the live ones.
        let mut subscribers = lock(&SUBSCRIBERS);
        subscribers.retain(|s| s.upgrade().is_some());
        subscribers.push(subscriber);
    }
    STARTED.get_or_init(|| {
        // Without a thread, only `check_now` and budgets report; nothing to panic over.
        let _ = std::thread::Builder::new()
            .name("leakguard-sampler".into())
            .spawn(run);
    });
}

/// Longest the sampler sleeps at once, so that a layer installed later with a shorter
/// interval takes effect within this.
const NAP: Nanos = 250_000_000;

fn run() {
    let mut last_report = monotonic_now();
    let mut last_sample = last_report;
    loop {
        // A panic in a subscriber handling these events, or anywhere below, ends this tick,
        // not the sampler: without it no check that needs a clock would ever run again.
        let tick = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tick(&mut last_report, &mut last_sample)
        }));
        if let Err(payload) = tick {
            fault(&*payload);
        }
    }
}

/// Says once, on standard error and as an event, that a tick of the sampler panicked.
#[cold]
fn fault(payload: &(dyn std::any::Any + Send)) {
    static SAID: OnceLock<()> = OnceLock::new();
    if SAID.set(()).is_err() {
        return;
    }
    let cause = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    eprintln!(
        "leakguard: the sampler caught a panic while checking or reporting ({cause}); it goes on"
    );
    let _ = std::panic::catch_unwind(|| {
        tracing::error!(
            target: "leakguard",
            kind = "sampler_fault",
            cause,
            "leakguard's sampler caught a panic while checking or reporting ({cause}); it goes on, and says this once",
        );
    });
}

/// Sleeps until the next sample is due, then runs the checks and emits what they found.
fn tick(last_report: &mut Nanos, last_sample: &mut Nanos) {
    let interval = SETTINGS.sample_interval().max(1_000_000);
    let due = last_sample.saturating_add(interval);
    let now = monotonic_now();
    if now < due {
        std::thread::sleep(Duration::from_nanos((due - now).min(NAP)));
        return;
    }
    *last_sample = now;
    let mut found = checks(scope::take_due(now), now, true);
    let interval = SETTINGS.report_interval();
    if interval != 0 && now.saturating_sub(*last_report) >= interval {
        *last_report = now;
        let report = sample();
        publish::gauges(&report);
        found.push(Finding::Report(report));
    } else if !found.is_empty() || publish::GAUGES || SETTINGS.history() != 0 {
        // Keep peaks, rates, the history and the gauges current between reports.
        publish::gauges(&sample());
    }
    let (told, shared): (Vec<Finding>, Vec<Finding>) =
        found.into_iter().partition(|f| f.recipient().is_some());
    for finding in told {
        let Some(recipient) = finding.recipient() else {
            continue;
        };
        match recipient.dispatch() {
            Some(subscriber) => deliver_to(&subscriber, std::slice::from_ref(&finding)),
            // Its subscriber ended: nobody is left to tell.
            None if recipient.is_some() => {}
            None => to_global(std::slice::from_ref(&finding)),
        }
    }
    // Each subscriber's layer keeps its own rate table: what one held back is summarised
    // to it, even on a tick that found nothing new.
    let live: Vec<Dispatch> = {
        let mut subscribers = lock(&SUBSCRIBERS);
        subscribers.retain(|s| s.upgrade().is_some());
        subscribers
            .iter()
            .filter_map(WeakDispatch::upgrade)
            .collect()
    };
    if live.is_empty() {
        to_global(&shared);
    }
    for subscriber in &live {
        deliver_to(subscriber, &shared);
    }
}

/// Emits `found` to `subscriber`, from this thread; one subscriber that panics does not keep
/// the others from their events.
fn deliver_to(subscriber: &Dispatch, found: &[Finding]) {
    let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dispatcher::with_default(subscriber, || events::deliver(found))
    }));
    if let Err(payload) = delivered {
        fault(&*payload);
    }
}

/// Emits `found` to the global default subscriber, if there is one: this thread has no
/// default of its own.
fn to_global(found: &[Finding]) {
    let global = dispatcher::get_default(Dispatch::clone);
    if !global.is::<NoSubscriber>() {
        deliver_to(&global, found);
    }
}
