//! W7 under `system` as the global allocator; see `leakguard_bench::w7`.

#[global_allocator]
static ALLOC: std::alloc::System = std::alloc::System;

fn main() {
    leakguard_bench::w7::run("system", false);
}
