//! `#[__field_methods]`, for leakguard's own use: the methods of a tracked field, written once
//! on `Accounted<C>` (code that depends on the collection alone), and a thin shell for each
//! on `Tracked<C, O, I>` (the field's type, one per field) that forwards to it. The shell
//! carries the documentation and stays public; the body becomes crate-private.
//!
//! ```text
//! #[__field_methods]
//! impl<T: HeapSize> Accounted<Vec<T>> {
//!     /// Appends an element; see [`Vec::push`].
//!     #[track_caller]
//!     pub fn push(&mut self, value: T) { .. }
//! }
//! // also emits:
//! impl<T: HeapSize, O, const I: usize> Tracked<Vec<T>, O, I> {
//!     /// Appends an element; see [`Vec::push`].
//!     #[inline(always)]
//!     #[track_caller]
//!     pub fn push(&mut self, value: T) { self.accounted.push(value) }
//! }
//! ```
//!
//! Trait impls (`impl Extend<T> for Accounted<Vec<T>>`) get a forwarding impl for the field
//! the same way. Only what leakguard writes is supported: methods taking `&mut self` or
//! `&self` and arguments bound to plain names.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, GenericArgument, Generics, Ident, Path, PathArguments, ReturnType, Token, Type,
    Visibility, WhereClause, braced, parenthesized,
};

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Impl>(input) {
        Ok(item) => item.expand(),
        Err(error) => error.to_compile_error(),
    }
}

/// `impl<..> [Trait for] Accounted<C> where .. { methods }`.
struct Impl {
    attrs: Vec<Attribute>,
    generics: Generics,
    trait_: Option<Path>,
    collection: Type,
    methods: Vec<Method>,
    /// Macros that write methods, like `storage_methods!();`: invoked as `name!(body)` in
    /// the impl on `Accounted<C>` and as `name!(shell)` in the field's.
    macros: Vec<Path>,
}

struct Method {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    generics: Generics,
    receiver: TokenStream,
    args: Vec<(Option<Token![mut]>, Ident, Type)>,
    output: ReturnType,
    body: TokenStream,
}

impl Parse for Impl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        input.parse::<Token![impl]>()?;
        let mut generics: Generics = input.parse()?;
        let first: Path = input.parse()?;
        let (trait_, self_ty) = if input.peek(Token![for]) {
            input.parse::<Token![for]>()?;
            (Some(first), input.parse::<Path>()?)
        } else {
            (None, first)
        };
        generics.where_clause = input.parse::<Option<WhereClause>>()?;
        let collection = accounted_collection(&self_ty)?;
        let content;
        braced!(content in input);
        let mut methods = Vec::new();
        let mut macros = Vec::new();
        while !content.is_empty() {
            if content.peek(Ident) && content.peek2(Token![!]) {
                macros.push(content.parse()?);
                content.parse::<Token![!]>()?;
                content.parse::<proc_macro2::Group>()?;
                content.parse::<Token![;]>()?;
            } else {
                methods.push(content.parse()?);
            }
        }
        Ok(Impl {
            attrs,
            generics,
            trait_,
            collection,
            methods,
            macros,
        })
    }
}

/// `C` of `Accounted<C>`.
fn accounted_collection(self_ty: &Path) -> syn::Result<Type> {
    let last = self_ty.segments.last();
    if let Some(segment) = last.filter(|s| s.ident == "Accounted") {
        if let PathArguments::AngleBracketed(args) = &segment.arguments {
            if let Some(GenericArgument::Type(ty)) = args.args.first() {
                return Ok(ty.clone());
            }
        }
    }
    Err(syn::Error::new_spanned(
        self_ty,
        "#[__field_methods] applies to impls on `Accounted<C>`",
    ))
}

impl Parse for Method {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![fn]>()?;
        let name: Ident = input.parse()?;
        let mut generics: Generics = input.parse()?;
        let params;
        parenthesized!(params in input);
        let receiver = receiver(&params)?;
        let mut args = Vec::new();
        while !params.is_empty() {
            params.parse::<Token![,]>()?;
            if params.is_empty() {
                break;
            }
            let mutability = params.parse::<Option<Token![mut]>>()?;
            let arg: Ident = params.parse()?;
            params.parse::<Token![:]>()?;
            args.push((mutability, arg, params.parse()?));
        }
        let output: ReturnType = input.parse()?;
        generics.where_clause = input.parse()?;
        let body: proc_macro2::Group = input.parse()?;
        Ok(Method {
            attrs,
            vis,
            name,
            generics,
            receiver,
            args,
            output,
            body: body.into_token_stream(),
        })
    }
}

/// `&mut self` or `&self`.
fn receiver(params: ParseStream<'_>) -> syn::Result<TokenStream> {
    let and: Token![&] = params.parse()?;
    let mutability: Option<Token![mut]> = params.parse()?;
    let this: Token![self] = params.parse()?;
    Ok(quote!(#and #mutability #this))
}

impl Impl {
    fn expand(&self) -> TokenStream {
        let Impl {
            attrs,
            generics,
            trait_,
            collection,
            methods,
            macros,
        } = self;
        let (impl_generics, _, where_clause) = generics.split_for_impl();
        let bodies = methods.iter().map(|m| m.body(trait_.is_some()));
        let for_trait = trait_.as_ref().map(|t| quote!(#t for));
        let accounted = quote! {
            #(#attrs)*
            impl #impl_generics #for_trait Accounted<#collection> #where_clause {
                #(#macros!(body);)*
                #(#bodies)*
            }
        };

        // The field's impl: the same generics, and the field's owner and position.
        let mut field_generics = generics.clone();
        field_generics
            .params
            .push(syn::parse_quote!(__LeakguardOwner));
        field_generics
            .params
            .push(syn::parse_quote!(const __LEAKGUARD_INDEX: usize));
        let (field_impl_generics, _, field_where) = field_generics.split_for_impl();
        let shells = methods.iter().map(|m| m.shell(trait_.as_ref(), collection));
        quote! {
            #accounted

            #(#attrs)*
            impl #field_impl_generics #for_trait Tracked<#collection, __LeakguardOwner, __LEAKGUARD_INDEX> #field_where {
                #(#macros!(shell);)*
                #(#shells)*
            }
        }
    }
}

fn is_doc(attr: &Attribute) -> bool {
    attr.path().is_ident("doc")
}

impl Method {
    fn signature(&self, pattern_mut: bool) -> TokenStream {
        let Method {
            name,
            generics,
            receiver,
            args,
            output,
            ..
        } = self;
        let (_, _, where_clause) = generics.split_for_impl();
        let params = &generics.params;
        let args = args.iter().map(|(mutability, arg, ty)| {
            let mutability = mutability.filter(|_| pattern_mut);
            quote!(#mutability #arg: #ty)
        });
        quote!(fn #name<#params>(#receiver, #(#args),*) #output #where_clause)
    }

    /// The method on `Accounted<C>`: the body as written, crate-private, undocumented.
    fn body(&self, in_trait: bool) -> TokenStream {
        let attrs = self.attrs.iter().filter(|a| !is_doc(a));
        let vis = if in_trait {
            quote!()
        } else {
            quote!(pub(crate))
        };
        let signature = self.signature(true);
        let body = &self.body;
        quote!(#(#attrs)* #vis #signature #body)
    }

    /// The method on the field: documented as written, forwarding to the body.
    fn shell(&self, trait_: Option<&Path>, collection: &Type) -> TokenStream {
        let attrs = self.attrs.iter().filter(|a| !a.path().is_ident("inline"));
        let vis = &self.vis;
        let signature = self.signature(false);
        let name = &self.name;
        let args = self.args.iter().map(|(_, arg, _)| arg);
        let turbofish = self.generics.type_params().map(|p| &p.ident);
        let accounted = Ident::new("accounted", Span::call_site());
        // The receiver as written, `&mut` or `&`, borrowing the field's `Accounted<C>`.
        let borrow = self
            .receiver
            .clone()
            .into_iter()
            .take_while(|t| t.to_string() != "self");
        let this = quote!(#(#borrow)* self.#accounted);
        let call = match trait_ {
            Some(trait_) => quote! {
                <Accounted<#collection> as #trait_>::#name(#this, #(#args),*)
            },
            None => quote! {
                Accounted::<#collection>::#name::<#(#turbofish),*>(#this, #(#args),*)
            },
        };
        // Always inlined, even in a debug build: a shell is a single call, and one of it for
        // each field is a function the backend would compile a hundred times over.
        quote! {
            #(#attrs)*
            #[inline(always)]
            #vis #signature {
                #call
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    // A field's shell is one call, always inlined, even in a debug build, where a function of
    // its own for every field of every struct is what the backend would compile (issue 23);
    // the body keeps the attributes as written and becomes crate-private.
    #[test]
    fn shells_are_always_inlined_and_forward_to_the_body() {
        let expanded = super::expand(quote! {
            impl<T: HeapSize> Accounted<Vec<T>> {
                /// Appends an element.
                #[inline]
                #[track_caller]
                pub fn push(&mut self, value: T) {
                    self.raw().push(value);
                }
            }
        })
        .to_string();
        let (body, shell) = expanded
            .split_once("impl < T : HeapSize , __LeakguardOwner")
            .expect("a shell impl follows the body's");
        assert!(
            body.contains("# [inline] # [track_caller] pub (crate) fn push"),
            "{body}"
        );
        assert!(shell.contains("# [inline (always)]"), "{shell}");
        assert!(!shell.contains("# [inline]"), "{shell}");
        assert!(shell.contains("# [track_caller]"), "{shell}");
        assert!(
            shell.contains(
                "Accounted :: < Vec < T > > :: push :: < > (& mut self . accounted , value)"
            ),
            "{shell}"
        );
    }
}
