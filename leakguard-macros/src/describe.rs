//! The `FieldMeta` every tracked collection is described by: a struct's field, a static or
//! a local.

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::Budget;

/// What a `FieldMeta` says about one collection.
pub(crate) struct Description<'a> {
    /// As events and reports name it: `Type.field`, `STATIC`, `handle.scratch`.
    pub(crate) name: &'a str,
    pub(crate) type_name: &'a str,
    pub(crate) field: &'a str,
    pub(crate) budget: crate::attr::Budget,
    /// `#[scoped_cache]`: the bound in entries, the TTL in nanoseconds and the bound in
    /// bytes, each 0 for none.
    pub(crate) cache: Option<(usize, u64, usize)>,
    /// Belongs to the scope it is created in.
    pub(crate) scoped: bool,
    /// Process-wide, as a `static` is: never counted as made inside a test check.
    pub(crate) global: bool,
}

impl Description<'_> {
    /// The expression of the `FieldMeta`, located where the macro was invoked.
    pub(crate) fn to_tokens(&self) -> TokenStream {
        let Description {
            name,
            type_name,
            field,
            budget: Budget { len, bytes },
            cache,
            scoped,
            global,
        } = self;
        let len = len.map(|n| quote!(.len(#n)));
        let bytes = bytes.map(|n| quote!(.bytes(#n)));
        let cache = cache.map(|(max, ttl, bytes)| {
            let bytes = (bytes > 0).then(|| quote!(.cache_bytes(#bytes)));
            quote!(.cache(#max, #ttl) #bytes)
        });
        let scoped = scoped.then(|| quote!(.scoped()));
        let global = global.then(|| quote!(.global()));
        quote! {
            ::leakguard::__private::FieldMeta::new(
                #name,
                #type_name,
                #field,
                ::core::module_path!(),
                (::core::file!(), ::core::line!(), ::core::column!()),
            )
                #len #bytes #cache #scoped #global
        }
    }
}
