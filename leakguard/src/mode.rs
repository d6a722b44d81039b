//! Whether instrumentation is compiled in: the one switch every layer reads.

/// Whether instrumentation is compiled into this build.
///
/// `true` with the feature `enabled` (a default) in builds with `debug_assertions`, or with
/// the feature `release` in any build. Eviction by [scoped caches](crate) is behaviour, not
/// instrumentation, and does not depend on it.
pub const ENABLED: bool = cfg!(all(
    feature = "enabled",
    any(debug_assertions, feature = "release")
));
