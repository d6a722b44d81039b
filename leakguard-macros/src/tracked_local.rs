//! `tracked!(name, value, ..)`: a collection in a local variable, named, with an optional
//! budget and scope, for code that has no struct to annotate.
//!
//! ```text
//! let mut scratch = leakguard::tracked!("handle.scratch", Vec::<u8>::new(), len = 4096, scoped);
//! ```

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;
use syn::{LitStr, Meta};

use crate::attr;
use crate::describe::Description;
use crate::errors::Errors;
use crate::symbol::TRACKED;

/// The arguments split at the commas outside any group: a comma inside the turbofish of
/// `HashMap::<K, V>::new()` splits too, and [`expand`] joins the value back.
fn split(input: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut parts = vec![Vec::new()];
    for token in input {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == ',' => parts.push(Vec::new()),
            _ => parts.last_mut().expect("never empty").push(token),
        }
    }
    if parts.last().is_some_and(Vec::is_empty) {
        parts.pop();
    }
    parts
}

/// Whether `part` reads as an option, `word` or `word = literal`, rather than as part of
/// the value.
fn is_option(part: &[TokenTree]) -> bool {
    match part {
        [TokenTree::Ident(_)] => true,
        [TokenTree::Ident(_), TokenTree::Punct(eq), ..] => eq.as_char() == '=',
        _ => false,
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut parts = split(input).into_iter();
    let usage = "`tracked!` takes a name, a collection and options: `tracked!(\"handle.scratch\", Vec::new(), len = 4096, scoped)`";
    let Some(name) = parts.next() else {
        return syn::Error::new(proc_macro2::Span::call_site(), usage).to_compile_error();
    };
    let name_tokens: TokenStream = name.into_iter().collect();
    let name = match syn::parse2::<LitStr>(name_tokens.clone()) {
        Ok(name) if name.value().is_empty() => {
            errors.at(&name, "the name of a tracked collection cannot be empty");
            None
        }
        Ok(name) => Some(name.value()),
        Err(_) => {
            errors.at(
                &name_tokens,
                "the first argument of `tracked!` is its name as reports show it, a string literal like \"handle.scratch\"",
            );
            None
        }
    };
    let rest: Vec<Vec<TokenTree>> = parts.collect();
    let value_parts = 1 + rest
        .iter()
        .skip(1)
        .take_while(|part| !is_option(part))
        .count();
    let value: Vec<TokenStream> = rest
        .iter()
        .take(value_parts)
        .map(|part| part.iter().cloned().collect())
        .collect();
    if value.is_empty() || value.iter().all(TokenStream::is_empty) {
        errors.at(&name_tokens, usage);
    }
    let metas: Vec<Meta> = rest
        .iter()
        .skip(value_parts)
        .filter_map(|part| {
            let tokens: TokenStream = part.iter().cloned().collect();
            match syn::parse2::<Meta>(tokens) {
                Ok(meta) => Some(meta),
                Err(error) => {
                    errors.push(error);
                    None
                }
            }
        })
        .collect();
    let args = attr::args_of(TRACKED, metas, &mut errors);
    let value = quote!(#(#value),*);
    if let Some(errors) = errors.into_compile_errors() {
        // The value still compiles, so that its own errors come together with these.
        return quote!({ #errors #value });
    }
    let name = name.expect("an error otherwise");
    let meta = Description {
        name: &name,
        type_name: &name,
        field: "",
        budget: args.budget,
        cache: None,
        scoped: args.in_scope.is_some(),
        global: false,
    }
    .to_tokens();
    quote! {
        {
            #[allow(non_camel_case_types)]
            struct __LeakguardLocal;

            #[automatically_derived]
            impl ::leakguard::__private::TrackedStruct for __LeakguardLocal {
                const FIELDS: &'static [::leakguard::__private::FieldMeta] = &[#meta];
            }

            ::leakguard::__private::Tracked::<_, __LeakguardLocal, 0>::__local(#value)
        }
    }
}
