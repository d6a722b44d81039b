//! Procedural macros for [leakguard](https://docs.rs/leakguard). Use them through the
//! `leakguard` crate, which re-exports them with their documentation.

#![warn(unreachable_pub)]

mod ast;
mod attr;
mod derives;
mod describe;
mod duration;
mod each;
mod errors;
mod field_methods;
#[cfg(test)]
mod fuzz;
mod generics;
mod heap_size;
mod how;
mod impl_heap_size;
mod size;
mod span;
mod symbol;
mod track_growth;
mod track_static;
mod tracked_local;
mod valid;

use proc_macro::TokenStream;

// Documented where `leakguard` re-exports it: rustdoc appends these docs to those.
#[proc_macro_attribute]
pub fn track_growth(args: TokenStream, input: TokenStream) -> TokenStream {
    track_growth::expand(args.into(), input.into()).into()
}

// Documented where `leakguard` re-exports it.
#[proc_macro]
pub fn tracked(input: TokenStream) -> TokenStream {
    tracked_local::expand(input.into()).into()
}

// Documented where `leakguard` re-exports it.
#[proc_macro_derive(HeapSize, attributes(heap_size))]
pub fn derive_heap_size(input: TokenStream) -> TokenStream {
    heap_size::derive(input.into()).into()
}

/// Not public API: the methods of leakguard's tracked fields, written once on the code
/// shared by every field of a collection type, with a forwarding shell on the field's type.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn __field_methods(_args: TokenStream, input: TokenStream) -> TokenStream {
    field_methods::expand(input.into()).into()
}
