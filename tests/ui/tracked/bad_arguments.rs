fn main() {
    let a = leakguard::tracked!("scratch", Vec::<u8>::new(), lenn = 5);
    let b = leakguard::tracked!(scratch, Vec::<u8>::new());
    let c = leakguard::tracked!("", Vec::<u8>::new(), scoped = true, bytes = 12);
    let _ = (a, b, c);
}
