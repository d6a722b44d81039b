//! Support shared by leakguard's examples, end-to-end tests and benchmarks: a counting global
//! allocator, a `tracing` layer that captures events, the real `go tool pprof`, and the
//! reliability suite.

pub mod alloc;
pub mod capture;
pub mod parallel;
pub mod pprof;
pub mod reliability;
