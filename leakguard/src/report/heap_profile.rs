//! The heap profile of the allocations [`Alloc`](crate::Alloc) sampled, in the shape of
//! Go's `/debug/pprof/heap`: what `go tool pprof`, Parca and Pyroscope read, with the scope
//! that holds each sample's bytes as the label `leak_scope`.
//!
//! Symbols are resolved here, when a profile is asked for, never at a sample: the samples
//! keep return addresses only. Each profile is built under the sampler's busy flag and
//! charged to leakguard's own account, so that building it samples nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::pprof::{Message, Strings, field, gzip};
use crate::{accounts, sampling};

/// The sample types, in Go's order.
const SAMPLE_TYPES: [(&str, &str); 4] = [
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
];

/// The label of every sample: the name of the scope its bytes are charged to.
const SCOPE_LABEL: &str = "leak_scope";

/// The frame of a location, innermost first when functions were inlined into the caller.
#[derive(Clone, Debug)]
struct Line {
    function: String,
    /// The symbol as the binary has it (mangled): with it unlike `function`, pprof takes
    /// `function` as demangled already and keeps it whole, rather than cutting
    /// `<T as Trait>::poll` to `::poll`.
    system: String,
    file: String,
    line: u32,
}

/// One sampled call stack under one scope name, symbolized and un-biased.
#[derive(Debug)]
struct Sampled {
    scope: String,
    /// Leaf first: each return address with its frames.
    locations: Vec<usize>,
    /// alloc_objects, alloc_space, inuse_objects, inuse_space.
    values: [i64; 4],
}

/// Symbols of return addresses, resolved once a profile.
#[derive(Default)]
struct Symbols(HashMap<usize, Vec<Line>>);

impl Symbols {
    fn of(&mut self, ip: usize) -> &[Line] {
        self.0.entry(ip).or_insert_with(|| resolve(ip))
    }
}

/// The frames at return address `ip`, innermost first; its address if it has no symbol.
fn resolve(ip: usize) -> Vec<Line> {
    let mut lines = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |symbol| {
        let function = symbol
            .name()
            .map_or_else(|| format!("{ip:#x}"), |name| format!("{name:#}"));
        let system = symbol.name().map_or_else(
            || function.clone(),
            |name| String::from_utf8_lossy(name.as_bytes()).into_owned(),
        );
        lines.push(Line {
            function,
            system,
            file: symbol
                .filename()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            line: symbol.lineno().unwrap_or(0),
        });
    });
    // The allocator's frames inlined into the code that allocated are left out, as the
    // frames of its own are (see `machinery`): the caller keeps its outermost frame.
    while lines.len() > 1 && machinery(&lines[0].function) {
        lines.remove(0);
    }
    if lines.is_empty() {
        lines.push(Line {
            function: format!("{ip:#x}"),
            system: format!("{ip:#x}"),
            file: String::new(),
            line: 0,
        });
    }
    lines
}

/// Whether a frame is the allocator's machinery rather than the code that allocated: the
/// leading frames of a sample's stack that are, are left out of the profile (as Go's
/// leaves out `runtime.mallocgc`).
fn machinery(function: &str) -> bool {
    let name = function.trim_start_matches('<');
    [
        "leakguard::sampling",
        "leakguard::allocator",
        "backtrace::",
        "__rust_",
        "__rustc::",
        "__rdl_",
        "__rg_",
        "alloc::alloc::",
        "std::alloc::",
        "core::alloc::",
        "alloc::raw_vec::",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
        || name.starts_with("_Unwind_")
}

/// Every sampled stack, symbolized, with its scope's name, and the symbols.
fn sampled() -> (Vec<Sampled>, Symbols) {
    let mut symbols = Symbols::default();
    if !accounts::installed() {
        return (Vec::new(), symbols);
    }
    let names: Vec<String> = accounts::by_name()
        .into_iter()
        .map(|figures| figures.name.into_owned())
        .collect();
    let mut stacks = Vec::new();
    for stack in sampling::table::read() {
        let mut frames = stack.frames.as_slice();
        while let Some((&ip, rest)) = frames.split_first() {
            let outer = symbols.of(ip).last().map(|l| l.function.as_str());
            if !outer.is_some_and(machinery) {
                break;
            }
            frames = rest;
        }
        let round = |v: f64| v.round() as i64;
        stacks.push(Sampled {
            scope: names
                .get(stack.name as usize)
                .cloned()
                .unwrap_or_else(|| "unscoped".to_string()),
            locations: frames.to_vec(),
            values: [
                round(stack.alloc_objects),
                round(stack.alloc_bytes),
                round(stack.inuse_objects),
                round(stack.inuse_bytes),
            ],
        });
    }
    (stacks, symbols)
}

/// Whether a frame is the standard library's (`alloc`, `core`, `std`), which a site that
/// allocated is named past: `<T as alloc::slice::..>::to_vec` is not where a leak is.
fn standard(function: &str) -> bool {
    let mut name = function.trim_start_matches('<');
    if let Some((head, rest)) = name.split_once(" as ") {
        if !head.contains("::") {
            name = rest;
        }
    }
    ["alloc::", "core::", "std::"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The top `n` sites, by live bytes, where the scope name of index `name` allocated what it
/// holds, from the samples: `function (file:line) bytes`, joined by `, `; empty if none.
/// A site is the first frame of each stack outside the standard library.
pub(crate) fn top_sites(name: u32, n: usize) -> String {
    let Some(_busy) = sampling::Busy::enter() else {
        return String::new();
    };
    let _own = accounts::Own::start();
    let mut symbols = Symbols::default();
    let mut sites: HashMap<(String, String, u32), f64> = HashMap::new();
    for stack in sampling::table::read() {
        if stack.name != name || stack.inuse_bytes < 1.0 {
            continue;
        }
        let site = stack.frames.iter().find_map(|&ip| {
            symbols
                .of(ip)
                .iter()
                .find(|line| !machinery(&line.function) && !standard(&line.function))
                .cloned()
        });
        if let Some(line) = site {
            *sites
                .entry((line.function, line.file, line.line))
                .or_default() += stack.inuse_bytes;
        }
    }
    let mut sites: Vec<_> = sites.into_iter().collect();
    sites.sort_by(|a, b| b.1.total_cmp(&a.1));
    sites
        .iter()
        .take(n)
        .map(|((function, file, line), bytes)| {
            let file = file.rsplit('/').take(2).collect::<Vec<_>>();
            let file = file.iter().rev().copied().collect::<Vec<_>>().join("/");
            format!(
                "{function} ({file}:{line}) {}",
                crate::units::ByteSize(*bytes as usize)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which sample type a profile shows by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// `/debug/pprof/heap`: `inuse_space`.
    Heap,
    /// `/debug/pprof/allocs`: `alloc_space`.
    Allocs,
}

/// The profile, uncompressed.
fn encode(view: View) -> Vec<u8> {
    let (stacks, mut symbols) = sampled();
    let mut strings = Strings::default();
    let mut profile = Message::default();
    for (kind, unit) in SAMPLE_TYPES {
        let mut value_type = Message::default();
        value_type.int(1, strings.of(kind));
        value_type.int(2, strings.of(unit));
        profile.message(field::SAMPLE_TYPE, value_type);
    }

    let mut functions: HashMap<(String, String, String), u64> = HashMap::new();
    let mut locations: HashMap<usize, u64> = HashMap::new();
    let mut tables = Message::default();
    for stack in &stacks {
        let mut ids = Vec::with_capacity(stack.locations.len());
        for &ip in &stack.locations {
            let next = locations.len() as u64 + 1;
            let id = *locations.entry(ip).or_insert_with(|| {
                let mut location = Message::default();
                location.int(1, next);
                location.int(2, 1);
                location.int(3, ip as u64);
                for line in symbols.of(ip) {
                    let key = (
                        line.function.clone(),
                        line.system.clone(),
                        line.file.clone(),
                    );
                    let next_function = functions.len() as u64 + 1;
                    let function = *functions.entry(key).or_insert_with(|| {
                        let mut function = Message::default();
                        function.int(1, next_function);
                        function.int(2, strings.of(&line.function));
                        function.int(3, strings.of(&line.system));
                        function.int(4, strings.of(&line.file));
                        tables.message(field::FUNCTION, function);
                        next_function
                    });
                    let mut at = Message::default();
                    at.int(1, function);
                    at.int(2, u64::from(line.line));
                    location.message(4, at);
                }
                tables.message(field::LOCATION, location);
                next
            });
            ids.push(id);
        }
        let mut sample = Message::default();
        sample.packed(1, &ids);
        let values: Vec<u64> = stack.values.iter().map(|v| *v as u64).collect();
        sample.packed(2, &values);
        let mut label = Message::default();
        label.int(1, strings.of(SCOPE_LABEL));
        label.int(2, strings.of(&stack.scope));
        sample.message(3, label);
        profile.message(field::SAMPLE, sample);
    }

    // One mapping over every address, with its symbols already in the profile.
    let mut mapping = Message::default();
    mapping.int(1, 1);
    mapping.int(3, u64::MAX);
    let binary = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "leakguard".to_string());
    mapping.int(5, strings.of(&binary));
    for has in 7..=10 {
        mapping.int(has, 1);
    }
    profile.message(field::MAPPING, mapping);
    profile.0.extend_from_slice(&tables.0);

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    profile.int(field::TIME_NANOS, nanos);
    let mut period_type = Message::default();
    period_type.int(1, strings.of("space"));
    period_type.int(2, strings.of("bytes"));
    profile.message(field::PERIOD_TYPE, period_type);
    profile.int(field::PERIOD, sampling::rate());
    let (stacks_full, records_full) = sampling::table::dropped();
    if stacks_full + records_full > 0 {
        let comment = format!(
            "leakguard dropped {} samples: {stacks_full} for a full stack table, {records_full} for a full table of live samples",
            stacks_full + records_full
        );
        profile.int(field::COMMENT, strings.of(&comment));
    }
    let default = match view {
        View::Heap => "inuse_space",
        View::Allocs => "alloc_space",
    };
    profile.int(field::DEFAULT_SAMPLE_TYPE, strings.of(default));
    strings.of("");
    for text in &strings.table {
        profile.bytes(field::STRING_TABLE, text.as_bytes());
    }
    profile.0
}

/// The gzipped profile of `view`, built without sampling itself.
pub(crate) fn profile(view: View) -> Vec<u8> {
    let _busy = sampling::Busy::enter();
    let _own = accounts::Own::start();
    gzip(&encode(view))
}

/// The profile as text, in the form of Go's `debug=1`: a header with the totals, then one
/// entry per stack, `inuse_objects: inuse_space [alloc_objects: alloc_space]`, its scope
/// and its frames. Figures are un-biased estimates, as in the profile.
pub(crate) fn text() -> String {
    let _busy = sampling::Busy::enter();
    let _own = accounts::Own::start();
    let (mut stacks, mut symbols) = sampled();
    stacks.sort_by_key(|s| std::cmp::Reverse((s.values[3], s.values[1])));
    let total = stacks.iter().fold([0i64; 4], |mut t, s| {
        for (t, v) in t.iter_mut().zip(s.values) {
            *t += v;
        }
        t
    });
    let mut out = String::new();
    let _ = writeln!(
        out,
        "heap profile: {}: {} [{}: {}] @ heap/{}",
        total[2],
        total[3],
        total[0],
        total[1],
        sampling::rate()
    );
    for stack in &stacks {
        let addresses: Vec<String> = stack
            .locations
            .iter()
            .map(|ip| format!("{ip:#x}"))
            .collect();
        let _ = writeln!(
            out,
            "{}: {} [{}: {}] @ {}",
            stack.values[2],
            stack.values[3],
            stack.values[0],
            stack.values[1],
            addresses.join(" ")
        );
        let _ = writeln!(out, "# {SCOPE_LABEL}: {}", stack.scope);
        for &ip in &stack.locations {
            for line in symbols.of(ip) {
                let _ = writeln!(
                    out,
                    "#\t{ip:#x}\t{}\t{}:{}",
                    line.function, line.file, line.line
                );
            }
        }
        out.push('\n');
    }
    out
}

/// The heap profile of the allocations [`Alloc`](crate::Alloc) sampled, gzipped
/// `profile.proto` in the shape of Go's `/debug/pprof/heap`: `go tool pprof` reads it
/// (`go tool pprof -top heap.pb.gz`), and so do Parca and Pyroscope.
///
/// - Sample types `alloc_objects/count`, `alloc_space/bytes` (cumulative since the
///   program started, as continuous profilers delta-encode them), `inuse_objects/count`
///   and `inuse_space/bytes` (the default), in that order; `period_type` `space/bytes`,
///   and `period` the [sample rate](set_heap_sample_rate).
/// - One sample per call stack and scope name, with the label `leak_scope`: the name of the
///   scope the bytes are charged to (`unscoped` outside any; `leakguard` for its own).
/// - Functions with their file and line, inlined frames included, so `go tool pprof
///   -symbolize=none` reads it with nothing else; `-tagroot=leak_scope` puts the scopes at
///   the root.
/// - Figures are un-biased as Go's are: a sample of `size` bytes stands for
///   `1 / (1 - exp(-size / rate))` allocations of its size.
///
/// Never an error: without [`Alloc`](crate::Alloc) installed, or with instrumentation
/// compiled out, it is a valid profile without samples. Building it resolves symbols
/// (the first time, leakguard reads the binary's debug information, which takes a moment).
///
/// Allocations are sampled as a Poisson process, on average one per 512 KiB allocated, as
/// Go's runtime and jemalloc sample; the stack of a sample is kept as return addresses, up
/// to 48 frames, in fixed tables (2048 stacks, 32768 sampled blocks live at once, about
/// 1.6 MB of address space reserved, touched as used), which never grow with the heap: a
/// sample that finds a table full is dropped, and the profile's comments count those.
/// Stacks are walked on Unix only.
pub fn heap_profile() -> Vec<u8> {
    profile(View::Heap)
}

/// Sets the heap profile's sample rate: on average one sample per `bytes` allocated, 0
/// for none. It overrides `LEAKGUARD_HEAP_SAMPLE_RATE` (bytes, an integer: `4096`), read
/// at the first allocation, whose default is 524288 (512 KiB). The calling thread takes the
/// new rate at once, the others at their next sample (a sample stands for allocations at
/// the rate its countdown was drawn at, so figures stay un-biased across a change).
pub fn set_heap_sample_rate(bytes: u64) {
    sampling::set_rate(bytes);
}

/// The heap profile's sample rate in bytes; 0 when sampling is off.
pub fn heap_sample_rate() -> u64 {
    sampling::rate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocators_frames_are_machinery_and_callers_are_not() {
        for name in [
            "<leakguard::allocator::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc",
            "leakguard::sampling::sample",
            "__rust_alloc",
            "__rustc::__rust_alloc",
            "alloc::alloc::exchange_malloc",
            "alloc::raw_vec::RawVecInner<A>::grow_one",
        ] {
            assert!(machinery(name), "{name}");
        }
        for name in [
            "myapp::handler",
            "alloc::vec::Vec<T,A>::push",
            "<alloc::string::String as core::clone::Clone>::clone",
        ] {
            assert!(!machinery(name), "{name}");
        }
    }

    #[test]
    fn a_site_is_named_past_the_standard_library() {
        for name in [
            "alloc::vec::Vec<T,A>::push",
            "<T as alloc::slice::<impl [T]>::to_vec_in::ConvertVec>::to_vec",
            "<alloc::string::String as core::clone::Clone>::clone",
            "std::thread::local::LocalKey<T>::with",
        ] {
            assert!(standard(name), "{name}");
        }
        for name in [
            "myapp::upload::{{closure}}",
            "<myapp::Cache as core::default::Default>::default",
        ] {
            assert!(!standard(name), "{name}");
        }
    }
}
