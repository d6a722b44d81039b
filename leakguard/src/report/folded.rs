//! A report as folded stacks, one line per `Type.field` and creation site:
//! `module;Type.field;file:line bytes`, what inferno and Pyroscope's ingest read.

use std::fmt::Write as _;

use super::Report;

impl Report {
    /// The report as folded stacks for a flame graph: `module;Type.field;file:line bytes`,
    /// one line per `Type.field` and creation site that holds memory. A frame that would be
    /// empty is left out: the module of a cache built with a name (`name;file:line bytes`),
    /// the site where it is unknown. The format of `inferno-flamegraph` and Pyroscope's
    /// ingest.
    ///
    /// A line's bytes leave out those of tracked collections nested in its collections
    /// ([`GroupReport::nested_bytes`](super::GroupReport::nested_bytes)), which are on
    /// lines of their own: the lines add up to [`Report::total_bytes`], the flame graph's
    /// root.
    pub fn folded(&self) -> String {
        let mut out = String::new();
        for group in &self.groups {
            for site in &group.sites {
                let bytes = site.bytes.saturating_sub(site.nested_bytes);
                if bytes == 0 {
                    continue;
                }
                let site_frame = site
                    .file
                    .map(|file| format!("{}:{}", frame(file), site.line));
                let frames = [Some(frame(group.module)), Some(frame(group.collection))]
                    .into_iter()
                    .chain([site_frame.map(Into::into)])
                    .flatten()
                    .filter(|name| !name.is_empty());
                for (i, name) in frames.enumerate() {
                    let _ = write!(out, "{}{name}", if i == 0 { "" } else { ";" });
                }
                let _ = writeln!(out, " {bytes}");
            }
        }
        out
    }
}

/// A frame's name, with what would break a folded line (`;`, spaces, line breaks) replaced.
fn frame(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains([';', ' ', '\n', '\r']) {
        name.replace([';', ' ', '\n', '\r'], "_").into()
    } else {
        name.into()
    }
}
