//! W7 under `stats_alloc` as the global allocator; see `leakguard_bench::w7`.

#[global_allocator]
static ALLOC: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

fn main() {
    leakguard_bench::w7::run("stats_alloc", false);
}
