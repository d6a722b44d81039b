//! Which generic parameters a field's type names, and the `HeapSize` bounds that follow.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Generics, parse_quote};

/// `generics` with `P: HeapSize` for each type parameter `P` that a measured type mentions.
pub(crate) fn with_heap_size_bounds(generics: &Generics, measured: &[&syn::Type]) -> Generics {
    let mut generics = generics.clone();
    let params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    for param in params {
        let used = measured
            .iter()
            .any(|ty| mentions(ty.to_token_stream(), &|i| i == &param));
        if used {
            generics
                .make_where_clause()
                .predicates
                .push(parse_quote!(#param: ::leakguard::HeapSize));
        }
    }
    generics
}

/// Whether `ty` names any type parameter of `generics`.
pub(crate) fn mentions_param(ty: &syn::Type, generics: &Generics) -> bool {
    let params: Vec<_> = generics.type_params().map(|p| &p.ident).collect();
    mentions(ty.to_token_stream(), &|i| params.contains(&i))
}

/// Whether any identifier in `tokens`, at any depth, satisfies `is_param`.
///
/// A lifetime `'a` arrives as a `'` and the identifier `a`, so it is matched by `a`.
fn mentions(tokens: TokenStream, is_param: &dyn Fn(&syn::Ident) -> bool) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => is_param(&ident),
        TokenTree::Group(group) => mentions(group.stream(), is_param),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}
