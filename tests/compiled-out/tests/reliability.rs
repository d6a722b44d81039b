//! The reliability suite of the root package, run here with instrumentation compiled out:
//! it must pass with no event emitted.

#[path = "../../reliability/main.rs"]
mod suite;
