//! leakguard's own guarantees under load, faults and bad input, with instrumentation on: the
//! suite lives in `leakguard-support`, so that the compiled-out package runs it too.

leakguard_support::reliability_suite!();
