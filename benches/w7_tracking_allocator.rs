//! W7 under `tracking_allocator` as the global allocator; see `leakguard_bench::w7`.

#[global_allocator]
static ALLOC: tracking_allocator::Allocator<std::alloc::System> =
    tracking_allocator::Allocator::system();

/// Counts nothing: the cost measured is the allocator's own, with tracking enabled as its
/// users enable it.
struct Nothing;

impl tracking_allocator::AllocationTracker for Nothing {
    fn allocated(&self, _: usize, _: usize, _: usize, _: tracking_allocator::AllocationGroupId) {}
    fn deallocated(
        &self,
        _: usize,
        _: usize,
        _: usize,
        _: tracking_allocator::AllocationGroupId,
        _: tracking_allocator::AllocationGroupId,
    ) {
    }
}

fn main() {
    tracking_allocator::AllocationRegistry::set_global_tracker(Nothing).expect("one tracker");
    tracking_allocator::AllocationRegistry::enable_tracking();
    leakguard_bench::w7::run("tracking_allocator", false);
}
