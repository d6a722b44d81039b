//! The layer's settings from `LEAKGUARD_*` environment variables.

use std::fmt;
use std::time::Duration;

use super::LeakLayer;
use crate::error::ConfigError;

impl LeakLayer {
    /// The layer configured from the environment: [`ENV_VARS`](Self::ENV_VARS) that are
    /// set override the defaults. A value it cannot use is an error naming the variable.
    ///
    /// ```
    /// let layer = leakguard::LeakLayer::from_env().expect("valid LEAKGUARD_* variables");
    /// # let _ = layer;
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        for variable in Self::ENV_VARS {
            if let Err(std::env::VarError::NotUnicode(value)) = std::env::var(variable) {
                return Err(ConfigError::Env {
                    variable,
                    value: shown(&value.to_string_lossy()),
                    reason: "not valid Unicode".into(),
                });
            }
        }
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The variables [`from_env`](Self::from_env) reads: durations like `"5s"` or
    /// `"250ms"`, a count for `LEAKGUARD_GROWTH_SAMPLES`, and bytes for
    /// `LEAKGUARD_HEAP_SAMPLE_RATE`, which [`Alloc`](crate::Alloc) reads itself at its first
    /// allocation (taking the default, 524288, for a value it cannot use): `from_env`
    /// checks it, so that a bad value is an error here rather than ignored.
    pub const ENV_VARS: [&'static str; 6] = [
        "LEAKGUARD_GRACE_PERIOD",
        "LEAKGUARD_SAMPLE_INTERVAL",
        "LEAKGUARD_GROWTH_SAMPLES",
        "LEAKGUARD_RATE_LIMIT",
        "LEAKGUARD_REPORT_EVERY",
        "LEAKGUARD_HEAP_SAMPLE_RATE",
    ];

    /// The layer configured from `lookup`, which answers for the variables of
    /// [`ENV_VARS`](Self::ENV_VARS) as [`from_env`](Self::from_env) reads them from the
    /// environment.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        fn env(variable: &'static str, value: &str, reason: impl fmt::Display) -> ConfigError {
            ConfigError::Env {
                variable,
                value: shown(value),
                reason: reason.to_string(),
            }
        }
        /// The builder's own requirement, restated for the variable.
        fn out_of_range(variable: &'static str, value: &str, e: ConfigError) -> ConfigError {
            match e {
                ConfigError::Invalid { requirement, .. } => {
                    env(variable, value, format_args!("must be {requirement}"))
                }
                other => other,
            }
        }
        fn duration(variable: &'static str, value: &str) -> Result<Duration, ConfigError> {
            humantime::parse_duration(value.trim()).map_err(|e| {
                env(
                    variable,
                    value,
                    format!("not a duration like \"5s\" or \"250ms\" ({e})"),
                )
            })
        }
        let [grace, interval, samples, rate, report, heap_rate] = Self::ENV_VARS;
        let mut layer = Self::default();
        if let Some(value) = lookup(grace) {
            layer = layer.grace_period(duration(grace, &value)?);
        }
        if let Some(value) = lookup(interval) {
            layer = layer
                .sample_interval(duration(interval, &value)?)
                .map_err(|e| out_of_range(interval, &value, e))?;
        }
        if let Some(value) = lookup(samples) {
            let count: u64 = value
                .trim()
                .parse()
                .map_err(|_| env(samples, &value, "not a whole number"))?;
            let count = u32::try_from(count).map_err(|_| {
                env(
                    samples,
                    &value,
                    format_args!("too large: at most {}", u32::MAX),
                )
            })?;
            layer = layer
                .growth_samples(count)
                .map_err(|e| out_of_range(samples, &value, e))?;
        }
        if let Some(value) = lookup(rate) {
            layer = layer.rate_limit(duration(rate, &value)?);
        }
        if let Some(value) = lookup(report) {
            layer = layer
                .report_every(duration(report, &value)?)
                .map_err(|e| out_of_range(report, &value, e))?;
        }
        if let Some(value) = lookup(heap_rate) {
            if crate::sampling::parse_rate(value.as_bytes()).is_none() {
                return Err(env(
                    heap_rate,
                    &value,
                    "not a whole number of bytes, such as 4096 (0 turns sampling off)",
                ));
            }
        }
        Ok(layer)
    }
}

/// Most characters of a variable's value an error repeats.
const SHOWN: usize = 64;

/// `value` as an error shows it: whole if short, else its start and its length, so that a
/// value of a megabyte does not become an error of a megabyte.
fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN) {
        None => value.to_string(),
        Some((at, _)) => format!("{}… ({} bytes)", &value[..at], value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heap_sample_rate_must_be_whole_bytes() {
        let with = |value: &'static str| {
            LeakLayer::from_vars(move |name| {
                (name == "LEAKGUARD_HEAP_SAMPLE_RATE").then(|| value.to_string())
            })
        };
        assert!(with("4096").is_ok());
        assert!(with("0").is_ok());
        let error = with("4 KiB").unwrap_err();
        assert_eq!(error.setting(), "LEAKGUARD_HEAP_SAMPLE_RATE");
        assert_eq!(
            error.to_string(),
            "invalid environment variable LEAKGUARD_HEAP_SAMPLE_RATE=\"4 KiB\": not a whole number of bytes, such as 4096 (0 turns sampling off)"
        );
    }
}
