//! `#[derive(HeapSize)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Type};

use crate::ast::{Measured, MeasuredField, Shape};
use crate::each;
use crate::errors::Errors;
use crate::generics::with_heap_size_bounds;
use crate::how::How;
use crate::impl_heap_size;
use crate::span::last_span;

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let measured = Measured::from_syn(&input, &mut errors);
    for field in measured.iter().flat_map(Measured::fields) {
        if let How::Each(functions) = &field.how {
            if let Err(error) = each::elements(&field.original.ty, functions) {
                errors.push(error);
            }
        }
    }
    match (measured, errors.into_compile_errors()) {
        (Some(measured), None) => generate(&measured),
        (_, errors) => {
            let fallback = impl_heap_size::fallback(&input);
            quote!(#errors #fallback)
        }
    }
}

fn generate(measured: &Measured<'_>) -> TokenStream {
    let DeriveInput {
        ident, generics, ..
    } = measured.original;
    // `#[heap_size(each = ..)]`: the type says how a collection's elements are measured.
    let element_impls = measured.fields().into_iter().filter_map(|field| {
        let How::Each(functions) = &field.how else {
            return None;
        };
        let elements = each::elements(&field.original.ty, functions).ok()?;
        Some(each::impl_measure_entries(
            ident, generics, field.at, &elements, functions,
        ))
    });
    let element_impls: TokenStream = element_impls.collect();
    let generics = with_heap_size_bounds(generics, &measured_types(measured));
    let heap_size = impl_heap_size::measured(
        ident,
        &generics,
        body(measured),
        newtype_footprint(measured),
    );
    quote!(#heap_size #element_impls)
}

/// A struct of one measured field has that field's footprint: a newtype over a map is a
/// map, with its length and capacity, to budgets and the hoarded-capacity detector.
fn newtype_footprint(measured: &Measured<'_>) -> Option<TokenStream> {
    let Shape::Struct(fields) = &measured.shape else {
        return None;
    };
    let [field] = fields.as_slice() else {
        return None;
    };
    if !matches!(field.how, How::Measure) {
        return None;
    }
    let member = match &field.original.ident {
        Some(ident) => quote!(#ident),
        None => quote!(0),
    };
    Some(quote! {
        ::leakguard::__private::HeapSize::footprint(&self.#member)
    })
}

/// The type of every field measured with its own `HeapSize`, for the generic bounds.
fn measured_types<'a>(measured: &Measured<'a>) -> Vec<&'a Type> {
    measured
        .fields()
        .into_iter()
        .filter(|field| matches!(field.how, How::Measure))
        .map(|field| &field.original.ty)
        .filter(|ty| !is_phantom(ty))
        .collect()
}

fn is_phantom(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "PhantomData"))
}

/// The sum of the measured fields bound by a pattern over `fields`, and that pattern.
fn fields_sum(fields: &[MeasuredField<'_>]) -> (TokenStream, TokenStream) {
    let mut terms = Vec::new();
    let mut bindings = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let binding = format_ident!("__leakguard_{}", i);
        let member = match &field.original.ident {
            Some(ident) => quote!(#ident),
            None => {
                let index = syn::Index::from(i);
                quote!(#index)
            }
        };
        let term = match &field.how {
            // `&*binding` spans the field type, so that a type without `HeapSize` is
            // reported there rather than at the derive.
            How::Measure => {
                let ty = &field.original.ty;
                let deref = quote_spanned!(ty.span()=> &*);
                let mut binding = binding.clone();
                binding.set_span(last_span(ty));
                quote!(::leakguard::__private::HeapSize::heap_usage_in(#deref #binding, __leakguard_m))
            }
            How::Skip => continue,
            How::With(path) => quote_spanned! {path.span()=>
                ::leakguard::__private::HeapUsage::used(#path(#binding))
            },
            How::Each(_) => {
                let measured = each::measured(&field.original.ty, field.at);
                quote! {
                    ::leakguard::__private::HeapSize::heap_usage_in(
                        <#measured>::view(#binding),
                        __leakguard_m,
                    )
                }
            }
        };
        bindings.push(quote!(#member: #binding));
        terms.push(term);
    }
    let pattern = quote!({ #(#bindings,)* .. });
    (
        quote!(::leakguard::__private::HeapUsage::used(0) #(+ #terms)*),
        pattern,
    )
}

fn body(measured: &Measured<'_>) -> TokenStream {
    match &measured.shape {
        Shape::Struct(fields) => {
            let (sum, pattern) = fields_sum(fields);
            quote! {
                let Self #pattern = self;
                #sum
            }
        }
        Shape::Enum(variants) => {
            let arms = variants.iter().map(|(ident, fields)| {
                let (sum, pattern) = fields_sum(fields);
                quote!(Self::#ident #pattern => #sum,)
            });
            quote! {
                match self {
                    #(#arms)*
                }
            }
        }
    }
}
