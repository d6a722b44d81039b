//! `#[derive(Clone)]` on a generic `#[track_growth]` struct.
//!
//! std's derive bounds each type parameter by `Clone` alone, while a tracked field is
//! `Clone` only where its collection implements `HeapSize` too (the clone is measured): the
//! user would have to write `K: HeapSize` on the struct. Such a struct gets its `Clone`
//! from here instead, bounded by the types of its fields as rewritten, so that
//! `Registry<u64, String>` is `Clone` exactly when its fields are. (`Default` needs no such
//! help: an empty tracked field is `Default` without `HeapSize`.)

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Data, DeriveInput, Path, Token, parse_quote};

use crate::attr;
use crate::generics::mentions_param;

/// Takes `Clone` out of the derives of `item`, if it has type parameters; whether it did.
/// A derive list left empty goes.
pub(crate) fn take_clone(item: &mut DeriveInput) -> bool {
    let mut taken = false;
    if item.generics.type_params().next().is_none() {
        return taken;
    }
    item.attrs.retain_mut(|attr| {
        if !attr.path().is_ident("derive") {
            return true;
        }
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            return true;
        };
        let kept: Punctuated<Path, Token![,]> = paths
            .into_iter()
            .filter(|path| {
                let clone = path.segments.last().is_some_and(|s| s.ident == "Clone");
                taken |= clone;
                !clone
            })
            .collect();
        if kept.is_empty() {
            return false;
        }
        *attr = parse_quote!(#[derive(#kept)]);
        true
    });
    taken
}

/// The `Clone` impl of `item`, its fields as rewritten.
pub(crate) fn impl_clone(item: &DeriveInput) -> TokenStream {
    let Data::Struct(data) = &item.data else {
        return TokenStream::new();
    };
    let ident = &item.ident;
    let (impl_generics, ty_generics, _) = item.generics.split_for_impl();
    let mut generics = item.generics.clone();
    let mut clones = Vec::new();
    for (at, field) in data.fields.iter().enumerate() {
        let member: syn::Member = match &field.ident {
            Some(ident) => ident.clone().into(),
            None => at.into(),
        };
        let ty = &field.ty;
        let cfgs = attr::cfgs(&field.attrs);
        // A field's type bounds the impl where it names a parameter; one compiled out by
        // `cfg` cannot be named.
        if cfgs.is_empty() && mentions_param(ty, &item.generics) {
            generics
                .make_where_clause()
                .predicates
                .push(parse_quote!(#ty: ::core::clone::Clone));
        }
        clones.push(quote!(#(#cfgs)* #member: ::core::clone::Clone::clone(&self.#member)));
    }
    let where_clause = &generics.where_clause;
    // `track_caller`: a tracked field's clone is registered where `clone` is called.
    quote! {
        #[automatically_derived]
        impl #impl_generics ::core::clone::Clone for #ident #ty_generics #where_clause {
            #[inline]
            #[track_caller]
            fn clone(&self) -> Self {
                Self { #(#clones),* }
            }
        }
    }
}
