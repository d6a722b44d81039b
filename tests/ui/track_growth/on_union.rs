use leakguard::track_growth;

#[track_growth]
union Bits {
    #[track]
    int: u32,
    float: f32,
}

fn main() {}
