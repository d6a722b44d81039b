//! `#[derive(HeapSize)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, ExprPath, Fields, Lit, Meta, Type};

use crate::errors::Errors;
use crate::generics::with_heap_size_bounds;
use crate::span::last_span;
use crate::symbol::{HEAP_SIZE, SKIP, WITH};

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let body = body(&input, &mut errors);
    let measured = measured_types(&input);
    let generics = with_heap_size_bounds(&input.generics, &measured);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let ident = &input.ident;
    match errors.into_compile_errors() {
        // The impl still exists, so that the errors come alone.
        Some(errors) => {
            let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
            quote! {
                #errors
                #[automatically_derived]
                impl #impl_generics ::leakguard::HeapSize for #ident #ty_generics #where_clause {
                    fn heap_size(&self) -> ::core::primitive::usize {
                        ::core::unreachable!()
                    }
                }
            }
        }
        None => quote! {
            #[automatically_derived]
            impl #impl_generics ::leakguard::HeapSize for #ident #ty_generics #where_clause {
                fn heap_size(&self) -> ::core::primitive::usize {
                    ::leakguard::__private::HeapSize::heap_size_in(self, &mut ::leakguard::__private::Measurement::new())
                }

                fn heap_size_in(&self, __leakguard_m: &mut ::leakguard::__private::Measurement) -> ::core::primitive::usize {
                    #body
                }
            }
        },
    }
}

/// How one field is measured.
enum How {
    /// With its own `HeapSize`.
    Measure,
    /// `#[heap_size(skip)]`: it owns nothing worth counting.
    Skip,
    /// `#[heap_size(with = path)]`: by `path(&field)`.
    With(ExprPath),
}

fn how(attrs: &[Attribute], errors: &mut Errors) -> How {
    let mut how = None::<(How, &Attribute)>;
    for attr in attrs.iter().filter(|a| a.path() == HEAP_SIZE) {
        if how.is_some() {
            errors.at(attr.path(), "duplicate `#[heap_size]` attribute");
            continue;
        }
        let parsed = attr.parse_args_with(|input: syn::parse::ParseStream<'_>| {
            let meta: Meta = input.parse()?;
            if !input.is_empty() {
                return Err(
                    input.error("`#[heap_size]` takes one argument: `skip` or `with = path`")
                );
            }
            Ok(meta)
        });
        let meta = match parsed {
            Ok(meta) => meta,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        match &meta {
            Meta::Path(path) if path == SKIP => how = Some((How::Skip, attr)),
            Meta::NameValue(nv) if nv.path == WITH => match &nv.value {
                Expr::Path(path) => how = Some((How::With(path.clone()), attr)),
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => match text.parse::<ExprPath>() {
                    Ok(path) => how = Some((How::With(path), attr)),
                    Err(_) => errors.at(
                        text,
                        "`with` takes the path of a function `fn(&T) -> usize`",
                    ),
                },
                other => errors.at(
                    other,
                    "`with` takes the path of a function `fn(&T) -> usize`",
                ),
            },
            other => errors.at(
                other.path(),
                "unknown `heap_size` argument; expected `skip` or `with = path`",
            ),
        }
    }
    how.map_or(How::Measure, |(how, _)| how)
}

/// The type of every field measured with its own `HeapSize`, for the generic bounds.
fn measured_types(input: &DeriveInput) -> Vec<&Type> {
    let fields: Vec<&syn::Field> = match &input.data {
        Data::Struct(data) => data.fields.iter().collect(),
        Data::Enum(data) => data.variants.iter().flat_map(|v| v.fields.iter()).collect(),
        Data::Union(_) => Vec::new(),
    };
    fields
        .into_iter()
        .filter(|f| f.attrs.iter().all(|a| a.path() != HEAP_SIZE))
        .filter(|f| !is_phantom(&f.ty))
        .map(|f| &f.ty)
        .collect()
}

fn is_phantom(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "PhantomData"))
}

/// The sum of the measured fields bound by a pattern over `fields`, and that pattern.
fn fields_sum(fields: &Fields, errors: &mut Errors) -> (TokenStream, TokenStream) {
    let mut terms = Vec::new();
    let mut bindings = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let binding = format_ident!("__leakguard_{}", i);
        let member = match &field.ident {
            Some(ident) => quote!(#ident),
            None => {
                let index = syn::Index::from(i);
                quote!(#index)
            }
        };
        let how = how(&field.attrs, errors);
        let term = match how {
            // `&*binding` spans the field type, so that a type without `HeapSize` is
            // reported there rather than at the derive.
            How::Measure => {
                let deref = quote_spanned!(field.ty.span()=> &*);
                let mut binding = binding.clone();
                binding.set_span(last_span(&field.ty));
                quote!(::leakguard::__private::HeapSize::heap_size_in(#deref #binding, __leakguard_m))
            }
            How::Skip => continue,
            How::With(path) => quote_spanned! {path.span()=>
                #path(#binding)
            },
        };
        bindings.push(quote!(#member: #binding));
        terms.push(term);
    }
    let pattern = quote!({ #(#bindings,)* .. });
    (quote!(0 #(+ #terms)*), pattern)
}

fn body(input: &DeriveInput, errors: &mut Errors) -> TokenStream {
    match &input.data {
        Data::Struct(data) => {
            let (sum, pattern) = fields_sum(&data.fields, errors);
            quote! {
                let Self #pattern = self;
                #sum
            }
        }
        Data::Enum(data) => {
            let arms: Vec<_> = data
                .variants
                .iter()
                .map(|variant| {
                    let ident = &variant.ident;
                    let (sum, pattern) = fields_sum(&variant.fields, errors);
                    quote!(Self::#ident #pattern => #sum,)
                })
                .collect();
            quote! {
                match self {
                    #(#arms)*
                }
            }
        }
        Data::Union(data) => {
            errors.at(
                data.union_token,
                "`HeapSize` cannot be derived for a union: which field is live is unknown",
            );
            quote!(0)
        }
    }
}
