//! The `tracing` layer: scopes from spans, its settings, the checks it runs and the sampler
//! that runs them.

mod detect;
mod env;
mod sampler;

use std::time::Duration;

use tracing::dispatcher::Dispatch;
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::clock::monotonic_now;
use crate::error::ConfigError;
use crate::events;
use crate::scope::{self, SpanScope};
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
/// | setting | default |
/// |---|---|
/// | [`grace_period`](Self::grace_period): how long a scoped collection may outlive its scope | 5 s |
/// | [`sample_interval`](Self::sample_interval): how often the sampler looks | 1 s |
/// | [`growth_samples`](Self::growth_samples): samples of growth in a row that make a suspected leak | 5 |
/// | [`hoarded_capacity`](Self::hoarded_capacity): capacity over len, and unused bytes, that make a hoard | 4x and 1 MiB |
/// | [`rate_limit`](Self::rate_limit): one event per leak fingerprint per window | 10 s |
/// | [`report_every`](Self::report_every): log [`report`](crate::report()) at this interval | off |
///
/// The settings apply to the whole process when the layer is installed.
#[derive(Clone, Debug)]
pub struct LeakLayer {
    grace: Duration,
    sample_interval: Duration,
    growth_samples: u32,
    hoard_ratio: u32,
    hoard_bytes: usize,
    rate_window: Duration,
    report_interval: Option<Duration>,
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

impl LeakLayer {
    /// How long a scoped collection may outlive its scope before it is reported; 0 reports
    /// it at the next check.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How often the sampler reads the figures of every live collection. Longer than zero.
    pub fn sample_interval(mut self, interval: Duration) -> Result<Self, ConfigError> {
        self.sample_interval = nonzero("sample_interval", interval)?;
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

    /// At most one event per leak fingerprint per `window`; further occurrences are counted
    /// and reported as suppressed. Zero emits every event.
    pub fn rate_limit(mut self, window: Duration) -> Self {
        self.rate_window = window;
        self
    }

    /// Logs [`report`](crate::report()) at `interval`, as an `INFO` event. Longer than zero.
    pub fn report_every(mut self, interval: Duration) -> Result<Self, ConfigError> {
        self.report_interval = Some(nonzero("report_every", interval)?);
        Ok(self)
    }

    fn apply(&self) {
        SETTINGS.set_grace(self.grace);
        SETTINGS.set_sample_interval(self.sample_interval);
        SETTINGS.set_growth_samples(self.growth_samples);
        SETTINGS.set_hoard(self.hoard_ratio, self.hoard_bytes);
        SETTINGS.set_rate_window(self.rate_window);
        SETTINGS.set_report_interval(self.report_interval);
    }
}

impl<S> Layer<S> for LeakLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.apply();
        sampler::start(subscriber.downgrade());
    }

    fn on_layer(&mut self, _: &mut S) {
        // Settings also apply to subscribers that never register as a dispatch.
        self.apply();
    }

    fn on_enter(&self, id: &span::Id, _: Context<'_, S>) {
        scope::enter_span(id.into_u64());
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
            scope::end(&scope);
        }
    }
}

/// Runs every pending check now, on this thread: scopes that ended are checked whatever
/// is left of their grace period, and suppressed events are summarised. Events go to this
/// thread's subscriber. For tests and shutdown hooks.
pub fn check_now() {
    let now = monotonic_now();
    let mut found = detect::checks(now.saturating_add(SETTINGS.grace()), now, false);
    found.extend(events::summaries());
    events::deliver(&found);
}

pub(crate) fn poison() {
    sampler::poison();
}
