//! A `tracing` layer that records events, for asserting on their exact text.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub level: Level,
    pub target: String,
    pub message: String,
    /// The other fields, `name=value`, in the order they were recorded.
    pub fields: Vec<(String, String)>,
}

impl Captured {
    /// The value of field `name`, as `Debug` printed it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The events a [`CaptureLayer`] has seen.
#[derive(Clone, Debug, Default)]
pub struct Events(Arc<Mutex<Vec<Captured>>>);

impl Events {
    /// All events so far.
    pub fn all(&self) -> Vec<Captured> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The messages of the events with target `leakguard`.
    pub fn leakguard_messages(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|e| e.target == "leakguard")
            .map(|e| e.message)
            .collect()
    }

    /// The events with target `leakguard` whose `kind` field is `kind`.
    pub fn of_kind(&self, kind: &str) -> Vec<Captured> {
        let quoted = format!("{kind:?}");
        self.all()
            .into_iter()
            .filter(|e| e.target == "leakguard" && e.field("kind") == Some(quoted.as_str()))
            .collect()
    }

    /// The events with target `leakguard` whose `kind` field is `kind`, about `collection`.
    pub fn about(&self, kind: &str, collection: &str) -> Vec<Captured> {
        let quoted = format!("{collection:?}");
        self.of_kind(kind)
            .into_iter()
            .filter(|e| e.field("collection") == Some(quoted.as_str()))
            .collect()
    }

    /// Forgets the events so far.
    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// Records every event into its [`Events`].
#[derive(Debug)]
pub struct CaptureLayer(Events);

/// A layer and the handle to read what it records.
pub fn layer() -> (CaptureLayer, Events) {
    let events = Events::default();
    (CaptureLayer(events.clone()), events)
}

/// A subscriber that records every event, with leakguard's layer reporting at once (no
/// grace period, no rate limit), and the handle to read what it records.
pub fn reporting() -> (impl Subscriber + Send + Sync, Events) {
    use tracing_subscriber::layer::SubscriberExt;
    let (capture, events) = layer();
    let leakguard = leakguard::layer()
        .grace_period(Duration::ZERO)
        .rate_limit(Duration::ZERO);
    (
        tracing_subscriber::registry().with(capture).with(leakguard),
        events,
    )
}

/// [`reporting`], with the sampler looking every 20 ms and calling three growing samples
/// in a row a suspected leak, for tests that wait for one.
pub fn sampling() -> (impl Subscriber + Send + Sync, Events) {
    use tracing_subscriber::layer::SubscriberExt;
    let (capture, events) = layer();
    let leakguard = leakguard::layer()
        .grace_period(Duration::ZERO)
        .rate_limit(Duration::ZERO)
        .sample_interval(Duration::from_millis(20))
        .expect("a nonzero interval")
        .growth_samples(3)
        .expect("a nonzero count");
    (
        tracing_subscriber::registry().with(capture).with(leakguard),
        events,
    )
}

/// The events of the process's subscriber, installed by the first call: [`reporting`] as
/// the global default, as a test binary whose tasks hop between the workers of a runtime
/// needs.
pub fn global() -> &'static Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let (subscriber, events) = reporting();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        events
    })
}

/// A subscriber that records every event, and the handle to read them.
pub fn subscriber() -> (impl Subscriber + Send + Sync, Events) {
    use tracing_subscriber::layer::SubscriberExt;
    let (layer, events) = layer();
    (tracing_subscriber::registry().with(layer), events)
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let captured = Captured {
            level: *meta.level(),
            target: meta.target().to_string(),
            message: fields.message,
            fields: fields.fields,
        };
        (self.0)
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(captured);
    }
}

/// What a fmt layer printed: give it `move || printed.clone()` as its writer.
#[derive(Clone, Debug, Default)]
pub struct Printed(Arc<Mutex<Vec<u8>>>);

impl Printed {
    /// Everything printed so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Printed {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
