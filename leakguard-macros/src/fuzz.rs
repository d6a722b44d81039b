//! Bad input, on purpose: the attribute-argument parsers and both macros are fed arbitrary and
//! almost-valid input, and must answer with a value or a clear error, never a panic.
//!
//! Cases tried per run (fixed here, so they can be quoted; no failure files are written):
//!
//! | property                              | cases  |
//! |---------------------------------------|--------|
//! | `size_answers_any_string`             | 10,000 |
//! | `size_answers_near_misses`            | 10,000 |
//! | `size_counts_whole_units`             |  5,000 |
//! | `size_ignores_spelling`               |  5,000 |
//! | `size_counts_exact_fractions`         |  5,000 |
//! | `size_rejects_partial_bytes`          |  5,000 |
//! | `ttl_answers_any_string`              | 10,000 |
//! | `ttl_answers_near_misses`             | 10,000 |
//! | `ttl_counts_whole_units`              |  5,000 |
//! | `ttl_adds_up_compound_durations`      |  5,000 |
//! | `ttl_adds_up_edges`                   |  5,000 |
//! | `track_growth_answers_random_tokens`  |  4,000 |
//! | `track_growth_answers_almost_structs` |  6,000 |
//! | `heap_size_answers_random_tokens`     |  4,000 |
//! | `heap_size_answers_almost_structs`    |  6,000 |
//!
//! 95,000 cases in all, about 20 s of a debug `cargo test -p leakguard-macros` on 2 cores.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::collection::vec;
use proptest::prelude::*;
use quote::{ToTokens, quote};
use syn::DeriveInput;
use syn::parse::{ParseStream, Parser};

use crate::{duration, heap_size, size, track_growth};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// Sizes.

const SIZE_UNITS: &[(&str, u128)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

/// A value, or an error that names the input or the unit it does not know.
fn check_size(text: &str) -> Result<(), TestCaseError> {
    let message = match size::parse(text) {
        Ok(bytes) => {
            prop_assert!(bytes > 0);
            return Ok(());
        }
        Err(message) => message,
    };
    let trimmed = text.trim();
    let unknown_unit = message
        .strip_prefix("unknown size unit `")
        .and_then(|rest| rest.rsplit_once("`; expected"))
        .map(|(unit, _)| unit);
    let named = match unknown_unit {
        _ if trimmed.is_empty() => message.starts_with("empty size; write a number and a unit"),
        Some(unit) => !unit.is_empty() && trimmed.ends_with(unit),
        None => message.contains(&format!("size `{trimmed}` ")),
    };
    prop_assert!(named, "{:?}: unclear error {:?}", text, message);
    Ok(())
}

fn space() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["", "", " ", "  ", "\t", "\n", "\u{a0}", "\u{3000}"][..])
}

fn size_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{1,4}",
        "[0-9_.]{0,42}",
        "[0-9]{1,6}\\.[0-9_]{0,44}",
        "[0-9]{30,45}",
        "[-+][0-9]{1,4}",
        "[0-9٠-٩０-９]{1,4}",
        prop::sample::select(
            &[
                "0",
                "00",
                "0.0",
                "1.",
                ".5",
                "1..5",
                "1e3",
                "0x10",
                "18446744073709551615",
                "18446744073709551616",
                "340282366920938463463374607431768211455",
                "340282366920938463463374607431768211456",
            ][..]
        )
        .prop_map(String::from),
    ]
}

fn size_unit() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(SIZE_UNITS).prop_map(|(unit, _)| unit.to_string()),
        2 => prop::sample::select(
            &[
                "b", "kib", "KIB", "mb", "Kb", "K", "k", "Ki", "iB", "KiBs", "KB/s", "bytes", "byte",
                "TiB", "TB", "PiB", "µB", "ＫiB", "KiB KiB",
            ][..]
        )
        .prop_map(String::from),
        1 => "[A-Za-z]{0,4}",
        1 => "\\PC{0,3}",
    ]
}

fn size_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (space(), size_number(), space(), size_unit(), space())
            .prop_map(|(a, number, b, unit, c)| format!("{a}{number}{b}{unit}{c}")),
        1 => (size_number(), size_unit(), size_number(), size_unit())
            .prop_map(|(n1, u1, n2, u2)| format!("{n1} {u1} {n2} {u2}")),
    ]
}

/// `n` with `_` after each digit `separators` picks, as in `1_000_000`.
fn with_underscores(n: u64, separators: &[bool]) -> String {
    let mut out = String::new();
    for (digit, separate) in n
        .to_string()
        .chars()
        .zip(separators.iter().chain([false].iter().cycle()))
    {
        out.push(digit);
        if *separate {
            out.push('_');
        }
    }
    out
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn size_answers_any_string(text in prop_oneof![any::<String>(), "\\PC*"]) {
        check_size(&text)?;
    }

    #[test]
    fn size_answers_near_misses(text in size_text()) {
        check_size(&text)?;
    }
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn size_counts_whole_units(
        n in prop_oneof![any::<u64>(), 0..10_000u64],
        (unit, scale) in prop::sample::select(SIZE_UNITS),
        gap in space(),
    ) {
        let text = format!("{n}{gap}{unit}");
        let bytes = u128::from(n) * scale;
        match size::parse(&text) {
            Ok(parsed) => prop_assert_eq!(parsed as u128, bytes, "{:?}", text),
            Err(message) if n == 0 => {
                prop_assert!(message.contains("is zero"), "{:?}: {}", text, message)
            }
            Err(message) => {
                prop_assert!(bytes > usize::MAX as u128, "{:?}: {}", text, message);
                prop_assert!(message.contains("is too large"), "{:?}: {}", text, message);
            }
        }
    }

    /// Leading zeros, `_` separators and trailing zeros after a `.` do not change a size.
    #[test]
    fn size_ignores_spelling(
        n in 1..u64::from(u32::MAX),
        (unit, _) in prop::sample::select(SIZE_UNITS),
        leading in 0..45usize,
        trailing in 1..60usize,
        separators in vec(any::<bool>(), 0..12),
    ) {
        let plain = size::parse(&format!("{n} {unit}"));
        prop_assert!(plain.is_ok(), "{} {}: {:?}", n, unit, plain);
        let text = format!(
            "{}{}.{} {unit}",
            "0".repeat(leading),
            with_underscores(n, &separators),
            "0".repeat(trailing),
        );
        prop_assert_eq!(size::parse(&text), plain, "{:?}", text);
    }

    /// `whole.fraction` of a binary unit, where the fraction is `m / 2^k`: exactly
    /// `m * 2^(p - k)` bytes more than `whole` of the unit `2^p`.
    #[test]
    fn size_counts_exact_fractions(
        ((unit, p), k, m) in prop::sample::select(&[("KiB", 10u32), ("MiB", 20), ("GiB", 30)][..])
            .prop_flat_map(|(unit, p)| (Just((unit, p)), 0..=p))
            .prop_flat_map(|(unit, k)| (Just(unit), Just(k), 0..1u64 << k)),
        whole in 1..1_000_000u64,
    ) {
        let digits = u128::from(m) * 5u128.pow(k);
        let fraction = match k {
            0 => "0".to_string(),
            _ => format!("{digits:0width$}", width = k as usize),
        };
        let text = format!("{whole}.{fraction} {unit}");
        let bytes = (u128::from(whole) << p) + (u128::from(m) << (p - k));
        prop_assert_eq!(size::parse(&text), Ok(bytes as usize), "{:?}", text);
    }

    /// A fraction of a byte, however many digits it is written with.
    #[test]
    fn size_rejects_partial_bytes(
        whole in 0..1_000u64,
        fraction in "[0-9]{0,50}[1-9]",
        zeros in 0..10usize,
    ) {
        let text = format!("{whole}.{fraction}{} B", "0".repeat(zeros));
        let message = size::parse(&text).unwrap_err();
        prop_assert!(message.contains("is not a whole number of bytes"), "{:?}: {}", text, message);
    }
}

#[test]
fn size_regressions() {
    for (input, expected) in [
        // Found by `size_ignores_spelling`: trailing zeros beyond what fits in a `u128` made
        // these "too large".
        ("1.0000000000000000000000000000000000000000 B", Ok(1)),
        (
            "2.50000000000000000000000000000000000000000000 KiB",
            Ok(2560),
        ),
        // Found by `size_counts_exact_fractions`: 30 digits times 2^30 overflowed a `u128`,
        // "too large", though `0.999999999068677425384521484375 GiB` is 2^30 - 1 bytes.
        ("0.999999999068677425384521484375 GiB", Ok((1 << 30) - 1)),
        (
            "282292.316912650130689144134521484375 GiB",
            Ok(303_109_067_262_975),
        ),
        // Found by `size_rejects_partial_bytes`: more digits than fit in a `u128` were "too
        // large" rather than a fraction of a byte.
        (
            "1.0000000000000000000000000000000000000001 B",
            Err(
                "size `1.0000000000000000000000000000000000000001 B` is not a whole number of bytes",
            ),
        ),
    ] {
        assert_eq!(
            size::parse(input),
            expected.map_err(String::from),
            "{input:?}"
        );
    }
}

// Durations.

const TTL_ZERO: &str = "`ttl` must be longer than zero: entries would expire as they are written";
const TTL_EMPTY: &str = "`ttl` is empty; write it like \"30s\", \"250ms\", \"5m\" or \"1h30m\"";

/// Units `humantime` knows, with their length: in seconds where the flag is set, in
/// nanoseconds where it is not.
const TTL_UNITS: &[(&str, u128, bool)] = &[
    ("ns", 1, false),
    ("us", 1_000, false),
    ("µs", 1_000, false),
    ("ms", 1_000_000, false),
    ("s", 1, true),
    ("sec", 1, true),
    ("m", 60, true),
    ("min", 60, true),
    ("h", 3_600, true),
    ("hours", 3_600, true),
    ("d", 86_400, true),
    ("w", 604_800, true),
    ("M", 2_630_016, true),
    ("y", 31_557_600, true),
];

/// A value, or an error that names the input, or says it is zero or empty.
fn check_ttl(text: &str) -> Result<(), TestCaseError> {
    match duration::parse(text) {
        Ok(nanos) => prop_assert!(nanos > 0),
        Err(message) if message == TTL_EMPTY => {
            prop_assert!(text.trim().is_empty(), "{:?}: {}", text, message)
        }
        Err(message) if message == TTL_ZERO => {
            prop_assert!(text.contains('0'), "{:?}: {}", text, message)
        }
        Err(message) => prop_assert!(
            message.starts_with(&format!("`ttl` `{text}` ")),
            "{:?}: unclear error {:?}",
            text,
            message
        ),
    }
    Ok(())
}

fn ttl_number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{1,3}",
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "[0-9]{1,3}\\.[0-9]{0,12}",
        1 => "[0-9 ._]{0,25}",
        1 => "[-+][0-9]{1,3}",
        2 => prop::sample::select(
            &[
                "0",
                "1",
                "999999999",
                "1000000000",
                "1000000",
                "1000",
                "18446744073",
                "18446744074",
                "18446744073709551614",
                "18446744073709551615",
                "18446744073709551616",
                "99999999999999999999999",
                "0.5",
                "1.",
                ".5",
            ][..]
        )
        .prop_map(String::from),
    ]
}

fn ttl_unit() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(TTL_UNITS).prop_map(|(unit, ..)| unit.to_string()),
        2 => prop::sample::select(
            &[
                "", "fortnights", "fortnight", "μs", "S", "H", "Sec", "mins", "hrs", "days", "weeks",
                "months", "years", "nanos", "millis", "secs", "sek", "e", "ｓ",
            ][..]
        )
        .prop_map(String::from),
        1 => "[A-Za-z]{0,5}",
        1 => "\\PC{0,2}",
    ]
}

fn ttl_text() -> impl Strategy<Value = String> {
    let segment = (ttl_number(), space(), ttl_unit())
        .prop_map(|(number, gap, unit)| format!("{number}{gap}{unit}"));
    (space(), vec((segment, space()), 1..4), space()).prop_map(|(lead, segments, trail)| {
        let body: String = segments
            .into_iter()
            .map(|(segment, gap)| format!("{segment}{gap}"))
            .collect();
        format!("{lead}{body}{trail}")
    })
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn ttl_answers_any_string(text in prop_oneof![any::<String>(), "\\PC*"]) {
        check_ttl(&text)?;
    }

    #[test]
    fn ttl_answers_near_misses(text in ttl_text()) {
        check_ttl(&text)?;
    }
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn ttl_counts_whole_units(
        n in prop_oneof![any::<u64>(), 0..100_000u64],
        (unit, length, in_seconds) in prop::sample::select(TTL_UNITS),
        gap in space(),
    ) {
        let text = format!("{n}{gap}{unit}");
        let product = u128::from(n) * length;
        let expected = if n == 0 {
            Err(TTL_ZERO.to_string())
        } else if product > u128::from(u64::MAX) {
            Err(format!("`ttl` `{text}` is too long, or finer than a nanosecond"))
        } else if in_seconds {
            Ok(u64::try_from(product * 1_000_000_000).unwrap_or(u64::MAX))
        } else {
            Ok(product as u64)
        };
        prop_assert_eq!(duration::parse(&text), expected, "{:?}", text);
    }

    #[test]
    fn ttl_adds_up_compound_durations(
        hours in 0..1_000u64,
        minutes in 0..1_000u64,
        seconds in 0..1_000u64,
        gap in space(),
    ) {
        let text = format!("{hours}h{gap}{minutes}m{gap}{seconds}s");
        let total = (hours * 3_600 + minutes * 60 + seconds) * 1_000_000_000;
        let expected = if total == 0 { Err(TTL_ZERO.to_string()) } else { Ok(total) };
        prop_assert_eq!(duration::parse(&text), expected, "{:?}", text);
    }
}

/// Whole numbers at the edges of `u64` and of a second, in units up to an hour.
const TTL_EDGES: &[u64] = &[
    1,
    999,
    1_000,
    999_999,
    1_000_000,
    999_999_999,
    1_000_000_000,
    18_446_744_073,
    18_446_744_074,
    u64::MAX / 1_000,
    u64::MAX - 1,
    u64::MAX,
];

proptest! {
    #![proptest_config(config(5_000))]

    /// Sums of edge values, where overflow hides: the exact sum saturated at `u64::MAX`
    /// nanoseconds, or "too long" only when the sum is more than that.
    #[test]
    fn ttl_adds_up_edges(
        segments in vec(
            (
                prop::sample::select(TTL_EDGES),
                prop::sample::select(&TTL_UNITS[..9]),
                space(),
            ),
            1..4,
        ),
    ) {
        let text: String = segments
            .iter()
            .map(|(n, (unit, ..), gap)| format!("{n}{unit}{gap}"))
            .collect();
        let total: u128 = segments
            .iter()
            .map(|(n, (_, length, in_seconds), _)| {
                u128::from(*n) * length * if *in_seconds { 1_000_000_000 } else { 1 }
            })
            .sum();
        match duration::parse(&text) {
            Ok(nanos) => {
                prop_assert_eq!(u128::from(nanos), total.min(u128::from(u64::MAX)), "{:?}", text)
            }
            Err(message) => {
                let too_long = format!("`ttl` `{text}` is too long, or finer than a nanosecond");
                prop_assert_eq!(&message, &too_long);
                prop_assert!(total > u128::from(u64::MAX), "{:?}: {}", text, message);
            }
        }
    }
}

#[test]
fn ttl_near_misses() {
    let second = 1_000_000_000;
    for (input, expected) in [
        ("30s", Ok(30 * second)),
        ("1h30m", Ok(5_400 * second)),
        ("1.5h", Ok(5_400 * second)),
        (
            "30",
            Err("`ttl` `30` has no unit; write it like \"30s\", \"250ms\", \"5m\" or \"1h30m\""),
        ),
        ("0s", Err(TTL_ZERO)),
        ("0", Err(TTL_ZERO)),
        ("", Err(TTL_EMPTY)),
        ("  ", Err(TTL_EMPTY)),
        (
            "5 fortnights",
            Err(
                "`ttl` `5 fortnights` has an unknown unit `fortnights`; write it with one of ns, us, ms, s, m, h, d or w, like \"30s\", \"5m\" or \"1h30m\"",
            ),
        ),
        (
            "-5s",
            Err(
                "`ttl` `-5s` is not a duration; write it like \"30s\", \"250ms\", \"5m\" or \"1h30m\"",
            ),
        ),
        (
            "0.5ns",
            Err("`ttl` `0.5ns` is too long, or finer than a nanosecond"),
        ),
        (
            "18446744073709551616s",
            Err("`ttl` `18446744073709551616s` is too long, or finer than a nanosecond"),
        ),
        ("600y", Ok(u64::MAX)),
        // humantime 2.4 panics when whole seconds reach `u64::MAX` and the nanoseconds add up
        // to exactly one second (chronotope/humantime#66). Found by `ttl_answers_near_misses`
        // after about 75,000 cases, shrunk to the first of these; `ttl_adds_up_edges` finds
        // it within its 5,000.
        (
            "18446744073709551615s1000ms",
            Err("`ttl` `18446744073709551615s1000ms` is too long, or finer than a nanosecond"),
        ),
        (
            "18446744073709551615s 1000000000ns",
            Err(
                "`ttl` `18446744073709551615s 1000000000ns` is too long, or finer than a nanosecond",
            ),
        ),
        (
            "18446744073709551615s 999999999ns 1ns",
            Err(
                "`ttl` `18446744073709551615s 999999999ns 1ns` is too long, or finer than a nanosecond",
            ),
        ),
        (
            "18446744073709551615s 0.5s 0.5s",
            Err("`ttl` `18446744073709551615s 0.5s 0.5s` is too long, or finer than a nanosecond"),
        ),
    ] {
        assert_eq!(
            duration::parse(input),
            expected.map_err(String::from),
            "{input:?}"
        );
    }
}

// Whole macros.

/// Tokens, shown as source text when a case fails.
#[derive(Clone)]
struct Tokens(TokenStream);

impl fmt::Debug for Tokens {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "`{}`", self.0)
    }
}

impl ToTokens for Tokens {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.0.clone());
    }
}

fn string(text: &str) -> Tokens {
    Tokens(Literal::string(text).into_token_stream())
}

fn source(source: &str) -> Tokens {
    Tokens(parse(source))
}

fn parse(source: &str) -> TokenStream {
    source
        .parse()
        .unwrap_or_else(|error| panic!("bad fragment {source:?}: {error}"))
}

/// Words, paths, types and attributes that lead into the macros' deeper paths.
const FRAGMENTS: &[&str] = &[
    "struct",
    "enum",
    "union",
    "fn",
    "pub",
    "pub(crate)",
    "pub(in a::b)",
    "crate",
    "where",
    "impl",
    "const",
    "type",
    "Self",
    "self",
    "_",
    "'a",
    "'static",
    "dyn",
    "r#type",
    "r#struct",
    "budget",
    "track",
    "skip",
    "scoped",
    "scoped_cache",
    "max",
    "ttl",
    "len",
    "bytes",
    "heap_size",
    "with",
    "track_growth",
    "derive",
    "HeapSize",
    "cfg",
    "doc",
    "repr",
    "Vec<u8>",
    "Vec<T>",
    "Vec",
    "VecDeque<u8>",
    "HashMap<K, V>",
    "HashMap<u64, String, S>",
    "HashMap<u64>",
    "HashMap",
    "HashSet<T>",
    "HashSet<T, S>",
    "BTreeMap<K, V>",
    "BTreeMap",
    "BTreeSet<u8>",
    "BinaryHeap<u8>",
    "LinkedList<u8>",
    "String",
    "std::collections::HashMap<K, V>",
    "::std::vec::Vec<u8>",
    "Option<Vec<u8>>",
    "Box<[u8]>",
    "[u8; 4]",
    "(Vec<u8>)",
    "&'a str",
    "PhantomData<T>",
    "<T as Tr>::Assoc",
    "<Vec<u8> as IntoIterator>::IntoIter",
    "fn() -> u8",
    "impl Iterator<Item = u8>",
    "T",
    "K",
    "V",
    "S",
    "N",
    "u64",
    "usize",
    "bool",
    "#[track]",
    "#[track(skip)]",
    "#[track(scoped)]",
    "#[budget(len = 10)]",
    "#[budget(bytes = \"64 KiB\")]",
    "#[scoped_cache(max = 10, ttl = \"30m\")]",
    "#[heap_size(skip)]",
    "#[heap_size(with = f)]",
    "#[cfg(test)]",
    "#[derive(HeapSize)]",
    "/// doc",
    "::",
    "->",
    "=>",
    "..",
    "..=",
    "<<",
    ">>",
    "&&",
    "?",
    ";",
    "@",
    "$",
    "~",
    "|",
    "+",
    "*",
];

#[derive(Clone, Debug)]
enum Tok {
    Fragment(&'static str),
    Ident(String),
    RawIdent(String),
    Punct(char, bool),
    Literal(Lit),
    Group(Delimiter, Vec<Tok>),
}

#[derive(Clone, Debug)]
enum Lit {
    Int(i128),
    Suffixed(u64, &'static str),
    Float(f64),
    Str(String),
    ByteStr(Vec<u8>),
    Char(char),
    Byte(u8),
    CStr(String),
    Source(&'static str),
}

impl Lit {
    fn to_literal(&self) -> Literal {
        match self {
            Lit::Int(n) => Literal::i128_unsuffixed(*n),
            Lit::Suffixed(n, suffix) => parse_literal(&format!("{n}{suffix}")),
            Lit::Float(f) => Literal::f64_unsuffixed(*f),
            Lit::Str(text) => Literal::string(text),
            Lit::ByteStr(bytes) => Literal::byte_string(bytes),
            Lit::Char(c) => Literal::character(*c),
            Lit::Byte(b) => Literal::byte_character(*b),
            Lit::CStr(text) => {
                let text: String = text.chars().filter(|&c| c != '\0').collect();
                Literal::c_string(&std::ffi::CString::new(text).unwrap())
            }
            Lit::Source(source) => parse_literal(source),
        }
    }
}

fn parse_literal(source: &str) -> Literal {
    source
        .parse()
        .unwrap_or_else(|error| panic!("bad literal {source:?}: {error}"))
}

impl Tok {
    fn extend(&self, out: &mut TokenStream) {
        match self {
            Tok::Fragment(source) => out.extend(parse(source)),
            Tok::Ident(name) => out.extend([TokenTree::from(Ident::new(name, Span::call_site()))]),
            Tok::RawIdent(name) => {
                out.extend([TokenTree::from(Ident::new_raw(name, Span::call_site()))])
            }
            Tok::Punct(c, joint) => {
                let spacing = if *joint {
                    Spacing::Joint
                } else {
                    Spacing::Alone
                };
                out.extend([TokenTree::from(Punct::new(*c, spacing))]);
            }
            Tok::Literal(lit) => out.extend([TokenTree::from(lit.to_literal())]),
            Tok::Group(delimiter, inner) => {
                let group = Group::new(*delimiter, stream(inner).0);
                out.extend([TokenTree::from(group)]);
            }
        }
    }
}

fn stream(toks: &[Tok]) -> Tokens {
    let mut out = TokenStream::new();
    for tok in toks {
        tok.extend(&mut out);
    }
    Tokens(out)
}

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,6}|_[a-z0-9_]{1,4}".prop_filter("a keyword", |name| {
        syn::parse_str::<syn::Ident>(name).is_ok()
    })
}

fn literal() -> impl Strategy<Value = Lit> {
    prop_oneof![
        any::<i128>().prop_map(Lit::Int),
        (-5..=100_010i128).prop_map(Lit::Int),
        (
            any::<u64>(),
            prop::sample::select(&["", "u8", "usize", "i32", "u128", "f32"][..])
        )
            .prop_map(|(n, suffix)| Lit::Suffixed(n, suffix)),
        prop_oneof![
            prop::num::f64::NORMAL,
            prop::num::f64::ZERO,
            prop::num::f64::SUBNORMAL
        ]
        .prop_map(Lit::Float),
        size_text().prop_map(Lit::Str),
        ttl_text().prop_map(Lit::Str),
        any::<String>().prop_map(Lit::Str),
        "[a-z:_ ]{0,12}".prop_map(Lit::Str),
        vec(any::<u8>(), 0..8).prop_map(Lit::ByteStr),
        any::<char>().prop_map(Lit::Char),
        any::<u8>().prop_map(Lit::Byte),
        "\\PC{0,6}".prop_map(Lit::CStr),
        prop::sample::select(
            &[
                "1e999",
                "0x_FF_u8",
                "0b1010",
                "0o777",
                "1_000usize",
                "1.5e10f64",
                "r#\"raw \"quoted\"\"#",
                "br\"raw bytes\"",
                "b'\\xff'",
                "'\\u{10FFFF}'",
                "\"64 KiB\"",
                "\"30m\"",
                "\"\"",
                "999999999999999999999999999999999999999999",
                "-0",
                "-1.5",
            ][..]
        )
        .prop_map(Lit::Source),
    ]
}

fn tok() -> impl Strategy<Value = Tok> {
    let leaf = prop_oneof![
        6 => prop::sample::select(FRAGMENTS).prop_map(Tok::Fragment),
        2 => ident().prop_map(Tok::Ident),
        1 => prop::sample::select(&["type", "struct", "fn", "budget", "match", "r"][..])
            .prop_map(|name| Tok::RawIdent(name.to_string())),
        4 => (
            prop::sample::select(&[':', ',', '=', '#', '-', '.', '<', '>', ';', '!', '&', '\''][..]),
            any::<bool>()
        )
            .prop_map(|(c, joint)| Tok::Punct(c, joint)),
        3 => literal().prop_map(Tok::Literal),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        (
            prop::sample::select(
                &[
                    Delimiter::Parenthesis,
                    Delimiter::Bracket,
                    Delimiter::Brace,
                    Delimiter::None,
                ][..],
            ),
            vec(inner, 0..8),
        )
            .prop_map(|(delimiter, toks)| Tok::Group(delimiter, toks))
    })
}

fn tokens(len: std::ops::Range<usize>) -> impl Strategy<Value = Tokens> {
    vec(tok(), len).prop_map(|toks| stream(&toks))
}

/// A random value for an attribute argument, leaning towards the kinds the macros check.
fn arg_value() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        3 => literal().prop_map(|lit| Tokens(lit.to_literal().into_token_stream())),
        2 => size_text().prop_map(|text| string(&text)),
        2 => ttl_text().prop_map(|text| string(&text)),
        1 => (0..=100_000i64).prop_map(|n| Tokens(quote!(-#n))),
        1 => prop::sample::select(
            &["f", "a::b", "crate::f", "\"a::b\"", "\"1 +\"", "|x| 0", "{ 1 }", "x!()"][..]
        )
        .prop_map(source),
        1 => tokens(0..3),
    ]
}

/// `key`, `key = value`, `key(..)` or noise, for an attribute's argument list.
fn arg() -> impl Strategy<Value = Tokens> {
    let key = prop::sample::select(
        &[
            "len", "bytes", "max", "ttl", "skip", "scoped", "with", "limit", "r#len", "len::x",
            "Len",
        ][..],
    )
    .prop_map(parse);
    prop_oneof![
        6 => (key.clone(), arg_value()).prop_map(|(key, value)| Tokens(quote!(#key = #value))),
        2 => key.clone().prop_map(Tokens),
        1 => (key, tokens(0..3)).prop_map(|(key, inner)| Tokens(quote!(#key(#inner)))),
        1 => tokens(1..3),
    ]
}

/// An argument list, mostly separated by commas.
fn args() -> impl Strategy<Value = Tokens> {
    let separator = prop::sample::select(&[",", ",", ",", ",", ";", ":", "", ",,"][..]);
    (vec((arg(), separator), 0..4), any::<bool>()).prop_map(|(args, trailing)| {
        let mut out = TokenStream::new();
        let count = args.len();
        for (i, (arg, separator)) in args.into_iter().enumerate() {
            out.extend(arg.0);
            if i + 1 < count || trailing {
                out.extend(parse(separator));
            }
        }
        Tokens(out)
    })
}

/// `key = value` for one of `keys`, with a value that is usually of the kind the key takes.
fn plausible_arg(keys: &'static [&'static str]) -> impl Strategy<Value = Tokens> {
    let value = |key: &str| -> BoxedStrategy<Tokens> {
        match key {
            "len" | "max" => prop_oneof![
                4 => (1..=100_000u64).prop_map(|n| Tokens(quote!(#n))),
                1 => arg_value(),
            ]
            .boxed(),
            "bytes" => prop_oneof![
                4 => size_text().prop_map(|text| string(&text)),
                1 => Just(string("64 KiB")),
                1 => arg_value(),
            ]
            .boxed(),
            "ttl" => prop_oneof![
                4 => ttl_text().prop_map(|text| string(&text)),
                1 => Just(string("30m")),
                1 => arg_value(),
            ]
            .boxed(),
            _ => arg_value().boxed(),
        }
    };
    prop::sample::select(keys).prop_flat_map(move |key| {
        let name = parse(key);
        match key {
            "skip" | "scoped" => Just(Tokens(name)).boxed(),
            _ => value(key)
                .prop_map(move |value| Tokens(quote!(#name = #value)))
                .boxed(),
        }
    })
}

/// Arguments of the kind `#[name(..)]` takes, separated by commas.
fn plausible_args(keys: &'static [&'static str]) -> impl Strategy<Value = Tokens> {
    vec(plausible_arg(keys), 1..3).prop_map(|args| Tokens(quote!(#(#args),*)))
}

fn field_attr() -> impl Strategy<Value = Tokens> {
    let name =
        prop::sample::select(&["budget", "track", "scoped_cache", "heap_size"][..]).prop_map(parse);
    let plausible = prop_oneof![
        (Just("budget"), plausible_args(&["len", "bytes"])),
        (Just("scoped_cache"), plausible_args(&["max", "ttl"])),
        (Just("track"), plausible_args(&["skip", "scoped"])),
        (Just("heap_size"), plausible_args(&["skip", "with"])),
    ]
    .prop_map(|(name, args)| {
        let name = parse(name);
        Tokens(quote!(#[#name(#args)]))
    });
    prop_oneof![
        12 => plausible,
        6 => (name.clone(), args()).prop_map(|(name, args)| Tokens(quote!(#[#name(#args)]))),
        2 => name.clone().prop_map(|name| Tokens(quote!(#[#name]))),
        1 => (name.clone(), arg_value()).prop_map(|(name, value)| Tokens(quote!(#[#name = #value]))),
        1 => (name, tokens(0..4)).prop_map(|(name, inner)| Tokens(quote!(#[#name #inner]))),
        2 => prop::sample::select(
            &["#[cfg(test)]", "#[doc = \"x\"]", "/// doc", "#[serde(rename = \"x\")]", "#[allow(unused)]"][..]
        )
        .prop_map(source),
        1 => tokens(0..4).prop_map(|inner| Tokens(quote!(#[#inner]))),
    ]
}

fn field_type() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        20 => prop::sample::select(
            &[
                "Vec<u8>", "Vec<T>", "Vec", "Vec<u8, A>", "VecDeque<u8>", "HashMap<K, V>",
                "HashMap<u64, String, S>", "HashMap<u64>", "HashMap", "HashSet<T>", "HashSet<T, S>",
                "HashSet", "BTreeMap<K, V>", "BTreeSet<u8>", "BinaryHeap<u8>", "LinkedList<u8>",
                "String", "std::collections::HashMap<K, V>", "::std::vec::Vec<u8>", "Option<Vec<u8>>",
                "Box<[u8]>", "[u8; 4]", "[Vec<u8>; N]", "(Vec<u8>)", "(Vec<u8>, u8)", "&'a str",
                "&'a mut Vec<T>", "PhantomData<T>", "<T as Tr>::Assoc", "fn() -> u8",
                "impl Iterator<Item = u8>", "dyn Fn()", "Self", "T", "u64", "usize", "MyAlias",
                "Vec<Self>", "HashMap<&'a str, T>", "Vec<[u8; N]>", "_", "!",
            ][..]
        )
        .prop_map(source),
        1 => tokens(1..4),
    ]
}

fn field_name() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        12 => ident().prop_map(|name| source(&name)),
        1 => prop::sample::select(
            &["r#type", "r#struct", "r#len", "__leakguard_total", "__leakguard_m", "self"][..]
        )
        .prop_map(source),
    ]
}

fn visibility() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        6 => prop::sample::select(&["", "pub"][..]),
        1 => prop::sample::select(&["pub(crate)", "pub(super)", "pub(in a::b)", "crate"][..]),
    ]
    .prop_map(source)
}

/// One field, written for a struct with named fields and for a tuple struct.
fn field() -> impl Strategy<Value = (Tokens, Tokens)> {
    (
        vec(field_attr(), 0..4),
        visibility(),
        field_name(),
        field_type(),
    )
        .prop_map(|(attrs, vis, name, ty)| {
            let attrs = quote!(#(#attrs)*);
            (
                Tokens(quote!(#attrs #vis #name: #ty)),
                Tokens(quote!(#attrs #vis #ty)),
            )
        })
}

/// The arguments of `#[track_growth(..)]`: none, plausible ones, or any.
fn struct_args() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        2 => Just(Tokens(TokenStream::new())),
        1 => plausible_args(&["len", "bytes", "scoped"]),
        1 => args(),
    ]
}

/// An item that is a struct with named fields, or nearly one: random attribute arguments,
/// field attributes and types, and sometimes the wrong kind of item or body.
fn almost_struct() -> impl Strategy<Value = Tokens> {
    let outer = prop::sample::select(
        &[
            "#[derive(HeapSize)]",
            "#[derive(Debug, leakguard::HeapSize)]",
            "#[derive(Clone)]",
            "#[derive = \"x\"]",
            "#[derive(1 +)]",
            "#[repr(C)]",
            "#[track_growth]",
            "#[track(skip)]",
            "/// doc",
        ][..],
    )
    .prop_map(parse);
    let generics = prop::sample::select(
        &[
            "",
            "",
            "",
            "<T>",
            "<'a, T: Clone>",
            "<T, const N: usize>",
            "<K, V, S>",
            "<'a, K: Eq + Hash, V>",
            "<T = u8>",
            "<T>",
            "<>",
        ][..],
    )
    .prop_map(parse);
    let where_clause =
        prop::sample::select(&["", "", "", "where T: Clone", "where T: HeapSize,", "where"][..])
            .prop_map(parse);
    let kind = prop_oneof![
        12 => Just("struct"),
        1 => prop::sample::select(&["enum", "union", "fn", "trait", ""][..]),
    ]
    .prop_map(parse);
    let body = prop_oneof![
        12 => Just("named"),
        1 => prop::sample::select(&["tuple", "unit", "none"][..]),
    ];
    (
        vec(outer, 0..3),
        visibility(),
        kind,
        ident(),
        (generics, where_clause),
        vec(field(), 0..5),
        body,
    )
        .prop_map(
            |(outer, vis, kind, name, (generics, where_clause), fields, body)| {
                let name = Ident::new(&name, Span::call_site());
                let head = quote!(#(#outer)* #vis #kind #name #generics);
                let is_enum = kind.to_string() == "enum";
                let named = fields.iter().map(|(named, _)| named);
                let unnamed = fields.iter().map(|(_, unnamed)| unnamed);
                Tokens(match body {
                    "named" if is_enum => {
                        quote!(#head #where_clause { A { #(#named),* }, B(#(#unnamed),*), C })
                    }
                    "named" => quote!(#head #where_clause { #(#named),* }),
                    "tuple" => quote!(#head (#(#unnamed),*) #where_clause;),
                    "unit" => quote!(#head #where_clause;),
                    _ => head,
                })
            },
        )
}

/// Text of the panic payload, for the failure message.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(message), _) => message.to_string(),
        (_, Some(message)) => message.clone(),
        _ => "a panic without a message".to_string(),
    }
}

/// The messages of the `compile_error!` invocations at the top level of `tokens`.
fn compile_errors(tokens: &TokenStream) -> Vec<String> {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees
        .windows(3)
        .filter_map(|window| match window {
            [
                TokenTree::Ident(ident),
                TokenTree::Punct(bang),
                TokenTree::Group(group),
            ] if ident == "compile_error" && bang.as_char() == '!' => {
                Some(syn::parse2::<syn::LitStr>(group.stream()).map_or_else(
                    |_| format!("<not a string: {}>", group.stream()),
                    |lit| lit.value(),
                ))
            }
            _ => None,
        })
        .collect()
}

/// The item `tokens` start with, ignoring whatever follows it.
fn leading_item(tokens: &TokenStream) -> syn::Result<DeriveInput> {
    (|input: ParseStream<'_>| {
        let item: DeriveInput = input.parse()?;
        input.parse::<TokenStream>()?;
        Ok(item)
    })
    .parse2(tokens.clone())
}

fn run<T>(name: &str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        TestCaseError::fail(format!("{name} panicked: {}", panic_message(&*payload)))
    })
}

fn check_errors(output: &TokenStream) -> Result<Vec<String>, TestCaseError> {
    let messages = compile_errors(output);
    for message in &messages {
        prop_assert!(
            !message.trim().is_empty() && !message.starts_with("<not a string"),
            "unclear error {:?} in `{}`",
            message,
            output
        );
    }
    Ok(messages)
}

/// `#[track_growth(args)]` on `input` answers with the item, rewritten or as written, and
/// with errors wherever it is not rewritten.
fn check_track_growth(args: &Tokens, input: &Tokens) -> Result<(), TestCaseError> {
    let output = run("track_growth::expand", || {
        track_growth::expand(args.0.clone(), input.0.clone())
    })?;
    prop_assert!(!output.is_empty());
    let messages = check_errors(&output)?;
    match syn::parse2::<DeriveInput>(input.0.clone()) {
        Ok(item) => match leading_item(&output) {
            Ok(emitted) => prop_assert_eq!(emitted.ident, item.ident),
            Err(error) => prop_assert!(
                false,
                "emitted an item that does not parse ({}): `{}`",
                error,
                output
            ),
        },
        Err(_) => prop_assert!(
            !messages.is_empty(),
            "no error for a non-item: `{}`",
            output
        ),
    }
    Ok(())
}

/// `#[derive(HeapSize)]` on `input` answers with an impl, or with an error.
fn check_heap_size(input: &Tokens) -> Result<(), TestCaseError> {
    let output = run("heap_size::derive", || heap_size::derive(input.0.clone()))?;
    prop_assert!(!output.is_empty());
    let messages = check_errors(&output)?;
    let has_impl = output.to_string().contains(":: HeapSize for");
    match syn::parse2::<DeriveInput>(input.0.clone()) {
        Ok(_) => prop_assert!(has_impl, "no impl: `{}`", output),
        Err(_) => prop_assert!(
            !messages.is_empty() && !has_impl,
            "no error for a non-item: `{}`",
            output
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn track_growth_answers_random_tokens(args in tokens(0..6), input in tokens(0..24)) {
        check_track_growth(&args, &input)?;
    }

    #[test]
    fn heap_size_answers_random_tokens(input in tokens(0..24)) {
        check_heap_size(&input)?;
    }
}

proptest! {
    #![proptest_config(config(6_000))]

    #[test]
    fn track_growth_answers_almost_structs(args in struct_args(), input in almost_struct()) {
        check_track_growth(&args, &input)?;
    }

    #[test]
    fn heap_size_answers_almost_structs(input in almost_struct()) {
        check_heap_size(&input)?;
    }
}

/// One syntax error inside an attribute is one error, not also a missing limit or bound.
#[test]
fn syntax_error_in_field_attribute_is_reported_once() {
    for attr in [
        quote!(#[budget(len: 100)]),
        quote!(#[budget(bytes "64 KiB")]),
        quote!(#[scoped_cache(max: 100)]),
    ] {
        let input = quote!(struct Inbox { #attr messages: Vec<String> });
        let output = track_growth::expand(TokenStream::new(), input);
        let messages = compile_errors(&output);
        assert_eq!(messages.len(), 1, "{attr}: {messages:?}");
        assert!(messages[0].starts_with("expected"), "{attr}: {messages:?}");
    }
}
