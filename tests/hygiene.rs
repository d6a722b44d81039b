//! The generated code names only `::core`, `::std` and `::leakguard` items, so shadowing
//! prelude names or the crate's own name next to an annotated struct changes nothing.

#![allow(dead_code, non_camel_case_types)]

mod shadowed {
    pub struct Option;
    pub struct Result;
    pub struct Vec;
    pub struct Box;
    pub struct String;
    pub struct usize;
    pub struct Measurement;
    pub trait HeapSize {}
    pub fn assert_heap_size() {}
    mod leakguard {}
    mod core {}
    mod std {}

    #[::leakguard::track_growth(len = 3, bytes = "1 KiB")]
    #[derive(Default)]
    pub struct Tracked {
        pub items: ::std::vec::Vec<u8>,
        pub map: ::std::collections::HashMap<u8, ::std::string::String>,
        #[budget(len = 5)]
        pub name: ::std::string::String,
    }

    #[derive(::leakguard::HeapSize)]
    pub enum Value {
        Text(::std::string::String),
        Bytes { data: ::std::vec::Vec<u8> },
        Empty,
    }
}

#[test]
fn shadowed_names_do_not_reach_the_generated_code() {
    use leakguard::HeapSize;
    let mut t = shadowed::Tracked::default();
    t.items.push(1);
    t.map.insert(1, "one".to_string());
    t.name.push_str("ada");
    assert_eq!(t.items.len(), 1);
    assert!(t.heap_size() > 3);
    assert_eq!(shadowed::Value::Text("abc".to_string()).heap_size(), 3);
    assert_eq!(shadowed::Value::Bytes { data: vec![0; 8] }.heap_size(), 8);
    assert_eq!(shadowed::Value::Empty.heap_size(), 0);
}
