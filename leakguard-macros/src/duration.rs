//! Durations in attribute arguments: `ttl = "30s"`, `"250ms"`, `"1h30m"`.

/// Parses the text of a `ttl` into nanoseconds, or says what is wrong with it.
pub(crate) fn parse(value: &str) -> Result<u64, String> {
    // humantime 2.4 panics instead of overflowing when the seconds reach `u64::MAX` and
    // the nanoseconds add up to one second, as in "18446744073709551615s 1000000000ns"
    // (chronotope/humantime#66). Within rustc the caught panic prints nothing.
    let parsed = std::panic::catch_unwind(|| humantime::parse_duration(value))
        .unwrap_or(Err(humantime::DurationError::NumberOverflow));
    match parsed {
        Ok(ttl) if ttl.is_zero() => Err(
            "`ttl` must be longer than zero: entries would expire as they are written".to_string(),
        ),
        Ok(ttl) => Ok(u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX)),
        Err(humantime::DurationError::UnknownUnit { unit, .. }) if unit.is_empty() => Err(format!(
            "`ttl` `{value}` has no unit; write it like \"{value}s\", \"250ms\", \"5m\" or \"1h30m\""
        )),
        Err(humantime::DurationError::UnknownUnit { unit, .. }) => Err(format!(
            "`ttl` `{value}` has an unknown unit `{unit}`; write it with one of ns, us, ms, s, m, h, d or w, like \"30s\", \"5m\" or \"1h30m\""
        )),
        Err(humantime::DurationError::NumberOverflow) => Err(format!(
            "`ttl` `{value}` is too long, or finer than a nanosecond"
        )),
        Err(humantime::DurationError::Empty) => {
            Err("`ttl` is empty; write it like \"30s\", \"250ms\", \"5m\" or \"1h30m\"".to_string())
        }
        Err(_) => Err(format!(
            "`ttl` `{value}` is not a duration; write it like \"30s\", \"250ms\", \"5m\" or \"1h30m\""
        )),
    }
}
