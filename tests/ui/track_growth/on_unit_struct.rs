use leakguard::track_growth;

#[track_growth]
struct Marker;

fn main() {}
