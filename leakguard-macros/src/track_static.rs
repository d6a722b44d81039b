//! `#[track_growth]` on a `static`: the collection inside its wrappers is tracked as one
//! named after the static, like a process-wide cache.
//!
//! ```text
//! #[track_growth(len = 10_000)]
//! static SESSIONS: LazyLock<Mutex<HashMap<String, Session>>> = LazyLock::new(Default::default);
//! ```
//!
//! `#[heap_size(each = ..)]`, `key = ..` or `value = ..` on the static measures elements
//! without `HeapSize`, as on a field.

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Token, Type, Visibility};

use crate::ast;
use crate::attr::StructArgs;
use crate::describe::Description;
use crate::each;
use crate::errors::Errors;
use crate::how::{self, How};
use crate::span::last_span;
use crate::symbol::{BUDGET, HEAP_SIZE};

/// A `static` item, read without parsing its initializer.
pub(crate) struct Static {
    attrs: Vec<Attribute>,
    vis: Visibility,
    static_token: Token![static],
    mutability: Option<Token![mut]>,
    ident: Ident,
    ty: Type,
    init: TokenStream,
}

/// The `static` in `input`, if it is one.
pub(crate) fn parse(input: &TokenStream) -> Option<syn::Result<Static>> {
    let is_static = crate::span::item_keyword_token(input)
        .is_some_and(|token| matches!(&token, TokenTree::Ident(ident) if ident == "static"));
    is_static.then(|| {
        (|stream: ParseStream<'_>| {
            let attrs = stream.call(Attribute::parse_outer)?;
            let vis = stream.parse()?;
            let static_token = stream.parse()?;
            let mutability = stream.parse()?;
            let ident = stream.parse()?;
            stream.parse::<Token![:]>()?;
            let ty = stream.parse()?;
            stream.parse::<Token![=]>()?;
            let mut init: Vec<TokenTree> = Vec::new();
            while !stream.is_empty() {
                init.push(stream.parse()?);
            }
            // The trailing `;` is the item's, not the initializer's.
            match init.pop() {
                Some(TokenTree::Punct(semi)) if semi.as_char() == ';' => {}
                _ => return Err(stream.error("expected `;` after the static's initializer")),
            }
            Ok(Static {
                attrs,
                vis,
                static_token,
                mutability,
                ident,
                ty,
                init: init.into_iter().collect(),
            })
        })
        .parse2(input.clone())
    })
}

pub(crate) fn expand(args: StructArgs, item: Static, mut errors: Errors) -> TokenStream {
    let Static {
        attrs,
        vis,
        static_token,
        mutability,
        ident,
        ty,
        init,
    } = &item;
    if let Some(mutability) = mutability {
        errors.at(
            mutability,
            "#[track_growth] on a `static mut`: every access to it is `unsafe` and unsynchronized; declare a `static` with a `Mutex` or `RwLock` around the collection",
        );
    }
    if let Some(scoped) = &args.in_scope {
        errors.at(
            scoped,
            "a static lives as long as the process: it belongs to no scope; remove `scoped`",
        );
    }
    crate::valid::check_item_budget(attrs, crate::valid::Item::Static, &mut errors);
    let inner = ast::innermost(ty);
    let functions = match how::how(attrs, &mut errors) {
        How::Measure => None,
        How::Each(functions) => match each::elements(inner, &functions) {
            Ok(elements) => Some((functions, elements)),
            Err(error) => {
                errors.push(error);
                None
            }
        },
        How::Skip | How::With(_) => {
            let attr = attrs.iter().find(|a| a.path() == HEAP_SIZE);
            errors.at(
                attr,
                "on a static, `#[heap_size]` names element functions: `each = path`, or `key = path` / `value = path` for a map",
            );
            None
        }
    };
    // `#[heap_size]` is read here, a `#[budget]` reported; the static keeps the others.
    let attrs: Vec<&Attribute> = attrs
        .iter()
        .filter(|a| a.path() != HEAP_SIZE && a.path() != BUDGET)
        .collect();
    if !ast::is_std_collection(inner) {
        errors.at(
            inner,
            format!(
                "#[track_growth] on a static whose type holds no collection leakguard tracks: `{}`; the type inside `LazyLock`, `Mutex`, `RwLock` and the like must be a std collection (`HashMap`, `Vec`, ...); for a bounded cache, name it with `ScopedCache::builder().name(..)`",
                quote!(#inner).to_string().replace(' ', "")
            ),
        );
    }
    if let Some(errors) = errors.into_compile_errors() {
        return quote! {
            #(#attrs)* #vis #static_token #mutability #ident: #ty = #init;
            #errors
        };
    }

    let name = ident.to_string();
    let marker = format_ident!("__LeakguardStatic_{}", ident);
    let end = quote_spanned!(last_span(inner)=> >);
    let (collection, element_impl) = match &functions {
        Some((functions, elements)) => {
            let collection = quote_spanned! {inner.span()=>
                ::leakguard::Measured<#inner, #marker, 0>
            };
            let generics = syn::Generics::default();
            let element_impl =
                each::impl_measure_entries(&marker, &generics, 0, elements, functions);
            (collection, Some(element_impl))
        }
        None => (quote!(#inner), None),
    };
    let tracked: Type = syn::parse_quote_spanned! {inner.span()=>
        ::leakguard::__private::Tracked<#collection, #marker, 0 #end
    };
    let ty = ast::replace_innermost(ty, tracked);
    let meta = Description {
        name: &name,
        type_name: &name,
        field: "",
        budget: args.budget,
        cache: None,
        scoped: false,
        global: true,
    }
    .to_tokens();
    quote! {
        /// Names the collection of the static of the same name in leakguard's reports.
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;

        const _: () = {
            #[automatically_derived]
            impl ::leakguard::__private::TrackedStruct for #marker {
                const FIELDS: &'static [::leakguard::__private::FieldMeta] = &[#meta];
            }

            #element_impl
        };

        // The written type was the user's to judge; the layers added to it are ours.
        #[allow(clippy::type_complexity)]
        #(#attrs)* #vis #static_token #ident: #ty = #init;
    }
}
