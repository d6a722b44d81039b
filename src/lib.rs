//! Support shared by leakguard's examples and end-to-end tests.
