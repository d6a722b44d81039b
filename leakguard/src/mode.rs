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

/// What only a build with instrumentation compiled out has a value of: a variant holding one
/// is left out of builds with instrumentation, and a `match` of them has no arm for it.
#[cfg(all(feature = "enabled", any(debug_assertions, feature = "release")))]
pub(crate) type CompiledOut = std::convert::Infallible;
/// What only a build with instrumentation compiled out has a value of: a variant holding one
/// is left out of builds with instrumentation, and a `match` of them has no arm for it.
#[cfg(not(all(feature = "enabled", any(debug_assertions, feature = "release"))))]
pub(crate) type CompiledOut = ();

/// A [`CompiledOut`], in a build with instrumentation compiled out.
#[inline]
pub(crate) fn compiled_out() -> Option<CompiledOut> {
    #[cfg(not(all(feature = "enabled", any(debug_assertions, feature = "release"))))]
    return Some(());
    #[cfg(all(feature = "enabled", any(debug_assertions, feature = "release")))]
    return None;
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_build_with_instrumentation_compiled_out_has_a_compiled_out_value() {
        assert_eq!(super::compiled_out().is_some(), !super::ENABLED);
    }
}
