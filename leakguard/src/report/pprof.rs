//! A report as a heap profile in pprof's format (`profile.proto`, gzipped): what
//! `go tool pprof`, its web UI and Pyroscope read. Encoded directly: the message set is
//! small and fixed.
//!
//! One sample per `Type.field` and creation site, with four values: collections, entries,
//! bytes held (`inuse_space`, the default) and bytes unused. Its stack is two frames: the
//! creation site, in a function named `Type.field` at the site's file and line, under a
//! frame for the module. Nothing needs symbolizing.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::UNIX_EPOCH;

use super::Report;

/// `profile.proto`'s field numbers, by message.
pub(super) mod field {
    pub(in crate::report) const SAMPLE_TYPE: u32 = 1;
    pub(in crate::report) const SAMPLE: u32 = 2;
    pub(in crate::report) const MAPPING: u32 = 3;
    pub(in crate::report) const LOCATION: u32 = 4;
    pub(in crate::report) const FUNCTION: u32 = 5;
    pub(in crate::report) const STRING_TABLE: u32 = 6;
    pub(in crate::report) const TIME_NANOS: u32 = 9;
    pub(in crate::report) const COMMENT: u32 = 13;
    pub(in crate::report) const PERIOD_TYPE: u32 = 11;
    pub(in crate::report) const PERIOD: u32 = 12;
    pub(in crate::report) const DEFAULT_SAMPLE_TYPE: u32 = 14;
}

/// A protobuf message being written.
#[derive(Default)]
pub(super) struct Message(pub(super) Vec<u8>);

impl Message {
    pub(super) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    pub(super) fn key(&mut self, field: u32, wire_type: u64) {
        self.varint(u64::from(field) << 3 | wire_type);
    }

    /// An integer field; zero, the default, is left out.
    pub(super) fn int(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, 0);
            self.varint(value);
        }
    }

    pub(super) fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    pub(super) fn message(&mut self, field: u32, message: Message) {
        self.bytes(field, &message.0);
    }

    /// A repeated integer field, packed.
    pub(super) fn packed(&mut self, field: u32, values: &[u64]) {
        let mut packed = Message::default();
        for &value in values {
            packed.varint(value);
        }
        self.bytes(field, &packed.0);
    }
}

/// The string table: every string once, `""` first, referred to by index.
#[derive(Default)]
pub(super) struct Strings {
    pub(super) table: Vec<String>,
    index: HashMap<String, u64>,
}

impl Strings {
    pub(super) fn of(&mut self, text: &str) -> u64 {
        if self.table.is_empty() {
            self.table.push(String::new());
            self.index.insert(String::new(), 0);
        }
        if let Some(&at) = self.index.get(text) {
            return at;
        }
        let at = self.table.len() as u64;
        self.table.push(text.to_string());
        self.index.insert(text.to_string(), at);
        at
    }
}

/// Functions and locations, each once, numbered from 1.
#[derive(Default)]
struct Frames {
    functions: HashMap<(u64, u64, u64), u64>,
    locations: HashMap<(u64, u64), u64>,
    out: Message,
}

impl Frames {
    /// The location of `line` in the function `name` of `file` (string indices).
    fn location(&mut self, name: u64, file: u64, line: u64) -> u64 {
        let next = self.functions.len() as u64 + 1;
        let function = *self.functions.entry((name, file, line)).or_insert_with(|| {
            let mut function = Message::default();
            function.int(1, next);
            function.int(2, name);
            function.int(3, name);
            function.int(4, file);
            function.int(5, line);
            self.out.message(field::FUNCTION, function);
            next
        });
        let next = self.locations.len() as u64 + 1;
        *self.locations.entry((function, line)).or_insert_with(|| {
            let mut location = Message::default();
            location.int(1, next);
            location.int(2, 1); // the one mapping
            location.int(3, next); // an address of its own, never symbolized
            let mut at = Message::default();
            at.int(1, function);
            at.int(2, line);
            location.message(4, at);
            self.out.message(field::LOCATION, location);
            next
        })
    }
}

/// `report` as an uncompressed `profile.proto` message.
fn profile(report: &Report) -> Vec<u8> {
    let mut strings = Strings::default();
    let mut frames = Frames::default();
    let mut profile = Message::default();

    const TYPES: [(&str, &str); 4] = [
        ("collections", "count"),
        ("entries", "count"),
        ("inuse_space", "bytes"),
        ("unused_space", "bytes"),
    ];
    for (kind, unit) in TYPES {
        let mut value_type = Message::default();
        value_type.int(1, strings.of(kind));
        value_type.int(2, strings.of(unit));
        profile.message(field::SAMPLE_TYPE, value_type);
    }

    for group in &report.groups {
        let collection = strings.of(group.collection);
        let module = strings.of(group.module);
        let module_frame = frames.location(module, 0, 0);
        for site in &group.sites {
            let file = site.file.map_or(0, |file| strings.of(file));
            let line = u64::from(site.line);
            let leaf = frames.location(collection, file, line);
            let mut sample = Message::default();
            sample.packed(1, &[leaf, module_frame]);
            sample.packed(
                2,
                &[
                    site.instances as u64,
                    site.len as u64,
                    site.bytes.saturating_sub(site.nested_bytes) as u64,
                    site.unused_bytes as u64,
                ],
            );
            let mut label = |key: &str, text: Option<&str>, num: usize| {
                let mut label = Message::default();
                label.int(1, strings.of(key));
                match text {
                    Some(text) => label.int(2, strings.of(text)),
                    None => {
                        label.int(3, num as u64);
                        let unit = if key.ends_with("bytes") {
                            "bytes"
                        } else {
                            "count"
                        };
                        label.int(4, strings.of(unit));
                    }
                }
                sample.message(3, label);
            };
            label("collection", Some(group.collection), 0);
            label("module", Some(group.module), 0);
            if let Some(scope) = &site.scope {
                label("scope", Some(scope), 0);
            }
            if let Some(origin) = &site.origin {
                label("origin", Some(origin), 0);
            }
            if site.outlived > 0 {
                label("outlived", None, site.outlived);
            }
            if site.over_budget > 0 {
                label("over_budget", None, site.over_budget);
            }
            if site.nested_bytes > 0 {
                label("nested_bytes", None, site.nested_bytes);
            }
            profile.message(field::SAMPLE, sample);
        }
    }

    // One mapping, marked as having its functions: nothing to symbolize.
    let mut mapping = Message::default();
    mapping.int(1, 1);
    mapping.int(5, strings.of("leakguard"));
    mapping.int(7, 1);
    profile.message(field::MAPPING, mapping);
    profile.0.extend_from_slice(&frames.out.0);

    let mut period_type = Message::default();
    period_type.int(1, strings.of("space"));
    period_type.int(2, strings.of("bytes"));
    profile.message(field::PERIOD_TYPE, period_type);
    profile.int(field::PERIOD, 1);
    let nanos = report
        .taken_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    profile.int(field::TIME_NANOS, nanos);
    profile.int(field::DEFAULT_SAMPLE_TYPE, strings.of("inuse_space"));

    strings.of(""); // a profile without samples still has its table's first string
    for text in &strings.table {
        profile.bytes(field::STRING_TABLE, text.as_bytes());
    }
    profile.0
}

impl Report {
    /// The report as a gzipped pprof heap profile, which `go tool pprof`, its web UI and
    /// Pyroscope read: `go tool pprof -top heap.pb.gz`.
    ///
    /// One sample per `Type.field` and creation site, with the sample types
    /// `collections/count`, `entries/count`, `inuse_space/bytes` (the default: the report's
    /// `bytes`, unused capacity included, as Go counts a heap, less the bytes of tracked
    /// collections nested in it, which have samples of their own, so that the profile's
    /// total is [`Report::total_bytes`]) and `unused_space/bytes`.
    /// Each sample's location is its creation site, in a function named `Type.field`,
    /// under a frame for the module, so `top`, `list`, `-lines`, `-traces` and `-diff_base`
    /// work without symbols. Labels: `collection`, `module`, `scope` for collections that
    /// outlived one, `origin` for those whose first entries came where no line of your
    /// code is known ([`SiteReport::origin`](crate::SiteReport::origin)), the numbers
    /// `outlived` and `over_budget`, and `nested_bytes`, what the sample left out as nested.
    pub fn to_pprof(&self) -> Vec<u8> {
        gzip(&profile(self))
    }
}

/// `profile` gzipped, as pprof's readers take it.
pub(super) fn gzip(profile: &[u8]) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(
        Vec::with_capacity(profile.len() / 2 + 64),
        flate2::Compression::default(),
    );
    // Writing to a `Vec` cannot fail.
    let _ = gzip.write_all(profile);
    gzip.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::Message;

    #[test]
    fn varints_are_little_endian_base_128() {
        let mut m = Message::default();
        m.varint(1);
        m.varint(300);
        m.varint(u64::MAX);
        assert_eq!(
            m.0,
            [
                1, 0xAC, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01
            ]
        );
    }

    #[test]
    fn fields_carry_their_number_and_wire_type() {
        let mut m = Message::default();
        m.int(2, 150);
        m.int(3, 0); // the default: left out
        m.bytes(6, b"ab");
        assert_eq!(m.0, [0x10, 0x96, 0x01, 0x32, 2, b'a', b'b']);
    }
}
