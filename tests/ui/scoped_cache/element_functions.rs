use std::collections::HashMap;

use leakguard::track_growth;

fn route_bytes(route: &String) -> usize {
    route.capacity()
}

// A bounded cache weighs its entries itself: element functions do not apply.
#[track_growth]
#[derive(Default)]
struct Router {
    #[scoped_cache(max = 100)]
    #[heap_size(value = route_bytes)]
    routes: HashMap<u64, String>,
}

fn main() {}
