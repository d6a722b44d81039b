//! W6 with `leakguard::Alloc` as the global allocator (issue 21: at most 1.10x the same build
//! without it); see `leakguard_bench::w6`.

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

fn main() {
    leakguard_bench::w6::run(true);
}
