//! Human sizes in attribute arguments: `"64 KiB"`, `"1.5 GiB"`, `"512 B"`, `"10 MB"`.

const UNITS: &[(&str, u128)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

const EXPECTED_UNITS: &str = "B, KiB, MiB, GiB, KB, MB or GB";

/// Parses a size with a unit into bytes, or says what is wrong with it.
pub(crate) fn parse(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!(
            "empty size; write a number and a unit ({EXPECTED_UNITS}), like \"64 KiB\""
        ));
    }
    let number_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_end);
    let unit = unit.trim_start();
    if number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "size `{trimmed}` must start with a number, like \"64 KiB\""
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "size `{trimmed}` has no unit; write it with one of {EXPECTED_UNITS}, like \"{number} KiB\""
        ));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!(
            "unknown size unit `{unit}`; expected {EXPECTED_UNITS}"
        ));
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    let digits = |s: &str| s.chars().filter(|&c| c != '_').collect::<String>();
    let (whole, fraction) = (digits(whole), digits(fraction));
    if fraction.contains('.') || (number.contains('.') && fraction.is_empty()) {
        return Err(format!("size `{trimmed}` is not a number"));
    }
    let too_large = || format!("size `{trimmed}` is too large");
    let whole: u128 = whole.parse().map_err(|_| too_large())?;
    let mut bytes = whole.checked_mul(scale).ok_or_else(too_large)?;
    // Trailing zeros add digits, not bytes: `1.50 KiB` is `1.5 KiB`.
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        // A fraction too long for a `u128` has more significant digits (39) than any unit
        // can turn into whole bytes (30, for `GiB`).
        let not_whole = || format!("size `{trimmed}` is not a whole number of bytes");
        let denominator = 10u128
            .checked_pow(fraction.len() as u32)
            .ok_or_else(not_whole)?;
        let numerator: u128 = fraction.parse().map_err(|_| not_whole())?;
        // Reduced by their common factor, `numerator * scale` cannot overflow; unreduced, the
        // 30 digits of `0.999999999068677425384521484375 GiB` (2^30 - 1 bytes) times 2^30 did.
        let common = gcd(scale, denominator);
        let denominator = denominator / common;
        if numerator % denominator != 0 {
            return Err(not_whole());
        }
        bytes = bytes
            .checked_add(numerator / denominator * (scale / common))
            .ok_or_else(too_large)?;
    }
    if bytes == 0 {
        return Err(format!(
            "size `{trimmed}` is zero; a budget needs at least 1 B"
        ));
    }
    usize::try_from(bytes).map_err(|_| too_large())
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_binary_and_decimal_units() {
        assert_eq!(parse("64 MiB"), Ok(64 << 20));
        assert_eq!(parse("64KiB"), Ok(64 << 10));
        assert_eq!(parse("512 B"), Ok(512));
        assert_eq!(parse("10 MB"), Ok(10_000_000));
        assert_eq!(parse("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse(" 1_000 KB "), Ok(1_000_000));
    }

    #[test]
    fn rejects_what_is_not_a_size() {
        for (input, message) in [
            ("64", "has no unit"),
            ("64 mb", "unknown size unit `mb`"),
            ("64 MiBs", "unknown size unit `MiBs`"),
            ("", "empty size"),
            ("MiB", "must start with a number"),
            ("-5 KiB", "must start with a number"),
            ("0 KiB", "is zero"),
            ("0.5 B", "not a whole number of bytes"),
            ("1.2.3 KiB", "not a number"),
            ("1. KiB", "not a number"),
            ("99999999999999999999999999999 GiB", "too large"),
        ] {
            let error = parse(input).unwrap_err();
            assert!(error.contains(message), "{input:?}: {error}");
        }
    }
}
