//! What leakguard publishes through the `metrics` facade (feature `metrics`), to whatever
//! recorder the application installed: a Prometheus exporter, an OpenTelemetry bridge.
//!
//! Gauges per `Type.field`, set on the sampler's tick: `leakguard_collection_bytes`,
//! `leakguard_collection_nested_bytes`, `leakguard_collection_len`,
//! `leakguard_collection_instances`, labelled `collection` and `module`. A collection's bytes
//! include those of tracked collections nested in it, which have gauges of their own; the
//! nested gauge is that part, so that `sum(leakguard_collection_bytes) -
//! sum(leakguard_collection_nested_bytes)` counts each byte once, as `Report::total_bytes`.
//! A counter `leakguard_events_total`, labelled `kind`, counts findings as they are raised.
//! With [`Alloc`](crate::Alloc) installed, `leakguard_heap_bytes` and
//! `leakguard_heap_retained_bytes` per scope name (label `scope`, `unscoped` and
//! `leakguard` among them) and `leakguard_heap_live_bytes` in all. Label values come from
//! source code (scope names past 512 share one), so the number of series is bounded by the
//! code, never by the data. Nothing is published on the hot path.

#[cfg(feature = "metrics")]
mod on {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use crate::report::Report;
    use crate::sync::lock;

    /// The groups published last, to set to zero once they are gone.
    static PUBLISHED: Mutex<Option<HashSet<(&'static str, &'static str)>>> = Mutex::new(None);

    /// Sets the gauges of every group of `report`, and zeroes those of groups gone since.
    pub(crate) fn gauges(report: &Report) {
        let mut guard = lock(&PUBLISHED);
        let published = guard.get_or_insert_with(HashSet::new);
        let mut now = HashSet::with_capacity(report.groups.len());
        for group in &report.groups {
            let labels = [("collection", group.collection), ("module", group.module)];
            metrics::gauge!("leakguard_collection_bytes", &labels).set(group.bytes as f64);
            metrics::gauge!("leakguard_collection_nested_bytes", &labels)
                .set(group.nested_bytes as f64);
            metrics::gauge!("leakguard_collection_len", &labels).set(group.len as f64);
            metrics::gauge!("leakguard_collection_instances", &labels).set(group.instances as f64);
            now.insert((group.collection, group.module));
        }
        for &(collection, module) in published.difference(&now) {
            let labels = [("collection", collection), ("module", module)];
            metrics::gauge!("leakguard_collection_bytes", &labels).set(0.0);
            metrics::gauge!("leakguard_collection_nested_bytes", &labels).set(0.0);
            metrics::gauge!("leakguard_collection_len", &labels).set(0.0);
            metrics::gauge!("leakguard_collection_instances", &labels).set(0.0);
        }
        *published = now;
        drop(guard);
        heap_gauges(report);
    }

    /// The heap scope names published last, to set to zero once they hold nothing.
    static PUBLISHED_SCOPES: Mutex<Option<HashSet<String>>> = Mutex::new(None);

    /// With [`Alloc`](crate::Alloc): `leakguard_heap_bytes` and
    /// `leakguard_heap_retained_bytes` per scope name (`unscoped` and `leakguard` among
    /// them), and `leakguard_heap_live_bytes` in all.
    fn heap_gauges(report: &Report) {
        if report.heap.is_empty() {
            return;
        }
        let mut published = lock(&PUBLISHED_SCOPES);
        let published = published.get_or_insert_with(HashSet::new);
        let mut now = HashSet::with_capacity(report.heap.len());
        for scope in &report.heap {
            let labels = [("scope", scope.name.to_string())];
            metrics::gauge!("leakguard_heap_bytes", &labels).set(scope.live_bytes as f64);
            metrics::gauge!("leakguard_heap_retained_bytes", &labels)
                .set(scope.retained_bytes as f64);
            now.insert(scope.name.to_string());
        }
        for gone in published.difference(&now) {
            let labels = [("scope", gone.clone())];
            metrics::gauge!("leakguard_heap_bytes", &labels).set(0.0);
            metrics::gauge!("leakguard_heap_retained_bytes", &labels).set(0.0);
        }
        let live: usize = report.heap.iter().map(|s| s.live_bytes).sum();
        metrics::gauge!("leakguard_heap_live_bytes").set(live as f64);
        *published = now;
    }

    /// Counts a finding of `kind`.
    pub(crate) fn event(kind: &'static str) {
        metrics::counter!("leakguard_events_total", "kind" => kind).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod on {
    use crate::report::Report;

    #[inline(always)]
    pub(crate) fn gauges(_: &Report) {}

    #[inline(always)]
    pub(crate) fn event(_: &'static str) {}
}

pub(crate) use on::{event, gauges};

/// Whether the sampler sets gauges on every tick.
pub(crate) const GAUGES: bool = cfg!(feature = "metrics");
