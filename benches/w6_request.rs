//! W6: the request loop in two shapes and the parts of its instrumentation, under the system
//! allocator; see `leakguard_bench::w6` for the builds it is run in and the table.

fn main() {
    leakguard_bench::w6::run(false);
}
