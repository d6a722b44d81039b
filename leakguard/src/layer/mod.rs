//! The `tracing` layer: scopes from spans, its settings, the checks it runs and the sampler
//! that runs them.

mod detect;
mod env;
mod sampler;

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use tracing::dispatcher::Dispatch;
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::accounts;
use crate::clock::monotonic_now;
use crate::error::ConfigError;
use crate::events::{self, LayerRecipient, Rates};
use crate::recipient::Recipient;
use crate::scope::{self, ScopeInfo, SpanScope};
use crate::settings::{self, SETTINGS};

pub(crate) use detect::sample_tick;

/// The leakguard layer, with its default settings; see [`LeakLayer`].
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry().with(leakguard::layer());
/// # let _ = subscriber;
/// ```
pub fn layer() -> LeakLayer {
    LeakLayer::default()
}

/// The `tracing_subscriber` layer that ties scoped collections to spans and runs the
/// detectors: collections that outlive their scope, collections that keep growing, and
/// leakguard's periodic report.
///
/// Install it like any layer: `registry().with(fmt::layer()).with(leakguard::layer())`.
/// Installing it starts one sampler thread for the whole process. Budget and
/// hoarded-capacity events need no layer; this one adds the checks that need a clock.
///
/// | setting | returns | default |
/// |---|---|---|
/// | [`grace_period`](Self::grace_period): how long a scoped collection may outlive its scope | `Self` | 5 s |
/// | [`sample_interval`](Self::sample_interval): how often the sampler looks | `Result<Self, ConfigError>` | 1 s |
/// | [`growth_samples`](Self::growth_samples): samples of growth in a row that make a suspected leak | `Result<Self, ConfigError>` | 5 |
/// | [`hoarded_capacity`](Self::hoarded_capacity): capacity over len, and unused bytes, that make a hoard | `Result<Self, ConfigError>` | 4x and 1 MiB |
/// | [`rate_limit`](Self::rate_limit): one event per leak fingerprint per window | `Self` | 10 s |
/// | [`report_every`](Self::report_every): log [`report`](crate::report()) at this interval | `Result<Self, ConfigError>` | off |
/// | [`history`](Self::history): samples of each group's bytes kept for trends and sparklines | `Result<Self, ConfigError>` | 120 |
///
/// The settings that can be out of range return a [`Result`], so a chain takes a `?` after
/// each of them:
///
/// ```
/// use std::time::Duration;
/// use tracing_subscriber::prelude::*;
///
/// # fn main() -> Result<(), leakguard::ConfigError> {
/// let layer = leakguard::layer()
///     .grace_period(Duration::from_secs(5))
///     .sample_interval(Duration::from_millis(500))?
///     .growth_samples(10)?
///     .rate_limit(Duration::from_secs(30))
///     .report_every(Duration::from_secs(300))?;
/// let subscriber = tracing_subscriber::registry().with(layer);
/// # let _ = subscriber;
/// # Ok(())
/// # }
/// ```
///
/// The rate limit belongs to the subscriber the layer is part of: each subscriber counts its
/// own events, so that a test's own subscriber sees what its own code caused, and a
/// subscriber without the layer gets every event. For the same reason, collections that
/// outlived their scope are told to one subscriber, and to no other: for a span's scope, the
/// one current where the span began; for a [`scope`](crate::scope) guard's or a
/// [`leak_scope`](crate::ScopeExt::leak_scope) future's, the one current where the guard or
/// future was dropped (or the future completed). The other settings apply to the whole
/// process when the layer is installed.
#[derive(Clone, Debug)]
pub struct LeakLayer {
    grace: Duration,
    sample_interval: Duration,
    growth_samples: u32,
    hoard_ratio: u32,
    hoard_bytes: usize,
    rate_window: Duration,
    report_interval: Option<Duration>,
    history: usize,
    /// The subscriber's rate table, made anew when the layer joins a subscriber.
    rates: Arc<Rates>,
    /// The subscriber, once it is a dispatch: what is deferred on its threads is for it.
    subscriber: LayerRecipient,
}

impl Default for LeakLayer {
    fn default() -> Self {
        Self {
            grace: settings::DEFAULT_GRACE,
            sample_interval: settings::DEFAULT_SAMPLE_INTERVAL,
            growth_samples: settings::DEFAULT_GROWTH_SAMPLES,
            hoard_ratio: settings::DEFAULT_HOARD_RATIO,
            hoard_bytes: settings::DEFAULT_HOARD_BYTES,
            rate_window: settings::DEFAULT_RATE_WINDOW,
            report_interval: None,
            history: settings::DEFAULT_HISTORY,
            rates: Arc::new(Rates::new(settings::DEFAULT_RATE_WINDOW)),
            subscriber: LayerRecipient::default(),
        }
    }
}

fn invalid(setting: &'static str, requirement: &'static str) -> ConfigError {
    ConfigError::Invalid {
        setting,
        requirement,
    }
}

/// `interval`, if it is longer than zero, as the interval settings must be.
fn nonzero(setting: &'static str, interval: Duration) -> Result<Duration, ConfigError> {
    if interval.is_zero() {
        return Err(invalid(setting, "longer than zero"));
    }
    Ok(interval)
}

/// The shortest sample interval: the sampler sleeps in steps of no less.
const MIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(1);

impl LeakLayer {
    /// How long a scoped collection may outlive its scope before it is reported; 0 reports
    /// it at the next check.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How often the sampler reads the figures of every live collection. At least 1 ms.
    pub fn sample_interval(mut self, interval: Duration) -> Result<Self, ConfigError> {
        if interval < MIN_SAMPLE_INTERVAL {
            return Err(invalid("sample_interval", "at least 1 ms"));
        }
        self.sample_interval = interval;
        Ok(self)
    }

    /// How many samples in a row a collection must grow in to be reported as a suspected
    /// leak. At least 2.
    pub fn growth_samples(mut self, samples: u32) -> Result<Self, ConfigError> {
        if samples < 2 {
            return Err(invalid("growth_samples", "at least 2"));
        }
        self.growth_samples = samples;
        Ok(self)
    }

    /// When a collection hoards capacity: its capacity at least `ratio` times its length
    /// (at least 2), and at least `min_unused_bytes` (at least 1) of storage unused.
    pub fn hoarded_capacity(
        mut self,
        ratio: u32,
        min_unused_bytes: usize,
    ) -> Result<Self, ConfigError> {
        if ratio < 2 {
            return Err(invalid("hoarded_capacity", "a ratio of at least 2"));
        }
        if min_unused_bytes == 0 {
            return Err(invalid("hoarded_capacity", "at least 1 unused byte"));
        }
        self.hoard_ratio = ratio;
        self.hoard_bytes = min_unused_bytes;
        Ok(self)
    }

    /// At most one event per leak fingerprint per `window`, in the subscriber this layer is
    /// part of; further occurrences are counted and reported as suppressed. A collection
    /// that crosses its budget again after falling back under warns again, whatever the
    /// window. Zero emits every event.
    pub fn rate_limit(mut self, window: Duration) -> Self {
        self.rate_window = window;
        self.rates.set_window(window);
        self
    }

    /// Logs [`report`](crate::report()) at `interval`, as an `INFO` event. Longer than zero.
    pub fn report_every(mut self, interval: Duration) -> Result<Self, ConfigError> {
        self.report_interval = Some(nonzero("report_every", interval)?);
        Ok(self)
    }

    /// How many samples of each `Type.field`'s bytes the sampler keeps, the newest last, for
    /// [`GroupReport::history`](crate::GroupReport::history), the JSON report and the
    /// sparklines of the [debug page](crate::http). Each kept sample costs 8 bytes per group
    /// of live collections; a group's history goes when its last collection does. 0 keeps
    /// none; at most 10,000.
    ///
    /// ```
    /// let layer = leakguard::layer().history(600)?; // 10 minutes at the default interval
    /// # let _ = layer;
    /// # Ok::<(), leakguard::ConfigError>(())
    /// ```
    pub fn history(mut self, samples: usize) -> Result<Self, ConfigError> {
        if samples > settings::MAX_HISTORY {
            return Err(invalid("history", "at most 10000 samples"));
        }
        self.history = samples;
        Ok(self)
    }

    fn apply(&self) {
        SETTINGS.set_grace(self.grace);
        SETTINGS.set_sample_interval(self.sample_interval);
        SETTINGS.set_growth_samples(self.growth_samples);
        SETTINGS.set_hoard(self.hoard_ratio, self.hoard_bytes);
        SETTINGS.set_report_interval(self.report_interval);
        SETTINGS.set_history(self.history);
    }
}

impl<S> Layer<S> for LeakLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.apply();
        let _ = self.subscriber.set(Recipient::of(subscriber));
        events::layered();
        events::arm();
        sampler::start(subscriber.downgrade());
    }

    fn on_layer(&mut self, _: &mut S) {
        // Settings also apply to subscribers that never register as a dispatch.
        self.apply();
        // A table of this subscriber's own, even if a clone of this layer joined another.
        self.rates = Arc::new(Rates::new(self.rate_window));
        self.subscriber = LayerRecipient::default();
    }

    /// Hands out the subscriber's rate table, which leakguard's events find through the
    /// dispatcher they are emitted to.
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        events::downcast_rates(&self.rates, id)
    }

    fn event_enabled(&self, _: &tracing::Event<'_>, _: Context<'_, S>) -> bool {
        // This thread has this subscriber, though a finding raised inside this dispatch
        // finds none: it waits for it rather than being dropped. Said before any layer's
        // `on_event` runs, so that one of them raising it on the thread's first event is
        // no exception.
        events::saw_subscriber(&self.subscriber);
        true
    }

    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        // Again, for a layer that filters which events it sees.
        events::saw_subscriber(&self.subscriber);
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        // With the heap accounts, the span's scope is made now, so that what is allocated
        // inside it is charged to it from the first byte.
        let scope = accounts::installed()
            .then(|| ctx.span(id))
            .flatten()
            .map(|span| {
                let mut extensions = span.extensions_mut();
                if let Some(SpanScope(scope)) = extensions.get_mut::<SpanScope>() {
                    return scope.clone();
                }
                let recipient = tracing::dispatcher::get_default(Recipient::of);
                let scope =
                    ScopeInfo::new(std::borrow::Cow::Borrowed(span.name()), Some(recipient));
                extensions.insert(SpanScope(scope.clone()));
                scope
            });
        scope::enter_span(id.into_u64(), scope);
    }

    fn on_exit(&self, id: &span::Id, _: Context<'_, S>) {
        scope::exit_span(id.into_u64());
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let scope = span.extensions_mut().remove::<SpanScope>();
        if let Some(SpanScope(scope)) = scope {
            scope::let_go(&scope);
        }
    }
}

/// Runs the pending checks of this thread's subscriber now, on this thread: ended scopes
/// whose warnings go to it (see [`LeakLayer`]) are checked whatever is left of their grace
/// period, and suppressed events are summarised. Events go to this thread's subscriber. For
/// tests and shutdown hooks.
///
/// Scopes whose warnings go to another subscriber are left to it (a test running in
/// parallel checks its own), and to the sampler once their grace period is over.
pub fn check_now() {
    let now = monotonic_now();
    let here = Recipient::current();
    let due_by = now.saturating_add(SETTINGS.grace());
    let due = scope::take_due_of(due_by, &here);
    let found = detect::checks(due, now, false);
    events::deliver(&found);
}

pub(crate) fn poison() {
    sampler::poison();
}
