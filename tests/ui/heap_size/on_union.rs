use leakguard::HeapSize;

#[derive(HeapSize)]
union Bits {
    int: u32,
    float: f32,
}

fn measure(bits: &Bits) -> usize {
    bits.heap_size()
}

fn main() {}
