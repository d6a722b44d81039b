//! The size parser: any text, near misses, and exact counts of whole and fractional units.

use proptest::collection::vec;
use proptest::prelude::*;

use super::{config, space};
use crate::size;

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

pub(super) fn size_text() -> impl Strategy<Value = String> {
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
