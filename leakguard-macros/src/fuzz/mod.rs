//! Bad input, on purpose: the attribute-argument parsers and both macros are fed arbitrary and
//! almost-valid input, and must answer with a value or a clear error, never a panic.
//!
//! Cases tried per run (fixed here, so they can be quoted; no failure files are written):
//!
//! | property                              | cases  |
//! |---------------------------------------|--------|
//! | `size_answers_any_string`             | 10,000 |
//! | `size_answers_near_misses`            | 10,000 |
//! | `size_counts_whole_units`             |  5,000 |
//! | `size_ignores_spelling`               |  5,000 |
//! | `size_counts_exact_fractions`         |  5,000 |
//! | `size_rejects_partial_bytes`          |  5,000 |
//! | `ttl_answers_any_string`              | 10,000 |
//! | `ttl_answers_near_misses`             | 10,000 |
//! | `ttl_counts_whole_units`              |  5,000 |
//! | `ttl_adds_up_compound_durations`      |  5,000 |
//! | `ttl_adds_up_edges`                   |  5,000 |
//! | `track_growth_answers_random_tokens`  |  4,000 |
//! | `track_growth_answers_almost_structs` |  6,000 |
//! | `heap_size_answers_random_tokens`     |  4,000 |
//! | `heap_size_answers_almost_structs`    |  6,000 |
//!
//! 95,000 cases in all, about 20 s of a debug `cargo test -p leakguard-macros` on 2 cores.

mod duration;
mod items;
mod macros;
mod size;
mod tokens;

use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Blanks between the parts of a size or a duration, Unicode ones included.
fn space() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["", "", " ", "  ", "\t", "\n", "\u{a0}", "\u{3000}"][..])
}
