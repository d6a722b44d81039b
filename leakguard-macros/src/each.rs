//! `#[heap_size(each = path)]`, `key = path`, `value = path`: a collection field whose
//! elements are measured by functions, for element types without `HeapSize` that the
//! orphan rule keeps the user from implementing it for.
//!
//! The owner implements `MeasureEntries<J>` for the field at position `J`, naming the
//! element types and how to measure each, and the field is measured as
//! `leakguard::Measured<C, Self, J>`.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ExprPath, GenericArgument, Generics, Ident, PathArguments, Type};

use crate::how::Each;

/// The collections whose elements `each` measures, and the maps whose keys and values
/// `key` and `value` measure.
const SEQUENCES: &[&str] = &[
    "Vec",
    "VecDeque",
    "BinaryHeap",
    "LinkedList",
    "HashSet",
    "BTreeSet",
];
const MAPS: &[&str] = &["HashMap", "BTreeMap"];

/// The element types of a field's collection, as written.
pub(crate) struct Elements<'a> {
    key: &'a Type,
    /// `None` for a sequence or a set.
    value: Option<&'a Type>,
}

/// The element types of `collection` that `each` names functions for, or the error that
/// says why it cannot: the collection is not a std one written out, or the functions do
/// not match its kind.
pub(crate) fn elements<'a>(collection: &'a Type, each: &Each) -> syn::Result<Elements<'a>> {
    let unsupported = || {
        syn::Error::new_spanned(
            collection,
            "element functions measure a std collection written out: `each = path` on `Vec<T>`, \
             `VecDeque<T>`, `BinaryHeap<T>`, `LinkedList<T>`, `HashSet<T>` or `BTreeSet<T>`, \
             `key = path` and `value = path` on `HashMap<K, V>` or `BTreeMap<K, V>`; \
             measure any other type whole with `#[heap_size(with = path)]`",
        )
    };
    let Type::Path(path) = collection else {
        return Err(unsupported());
    };
    let Some(segment) = path.path.segments.last().filter(|_| path.qself.is_none()) else {
        return Err(unsupported());
    };
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return Err(unsupported());
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let name = segment.ident.to_string();
    if SEQUENCES.contains(&name.as_str()) {
        let key = types.next().ok_or_else(unsupported)?;
        if let Some(path) = each.key.as_ref().or(each.value.as_ref()) {
            return Err(syn::Error::new_spanned(
                path,
                format!("`{name}` has elements, not keys and values: write `each = path`"),
            ));
        }
        Ok(Elements { key, value: None })
    } else if MAPS.contains(&name.as_str()) {
        let (Some(key), Some(value)) = (types.next(), types.next()) else {
            return Err(unsupported());
        };
        if let Some(path) = &each.each {
            return Err(syn::Error::new_spanned(
                path,
                format!("`{name}` has keys and values: write `key = path`, `value = path` or both"),
            ));
        }
        Ok(Elements {
            key,
            value: Some(value),
        })
    } else {
        Err(unsupported())
    }
}

/// `Measured<collection, Self, J>`: the collection as its owner measures it.
pub(crate) fn measured(collection: &Type, position: usize) -> TokenStream {
    let position = Literal::usize_unsuffixed(position);
    quote_spanned! {collection.span()=>
        ::leakguard::Measured<#collection, Self, #position>
    }
}

/// The owner's `MeasureEntries<J>` for the field at `position`: each element type measured
/// by the function given for it, or else by its own `HeapSize`.
pub(crate) fn impl_measure_entries(
    owner: &Ident,
    generics: &Generics,
    position: usize,
    elements: &Elements<'_>,
    each: &Each,
) -> TokenStream {
    let key_ty = elements.key;
    let key_fn = each.each.as_ref().or(each.key.as_ref());
    // An element type measured by its own `HeapSize` that mentions a type parameter must
    // have it; a concrete one without it is reported once, at its type, by the body.
    let mut generics = generics.clone();
    let value_fn = elements.value.map(|ty| (ty, each.value.as_ref()));
    let own = std::iter::once((key_ty, key_fn)).chain(value_fn);
    let generic = |ty: &Type| {
        let params: Vec<_> = generics
            .type_params()
            .map(|p| p.ident.to_string())
            .collect();
        mentions(ty.to_token_stream(), &params)
    };
    let own: Vec<_> = own
        .filter(|(ty, function)| function.is_none() && generic(ty))
        .collect();
    for (ty, _) in own {
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote_spanned!(ty.span()=> #ty: ::leakguard::__private::HeapSize));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let position = Literal::usize_unsuffixed(position);
    let key = measure(key_ty, key_fn, quote!(key));
    let (value_ty, value) = match elements.value {
        Some(ty) => (
            ty.to_token_stream(),
            measure(ty, each.value.as_ref(), quote!(value)),
        ),
        None => (
            quote!(()),
            quote! {
                let _ = (value, m);
                ::leakguard::__private::HeapUsage::used(0)
            },
        ),
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics ::leakguard::__private::MeasureEntries<#position>
            for #owner #ty_generics #where_clause
        {
            type Key = #key_ty;
            type Value = #value_ty;

            #[inline]
            fn key(
                key: &Self::Key,
                m: &mut ::leakguard::__private::Measurement,
            ) -> ::leakguard::__private::HeapUsage {
                #key
            }

            #[inline]
            fn value(
                value: &Self::Value,
                m: &mut ::leakguard::__private::Measurement,
            ) -> ::leakguard::__private::HeapUsage {
                #value
            }
        }
    }
}

/// How one element, bound to `binding`, is measured: by `function`, or by the `HeapSize`
/// of `ty`, spanned to the type so that a type without it is reported there.
fn measure(ty: &Type, function: Option<&ExprPath>, binding: TokenStream) -> TokenStream {
    match function {
        Some(path) => quote_spanned! {path.span()=>
            {
                let _ = &m;
                ::leakguard::__private::HeapUsage::used(#path(#binding))
            }
        },
        None => {
            // Spanned to the type, so that a type without `HeapSize` is reported there.
            let binding = Ident::new(&binding.to_string(), ty.span());
            quote_spanned! {ty.span()=>
                <::leakguard::__private::Own<#ty> as ::leakguard::__private::OwnHeap>::usage(#binding, m)
            }
        }
    }
}

/// Whether `tokens` name one of `params`.
fn mentions(tokens: TokenStream, params: &[String]) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => params.iter().any(|p| ident == p),
        proc_macro2::TokenTree::Group(group) => mentions(group.stream(), params),
        _ => false,
    })
}
