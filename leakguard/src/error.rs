//! The error for settings leakguard cannot work with.

use std::fmt;

/// A setting leakguard cannot work with, naming the setting at fault.
///
/// Returned by the builders of scoped caches and of the [layer](crate::LeakLayer), and by
/// [`LeakLayer::from_env`](crate::LeakLayer::from_env) for its environment variables.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A scoped cache's `max` was 0: it could hold nothing.
    ZeroMax,
    /// A scoped cache's `ttl` was zero: every entry would expire as it is written.
    ZeroTtl,
    /// A scoped cache had no `max`, `max_bytes` or `ttl`: it would be unbounded.
    Unbounded,
    /// A scoped cache's `max` was more entries than a cache can index: it would bound
    /// nothing.
    MaxTooLarge {
        /// The most a cache can hold, [`MAX_ENTRIES`](crate::MAX_ENTRIES).
        most: usize,
    },
    /// A layer setting out of its range.
    Invalid {
        /// The setting, as its builder method names it.
        setting: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
    /// An environment variable leakguard reads holds a value it cannot use.
    Env {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl ConfigError {
    /// The name of the setting at fault: `"max"`, `"ttl"`, `"max, ttl"`, a layer setting
    /// such as `"sample_interval"`, or an environment variable.
    pub fn setting(&self) -> &'static str {
        match self {
            ConfigError::ZeroMax | ConfigError::MaxTooLarge { .. } => "max",
            ConfigError::ZeroTtl => "ttl",
            ConfigError::Unbounded => "max, ttl",
            ConfigError::Invalid { setting, .. } => setting,
            ConfigError::Env { variable, .. } => variable,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroMax => {
                f.write_str("invalid scoped cache setting `max`: it must be at least 1")
            }
            ConfigError::ZeroTtl => {
                f.write_str("invalid scoped cache setting `ttl`: it must be longer than zero")
            }
            ConfigError::Unbounded => f.write_str(
                "invalid scoped cache settings: set `max`, `max_bytes`, `ttl` or several, or the cache is unbounded",
            ),
            ConfigError::MaxTooLarge { most } => write!(
                f,
                "invalid scoped cache setting `max`: it must be at most {most}, the most entries a cache can index"
            ),
            ConfigError::Invalid { setting, requirement } => {
                write!(f, "invalid leakguard setting `{setting}`: it must be {requirement}")
            }
            ConfigError::Env { variable, value, reason } => {
                write!(f, "invalid environment variable {variable}={value:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}
