//! Compile-fail tests: every mistake in using the macros is reported at the token that
//! causes it, with a message that says how to fix it, and without secondary errors.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/track_growth/*.rs");
    t.compile_fail("tests/ui/heap_size/*.rs");
    t.compile_fail("tests/ui/scoped_cache/*.rs");
    t.compile_fail("tests/ui/tracked/*.rs");
}
