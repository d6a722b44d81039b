//! The `tracing` layer: scopes from spans, the sampler, and the checks it runs.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracing::dispatcher::{self, Dispatch, WeakDispatch};
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::budget::{ByteSize, SignedBytes, emit_once};
use crate::clock::{Nanos, monotonic_now};
use crate::error::ConfigError;
use crate::events::{self, Detail, Fingerprint, Kind, Site, Verdict};
use crate::meta::FieldKey;
use crate::registry::{self, FLAG_SUSPECTED};
use crate::report::{Report, report};
use crate::scope::{self, Outlived, SpanScope};
use crate::settings::{self, SETTINGS};

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

    /// The layer configured from the environment: [`ENV_VARS`](Self::ENV_VARS) that are
    /// set override the defaults. A value it cannot use is an error naming the variable.
    ///
    /// ```
    /// let layer = leakguard::LeakLayer::from_env().expect("valid LEAKGUARD_* variables");
    /// # let _ = layer;
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        for variable in Self::ENV_VARS {
            if let Err(std::env::VarError::NotUnicode(value)) = std::env::var(variable) {
                return Err(ConfigError::Env {
                    variable,
                    value: value.to_string_lossy().into_owned(),
                    reason: "not valid Unicode".into(),
                });
            }
        }
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The variables [`from_env`](Self::from_env) reads: durations like `"5s"` or
    /// `"250ms"`, and a count for `LEAKGUARD_GROWTH_SAMPLES`.
    pub const ENV_VARS: [&'static str; 5] = [
        "LEAKGUARD_GRACE_PERIOD",
        "LEAKGUARD_SAMPLE_INTERVAL",
        "LEAKGUARD_GROWTH_SAMPLES",
        "LEAKGUARD_RATE_LIMIT",
        "LEAKGUARD_REPORT_EVERY",
    ];

    /// The layer configured from `lookup`, which answers for the variables of
    /// [`ENV_VARS`](Self::ENV_VARS) as [`from_env`](Self::from_env) reads them from the
    /// environment.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        fn env(variable: &'static str, value: &str, reason: impl fmt::Display) -> ConfigError {
            ConfigError::Env {
                variable,
                value: value.to_string(),
                reason: reason.to_string(),
            }
        }
        /// The builder's own requirement, restated for the variable.
        fn out_of_range(variable: &'static str, value: &str, e: ConfigError) -> ConfigError {
            match e {
                ConfigError::Invalid { requirement, .. } => {
                    env(variable, value, format_args!("must be {requirement}"))
                }
                other => other,
            }
        }
        fn duration(variable: &'static str, value: &str) -> Result<Duration, ConfigError> {
            humantime::parse_duration(value.trim()).map_err(|e| {
                env(
                    variable,
                    value,
                    format!("not a duration like \"5s\" or \"250ms\" ({e})"),
                )
            })
        }
        let [grace, interval, samples, rate, report] = Self::ENV_VARS;
        let mut layer = Self::default();
        if let Some(value) = lookup(grace) {
            layer = layer.grace_period(duration(grace, &value)?);
        }
        if let Some(value) = lookup(interval) {
            layer = layer
                .sample_interval(duration(interval, &value)?)
                .map_err(|e| out_of_range(interval, &value, e))?;
        }
        if let Some(value) = lookup(samples) {
            let count: u32 = value
                .trim()
                .parse()
                .map_err(|_| env(samples, &value, "not a whole number"))?;
            layer = layer
                .growth_samples(count)
                .map_err(|e| out_of_range(samples, &value, e))?;
        }
        if let Some(value) = lookup(rate) {
            layer = layer.rate_limit(duration(rate, &value)?);
        }
        if let Some(value) = lookup(report) {
            layer = layer
                .report_every(duration(report, &value)?)
                .map_err(|e| out_of_range(report, &value, e))?;
        }
        Ok(layer)
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
    let mut found = checks(now.saturating_add(SETTINGS.grace()), now, false);
    found.extend(summaries());
    emit_all(&found);
}

/// What one round of checks found.
enum Finding {
    Outlived(Outlived, Verdict),
    Suspected(Suspect, Verdict),
    Summary(Fingerprint, Verdict),
    Report(Report),
}

/// A collection that grew at every sample of a run.
struct Suspect {
    field: FieldKey,
    collection: &'static str,
    site: Site,
    len: usize,
    bytes: usize,
    samples: u32,
    len_per_sec: f64,
    bytes_per_sec: f64,
}

/// Checks the scopes due at `due`, and, when `sample`, samples growth.
fn checks(due: Nanos, now: Nanos, sample: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    for leak in scope::check_due(due, now) {
        let fingerprint = Fingerprint {
            kind: Kind::Outlived,
            field: leak.field,
            collection: leak.collection,
            site: leak.site,
            detail: Detail::Scope(leak.scope.to_string()),
        };
        if let Some(verdict) = events::occurred(&fingerprint, leak.instances) {
            found.push(Finding::Outlived(leak, verdict));
        }
    }
    if sample {
        for suspect in sample_growth(now) {
            let fingerprint = Fingerprint {
                kind: Kind::SuspectedLeak,
                field: suspect.field,
                collection: suspect.collection,
                site: suspect.site,
                detail: Detail::None,
            };
            if let Some(verdict) = events::occurred(&fingerprint, 1) {
                found.push(Finding::Suspected(suspect, verdict));
            }
        }
    }
    found
}

/// One tick of the sampler, without emitting what it finds: for benchmarks. Returns how
/// many findings it had.
pub(crate) fn sample_tick() -> usize {
    let now = monotonic_now();
    let found = checks(now, now, true).len() + summaries().len();
    let _ = report();
    found
}

fn summaries() -> Vec<Finding> {
    events::due_summaries()
        .into_iter()
        .map(|(fingerprint, verdict)| Finding::Summary(fingerprint, verdict))
        .collect()
}

/// Reads every live collection's published figures; returns those that grew on each of the
/// last `growth_samples` samples. Never touches a collection, only its slot.
fn sample_growth(now: Nanos) -> Vec<Suspect> {
    let needed = SETTINGS.growth_samples();
    let mut suspects = Vec::new();
    registry::for_each_live(|slot, meta| {
        let generation = slot.generation.load(Relaxed);
        let len = slot.len.load(Relaxed);
        let bytes = slot.bytes.load(Relaxed);
        let last_len = slot.sampled_len.load(Relaxed);
        let last_bytes = slot.sampled_bytes.load(Relaxed);
        let last_at = slot.sampled_at.load(Relaxed);
        slot.sampled_len.store(len, Relaxed);
        slot.sampled_bytes.store(bytes, Relaxed);
        slot.sampled_at.store(now, Relaxed);
        if slot.sampled_generation.swap(generation, Relaxed) != generation {
            // A new collection in this slot: start over.
            slot.streak.store(0, Relaxed);
            slot.set_flag(FLAG_SUSPECTED, false);
            return;
        }
        // Figures are published in steps of at most 1/1024, so any rise of len is one;
        // bytes must rise by 1% to count on their own.
        let grew = len > last_len || bytes > last_bytes.saturating_add(last_bytes / 100);
        if !grew {
            slot.streak.store(0, Relaxed);
            slot.set_flag(FLAG_SUSPECTED, false);
            return;
        }
        let streak = slot.streak.fetch_add(1, Relaxed) + 1;
        if streak == 1 {
            slot.first_growth_at.store(last_at, Relaxed);
            slot.first_growth_len.store(last_len, Relaxed);
            slot.first_growth_bytes.store(last_bytes, Relaxed);
        }
        if streak >= needed && !slot.has_flag(FLAG_SUSPECTED) {
            slot.set_flag(FLAG_SUSPECTED, true);
            let secs =
                (now.saturating_sub(slot.first_growth_at.load(Relaxed)) as f64 / 1e9).max(1e-9);
            suspects.push(Suspect {
                field: meta.key(),
                collection: meta.name,
                site: slot.site(),
                len,
                bytes,
                samples: streak,
                len_per_sec: (len as f64 - slot.first_growth_len.load(Relaxed) as f64) / secs,
                bytes_per_sec: (bytes as f64 - slot.first_growth_bytes.load(Relaxed) as f64) / secs,
            });
        }
    });
    suspects
}

/// A span of time, printed in the unit that suits it: `5.0 s`, `120 ms`.
pub(crate) struct Elapsed(pub(crate) Nanos);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0 as f64;
        if nanos >= 1e9 {
            write!(f, "{:.1} s", nanos / 1e9)
        } else if nanos >= 1e6 {
            write!(f, "{:.0} ms", nanos / 1e6)
        } else {
            write!(f, "{:.0} µs", nanos / 1e3)
        }
    }
}

/// `at src/main.rs:40`, or `at an unknown place` before the collection first grew.
struct At(Site);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((file, line)) => write!(f, "{file}:{line}"),
            None => f.write_str("never grown"),
        }
    }
}

/// ` (3 in all, 2 suppressed since the last report)`, or nothing for a first, single one.
struct Tally(Verdict, u64);

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Tally(verdict, now) = *self;
        if verdict.total == now && verdict.suppressed == 0 {
            if now > 1 {
                write!(f, " ({now} instances)")?;
            }
            return Ok(());
        }
        write!(f, " ({} in all", verdict.total)?;
        if verdict.suppressed > 0 {
            write!(
                f,
                ", {} suppressed since the last report",
                verdict.suppressed
            )?;
        }
        f.write_str(")")
    }
}

fn emit_all(found: &[Finding]) {
    for finding in found {
        emit_once(|| emit(finding));
    }
}

fn emit(finding: &Finding) {
    match finding {
        Finding::Outlived(leak, verdict) => {
            let tally = Tally(*verdict, leak.instances);
            let site = At(leak.site).to_string();
            tracing::warn!(
                target: "leakguard",
                kind = "outlived",
                collection = leak.collection,
                scope = %leak.scope,
                site,
                age_ms = leak.age / 1_000_000,
                outlived_ms = leak.since_end / 1_000_000,
                len = leak.len,
                bytes = leak.bytes,
                instances = leak.instances,
                total = verdict.total,
                suppressed = verdict.suppressed,
                "{} outlived its scope `{}` by {}: age {}, len {}, {}, first grown at {}{}",
                leak.collection,
                leak.scope,
                Elapsed(leak.since_end),
                Elapsed(leak.age),
                leak.len,
                ByteSize(leak.bytes),
                site,
                tally,
            );
        }
        Finding::Suspected(suspect, verdict) => {
            let site = At(suspect.site).to_string();
            tracing::warn!(
                target: "leakguard",
                kind = "suspected_leak",
                collection = suspect.collection,
                site,
                len = suspect.len,
                bytes = suspect.bytes,
                samples = suspect.samples,
                len_per_sec = suspect.len_per_sec,
                bytes_per_sec = suspect.bytes_per_sec,
                total = verdict.total,
                suppressed = verdict.suppressed,
                "suspected leak: {} grew on each of the last {} samples, {:+.1} entries/s, {}/s (len {}, {}), first grown at {}{}",
                suspect.collection,
                suspect.samples,
                suspect.len_per_sec,
                SignedBytes(suspect.bytes_per_sec),
                suspect.len,
                ByteSize(suspect.bytes),
                site,
                Tally(*verdict, 1),
            );
        }
        Finding::Summary(fingerprint, verdict) => {
            let what = match &fingerprint.detail {
                Detail::Scope(scope) => format!("outlived its scope `{scope}`"),
                Detail::Budget { bytes: true, .. } => "went over its bytes budget".to_string(),
                Detail::Budget { bytes: false, .. } => "went over its len budget".to_string(),
                Detail::None if fingerprint.kind == Kind::SuspectedLeak => {
                    "kept growing".to_string()
                }
                Detail::None => "hoarded unused capacity".to_string(),
            };
            tracing::warn!(
                target: "leakguard",
                kind = "suppressed",
                collection = fingerprint.collection,
                suppressed = verdict.suppressed,
                total = verdict.total,
                "{} {what}: {} more times since the last report ({} in all)",
                fingerprint.collection,
                verdict.suppressed,
                verdict.total,
            );
        }
        Finding::Report(report) => {
            tracing::info!(
                target: "leakguard",
                kind = "report",
                groups = report.groups.len(),
                bytes = report.total_bytes(),
                "leakguard report\n{report}",
            );
        }
    }
}

pub(crate) fn poison() {
    sampler::poison();
}

mod sampler {
    use super::*;

    /// The subscribers the sampler reports to.
    static SUBSCRIBERS: Mutex<Vec<WeakDispatch>> = Mutex::new(Vec::new());
    static STARTED: OnceLock<()> = OnceLock::new();

    fn subscribers() -> MutexGuard<'static, Vec<WeakDispatch>> {
        crate::lock(&SUBSCRIBERS)
    }

    pub(super) fn poison() {
        crate::__private::poison(&SUBSCRIBERS);
    }

    /// Reports to `subscriber` from now on, starting the sampler thread the first time.
    pub(super) fn start(subscriber: WeakDispatch) {
        subscribers().push(subscriber);
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
            let interval = SETTINGS.sample_interval().max(1_000_000);
            let due = last_sample.saturating_add(interval);
            let now = monotonic_now();
            if now < due {
                std::thread::sleep(Duration::from_nanos((due - now).min(NAP)));
                continue;
            }
            last_sample = now;
            let mut found = checks(now, now, true);
            found.extend(summaries());
            let interval = SETTINGS.report_interval();
            if interval != 0 && now.saturating_sub(last_report) >= interval {
                last_report = now;
                found.push(Finding::Report(report()));
            } else if !found.is_empty() {
                // Keep peaks and rates current between reports.
                let _ = report();
            }
            if found.is_empty() {
                continue;
            }
            let live: Vec<Dispatch> = {
                let mut subscribers = subscribers();
                subscribers.retain(|s| s.upgrade().is_some());
                subscribers
                    .iter()
                    .filter_map(WeakDispatch::upgrade)
                    .collect()
            };
            if live.is_empty() {
                emit_all(&found);
            }
            for subscriber in &live {
                dispatcher::with_default(subscriber, || emit_all(&found));
            }
        }
    }
}
