//! W7 under `leakguard` as the global allocator; see `leakguard_bench::w7`.

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

fn main() {
    leakguard_bench::w7::run("leakguard", true);
}
