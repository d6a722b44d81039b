//! A debug endpoint for any HTTP server, like Go's `/debug/pprof/heap`: map a route to
//! [`respond`] and serve what it returns.
//!
//! ```no_run
//! // In an axum router:
//! // .route("/debug/leakguard/{*path}", get(|uri: Uri| async move {
//! //     match leakguard::http::respond(uri.path(), uri.query().unwrap_or("")) {
//! //         Ok((content_type, body)) => ([(CONTENT_TYPE, content_type)], body).into_response(),
//! //         Err(error) => (StatusCode::from_u16(error.status()).unwrap(), error.to_string()).into_response(),
//! //     }
//! // }))
//! let (content_type, body) = leakguard::http::respond("/debug/leakguard/heap", "").unwrap();
//! assert_eq!(content_type, "application/octet-stream");
//! ```
//!
//! # Echoed request text
//!
//! An error names the path or query parameter it refuses, cut to its first
//! [`ECHOED_CHARS`] characters (then `…`), with control and other unprintable characters,
//! and `\`, escaped as Rust's `{:?}` writes them (`\r`, `\n`, `\0`, `\u{1b}`, `\\`): a
//! hostile request cannot make the error message long, nor put a line break or a terminal
//! escape into a response or a log.
//!
//! ```
//! use leakguard::http::{respond, HttpError};
//!
//! let error = respond("/debug/\r\nSet-Cookie: a=1", "").unwrap_err();
//! assert_eq!(error, HttpError::NotFound("/debug/\\r\\nSet-Cookie: a=1".to_string()));
//! ```

use std::fmt;

use crate::report::heap_profile::{self, View};
use crate::report::report;

/// The routes [`respond`] serves: under `/debug/leakguard/`, and Go's heap profile paths.
pub const ROUTES: [&str; 9] = [
    "/debug/leakguard/",
    "/debug/leakguard/index.html",
    "/debug/leakguard/heap",
    "/debug/leakguard/report",
    "/debug/leakguard/report.json",
    "/debug/leakguard/folded",
    "/debug/leakguard/flamegraph.svg",
    "/debug/pprof/heap",
    "/debug/pprof/allocs",
];

/// The most characters of a path or query parameter an [`HttpError`] echoes.
pub const ECHOED_CHARS: usize = 64;

/// `text` as an error echoes it: its first [`ECHOED_CHARS`] characters, then `…` if there
/// were more, with unprintable characters escaped.
fn echo(text: &str) -> String {
    let mut echoed = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(ECHOED_CHARS) {
        // As `{:?}` writes it (control and other unprintable characters, and `\\`, so that an
        // escape cannot be forged), quotes aside.
        if matches!(c, '"' | '\'') {
            echoed.push(c);
        } else {
            echoed.extend(c.escape_debug());
        }
    }
    if chars.next().is_some() {
        echoed.push('…');
    }
    echoed
}

/// Why [`respond`] could not serve a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The path is none of [`ROUTES`]. The path as [echoed](self#echoed-request-text).
    NotFound(String),
    /// The query has a parameter the route does not take, or a value it cannot use.
    BadQuery {
        /// The parameter, as [echoed](self#echoed-request-text).
        parameter: String,
        /// What the route takes.
        expected: &'static str,
    },
    /// The route needs a cargo feature of leakguard that is off.
    FeatureOff {
        /// The route.
        route: &'static str,
        /// The feature that turns it on.
        feature: &'static str,
    },
}

impl HttpError {
    /// The HTTP status that goes with the error: 404, 400, or 501 for a feature that is off.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::NotFound(_) => 404,
            HttpError::BadQuery { .. } => 400,
            HttpError::FeatureOff { .. } => 501,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::NotFound(path) => write!(
                f,
                "no leakguard route at `{path}`; the routes are {}",
                ROUTES.join(", ")
            ),
            HttpError::BadQuery {
                parameter,
                expected,
            } => write!(f, "bad query parameter `{parameter}`: {expected}"),
            HttpError::FeatureOff { route, feature } => {
                write!(f, "`{route}` needs leakguard's cargo feature `{feature}`")
            }
        }
    }
}

impl std::error::Error for HttpError {}

/// Serves one request for `path`, with its raw `query` string (`""` for none): the content
/// type and the body. Never panics; an unknown path or a bad query is an [`HttpError`].
///
/// | path | body | query |
/// |---|---|---|
/// | `/debug/leakguard/`, `/debug/leakguard/index.html` | the page ([`Report::to_html`](crate::Report::to_html)): tables, sparklines, links to the rest | |
/// | `/debug/leakguard/heap` | the pprof heap profile ([`Report::to_pprof`](crate::Report::to_pprof)) | `debug=1` for the text table, as Go's `debug=1` |
/// | `/debug/leakguard/report` | the text table | |
/// | `/debug/leakguard/report.json` | the report as JSON (feature `serde_json`) | |
/// | `/debug/leakguard/folded` | folded stacks ([`Report::folded`](crate::Report::folded)) | |
/// | `/debug/leakguard/flamegraph.svg` | a flame graph (feature `inferno`) | |
/// | `/debug/pprof/heap` | the sampled heap profile of the whole program ([`heap_profile()`](crate::heap_profile())), Go's path: `go tool pprof http://host/debug/pprof/heap` | `debug=1` for text, as Go's; `gc=1` is taken and ignored |
/// | `/debug/pprof/allocs` | the same profile, showing `alloc_space` by default | as `/debug/pprof/heap` |
pub fn respond(path: &str, query: &str) -> Result<(&'static str, Vec<u8>), HttpError> {
    // `/debug/leakguard` and `/debug/leakguard/` are the page; elsewhere a trailing slash
    // does not matter.
    let path = match path.trim_end_matches('/') {
        "/debug/leakguard" => "/debug/leakguard/",
        path => path,
    };
    let route = ROUTES
        .iter()
        .copied()
        .find(|route| *route == path)
        .ok_or_else(|| HttpError::NotFound(echo(path)))?;
    let mut debug = false;
    let pprof = matches!(route, "/debug/pprof/heap" | "/debug/pprof/allocs");
    for parameter in query.split('&').filter(|p| !p.is_empty()) {
        match (route, parameter) {
            ("/debug/leakguard/heap", "debug=0") => debug = false,
            ("/debug/leakguard/heap", "debug=1") => debug = true,
            (_, "debug=0") if pprof => debug = false,
            (_, "debug=1") if pprof => debug = true,
            // Go's `gc=1` runs a collection first: Rust has none to run.
            (_, "gc=0" | "gc=1") if pprof => {}
            _ => {
                return Err(HttpError::BadQuery {
                    parameter: echo(parameter),
                    expected: if route == "/debug/leakguard/heap" {
                        "`debug=0` (the profile) or `debug=1` (the text table)"
                    } else if pprof {
                        "`debug=0` (the profile), `debug=1` (text) or `gc=1`"
                    } else {
                        "no parameters"
                    },
                });
            }
        }
    }
    let text = |body: String| Ok(("text/plain; charset=utf-8", body.into_bytes()));
    match route {
        "/debug/leakguard/" | "/debug/leakguard/index.html" => {
            Ok(("text/html; charset=utf-8", report().to_html().into_bytes()))
        }
        "/debug/leakguard/heap" if debug => text(report().to_string()),
        "/debug/leakguard/heap" => Ok(("application/octet-stream", report().to_pprof())),
        "/debug/leakguard/report" => text(report().to_string()),
        "/debug/leakguard/report.json" => json(),
        "/debug/leakguard/folded" => text(report().folded()),
        "/debug/pprof/heap" | "/debug/pprof/allocs" if debug => text(heap_profile::text()),
        "/debug/pprof/heap" => Ok((
            "application/octet-stream",
            heap_profile::profile(View::Heap),
        )),
        "/debug/pprof/allocs" => Ok((
            "application/octet-stream",
            heap_profile::profile(View::Allocs),
        )),
        _ => flamegraph(),
    }
}

#[cfg(feature = "serde_json")]
fn json() -> Result<(&'static str, Vec<u8>), HttpError> {
    // A report always serializes: its fields are numbers and strings.
    let body = serde_json::to_vec(&report()).unwrap_or_default();
    Ok(("application/json", body))
}

#[cfg(not(feature = "serde_json"))]
fn json() -> Result<(&'static str, Vec<u8>), HttpError> {
    Err(HttpError::FeatureOff {
        route: "/debug/leakguard/report.json",
        feature: "serde_json",
    })
}

#[cfg(feature = "inferno")]
fn flamegraph() -> Result<(&'static str, Vec<u8>), HttpError> {
    Ok(("image/svg+xml", report().flamegraph_svg().into_bytes()))
}

#[cfg(not(feature = "inferno"))]
fn flamegraph() -> Result<(&'static str, Vec<u8>), HttpError> {
    Err(HttpError::FeatureOff {
        route: "/debug/leakguard/flamegraph.svg",
        feature: "inferno",
    })
}
