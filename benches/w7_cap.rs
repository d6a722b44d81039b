//! W7 under `cap` as the global allocator; see `leakguard_bench::w7`.

#[global_allocator]
static ALLOC: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

fn main() {
    leakguard_bench::w7::run("cap", false);
}
