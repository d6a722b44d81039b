//! The `impl HeapSize` both macros write: one that measures, or, beside errors, one that only
//! has to exist.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, Generics, Ident};

/// `impl HeapSize for ident` whose `heap_usage_in` is `body`, which reads `self` and the
/// ongoing measurement, `__leakguard_m`, and gives a `HeapUsage`: `heap_size` and
/// `heap_size_in` take its bytes.
///
/// Every method is `#[inline]`: a crate that never measures the type then compiles neither,
/// where a non-generic impl's methods are otherwise compiled whether called or not (a
/// fifth of the optimized build of a crate of tracked structs).
pub(crate) fn measured(
    ident: &Ident,
    generics: &Generics,
    body: TokenStream,
    footprint: Option<TokenStream>,
) -> TokenStream {
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let footprint = footprint.map(|footprint| {
        quote! {
            #[inline]
            fn footprint(&self) -> ::core::option::Option<::leakguard::Footprint> {
                #footprint
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::leakguard::HeapSize for #ident #ty_generics #where_clause {
            #[inline]
            fn heap_size(&self) -> ::core::primitive::usize {
                ::leakguard::__private::heap_size_of(self)
            }

            #[inline]
            fn heap_size_in(&self, __leakguard_m: &mut ::leakguard::__private::Measurement) -> ::core::primitive::usize {
                ::leakguard::__private::HeapSize::heap_usage_in(self, __leakguard_m).bytes
            }

            #[inline]
            fn heap_usage_in(&self, __leakguard_m: &mut ::leakguard::__private::Measurement) -> ::leakguard::__private::HeapUsage {
                #body
            }

            #footprint
        }
    }
}

/// The impl emitted beside the errors about `item`. Code that needs `item` to implement
/// `HeapSize`, like another tracked struct's `Vec<Item>` field, still compiles, so the errors
/// come alone instead of followed by "does not implement `HeapSize`". It never runs: the
/// build fails on the errors.
pub(crate) fn fallback(item: &DeriveInput) -> TokenStream {
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::leakguard::HeapSize for #ident #ty_generics #where_clause {
            fn heap_size(&self) -> ::core::primitive::usize {
                ::core::unreachable!()
            }
        }
    }
}
