//! The reliability suite of the root package, run here with instrumentation compiled out:
//! it must pass with no event emitted.

leakguard_support::reliability_suite!();
