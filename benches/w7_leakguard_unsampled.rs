//! W7 under `leakguard` as the global allocator with heap sampling off: the allocator's
//! unsampled path alone (each allocation still counts down to a sample that never comes);
//! see `leakguard_bench::w7`.

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

fn main() {
    leakguard::set_heap_sample_rate(0);
    leakguard_bench::w7::run("leakguard, heap sampling off", true);
}
