//! `#[derive(Clone)]` on a generic `#[track_growth]` struct.
//!
//! std's derive bounds each type parameter by `Clone` alone, while a tracked field is
//! `Clone` only where its collection implements `HeapSize` too (the clone is measured): the
//! user would have to write `K: HeapSize` on the struct. Such a struct gets its `Clone`
//! from here instead, bounded by the types of its fields as rewritten, so that
//! `Registry<u64, String>` is `Clone` exactly when its fields are. (`Default` needs no such
//! help: an empty tracked field is `Default` without `HeapSize`.)

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Path, Token, parse_quote};

use crate::attr;
use crate::generics::mentions_param;

/// Takes `Clone` out of the derives of `item`, if it has type parameters; whether it did.
/// A derive list left empty goes.
pub(crate) fn take_clone(item: &mut DeriveInput) -> bool {
    if !generic(item) {
        return false;
    }
    take(item, "Clone").is_some()
}

/// Whether `item` has type parameters, which std's derives bound.
pub(crate) fn generic(item: &DeriveInput) -> bool {
    item.generics.type_params().next().is_some()
}

/// Takes the derive `name` out of the derives of `item`; where it was written, if it was. A
/// derive list left empty goes.
pub(crate) fn take(item: &mut DeriveInput, name: &str) -> Option<Span> {
    let mut taken = None;
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
                let this = path.segments.last().filter(|s| s.ident == name);
                if let Some(segment) = this {
                    taken = Some(segment.ident.span());
                }
                this.is_none()
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

/// The fields of a struct without type parameters, as its `Default` and `Clone` build them:
/// a tracked field as a literal `Tracked { .. }` around its `Accounted<C>`, whose functions
/// are compiled once per collection type, instead of through `Tracked<C, Self, N>`'s own
/// `Default` and `Clone`, which would be compiled once per field.
#[derive(Default)]
pub(crate) struct Literals {
    /// Each field's `cfg`s, its member, and its place among the tracked fields if it is
    /// built as a literal.
    fields: Vec<(Vec<syn::Attribute>, syn::Member, Option<usize>)>,
}

impl Literals {
    /// The next field; `position` is its place among the tracked fields, if it is built as
    /// a literal.
    pub(crate) fn field(&mut self, field: &crate::ast::Field<'_>, position: Option<usize>) {
        let cfgs = attr::cfgs(&field.original.attrs)
            .into_iter()
            .cloned()
            .collect();
        self.fields.push((cfgs, field.member.clone(), position));
    }

    /// `impl Default for` the struct, as `derive(Default)` writes it.
    pub(crate) fn impl_default(&self, item: &DeriveInput) -> TokenStream {
        // Short paths (`__lg` is imported in the function): the macro itself runs
        // unoptimized in a debug build, and these are most of what it writes for a field.
        let defaults = self.fields.iter().map(|(cfgs, member, position)| match position {
            Some(position) => {
                let position = proc_macro2::Literal::usize_unsuffixed(*position);
                quote! {
                    #(#cfgs)* #member: __lg::Tracked {
                        accounted: __lg::__empty_field(__lg::registered_meta::<Self>(#position)),
                        owner: __lg::PhantomData,
                    }
                }
            }
            // Spanned by the field, so that a type without `Default` is reported there, as
            // std's derive does.
            None => quote_spanned! {member.span()=>
                #(#cfgs)* #member: ::core::default::Default::default()
            },
        });
        let ident = &item.ident;
        let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
        quote! {
            #[automatically_derived]
            impl #impl_generics ::core::default::Default for #ident #ty_generics #where_clause {
                #[inline]
                fn default() -> Self {
                    use ::leakguard::__private as __lg;
                    Self { #(#defaults),* }
                }
            }
        }
    }

    /// `impl Clone for` the struct. Not `track_caller`, as std's derive is not: a tracked
    /// field's clone names the line of `derive(Clone)`, `at`.
    pub(crate) fn impl_clone(&self, item: &DeriveInput, at: Span) -> TokenStream {
        let clones = self
            .fields
            .iter()
            .map(|(cfgs, member, position)| match position {
                Some(_) => {
                    let clone =
                        quote_spanned!(at=> ::core::clone::Clone::clone(&self.#member.accounted));
                    quote! {
                        #(#cfgs)* #member: __lg::Tracked {
                            accounted: #clone,
                            owner: __lg::PhantomData,
                        }
                    }
                }
                None => quote_spanned! {member.span()=>
                    #(#cfgs)* #member: ::core::clone::Clone::clone(&self.#member)
                },
            });
        let ident = &item.ident;
        let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
        quote! {
            #[automatically_derived]
            impl #impl_generics ::core::clone::Clone for #ident #ty_generics #where_clause {
                #[inline]
                fn clone(&self) -> Self {
                    use ::leakguard::__private as __lg;
                    Self { #(#clones),* }
                }
            }
        }
    }
}
