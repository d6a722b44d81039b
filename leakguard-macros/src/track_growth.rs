//! `#[track_growth]`: rewrite tracked fields, describe them, and implement `HeapSize`.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput};

use crate::ast::{self, CacheKind, Input, Kind};
use crate::attr;
use crate::describe::Description;
use crate::errors::Errors;
use crate::generics::with_heap_size_bounds;
use crate::how::How;
use crate::impl_heap_size;
use crate::span::{item_keyword, last_span};
use crate::symbol::BUDGET;
use crate::{derives, each, track_static, valid};

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = attr::struct_args(args, &mut errors);
    match track_static::parse(&input) {
        Some(Ok(item)) => return track_static::expand(args, item, errors),
        Some(Err(error)) => {
            errors.push(error);
            let errors = errors.into_compile_errors();
            return quote!(#input #errors);
        }
        None => {}
    }
    let item = match syn::parse2::<DeriveInput>(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            errors.push(syn::Error::new(
                item_keyword(&input),
                "#[track_growth] applies to structs and statics",
            ));
            // Not a type, so nothing can need it to implement `HeapSize`.
            let errors = errors.into_compile_errors();
            return quote!(#input #errors);
        }
    };
    valid::check_item_budget(&item.attrs, valid::Item::Struct, &mut errors);
    if let Some(parsed) = Input::from_syn(&item, args, &mut errors) {
        valid::validate(&parsed, &mut errors);
        if !errors.has_any() {
            return generate(&parsed);
        }
    }
    with_errors(&item, errors)
}

/// The item as written, followed by the errors and a `HeapSize` impl. Both still compile, so
/// the errors come alone, even where another struct measures this one.
fn with_errors(item: &DeriveInput, errors: Errors) -> TokenStream {
    let tokens = without_helpers(item);
    let errors = errors.into_compile_errors();
    // A `derive(HeapSize)` left on the item implements it already, fallback or not.
    let fallback = attr::heap_size_derives(&item.attrs)
        .is_empty()
        .then(|| impl_heap_size::fallback(item));
    quote!(#tokens #errors #fallback)
}

/// The item as written, minus the attributes only `#[track_growth]` understands, so that
/// they do not add "cannot find attribute" errors, whatever the item is.
fn without_helpers(input: &DeriveInput) -> TokenStream {
    let mut input = input.clone();
    let fields: Vec<&mut syn::Field> = match &mut input.data {
        Data::Struct(data) => data.fields.iter_mut().collect(),
        Data::Enum(data) => data
            .variants
            .iter_mut()
            .flat_map(|variant| variant.fields.iter_mut())
            .collect(),
        Data::Union(data) => data.fields.named.iter_mut().collect(),
    };
    for field in fields {
        field.attrs.retain(|a| !attr::is_helper(a));
    }
    // Reported by `valid::check_item_budget`.
    input.attrs.retain(|a| a.path() != BUDGET);
    input.into_token_stream()
}

fn generate(input: &Input<'_>) -> TokenStream {
    let DeriveInput {
        ident, generics, ..
    } = input.original;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let type_name = ident.unraw().to_string();

    // The item as written, tracked field types rewritten and helper attributes removed.
    let mut item = input.original.clone();
    let Data::Struct(data) = &mut item.data else {
        unreachable!("`Input` reads structs only")
    };
    let mut fields: Vec<&mut syn::Field> = data.fields.iter_mut().collect();

    let mut metas = Vec::new();
    let mut measures = Vec::new();
    let mut measured_types = Vec::new();
    let mut replaced_types = Vec::new();
    let mut index = 0usize;
    let mut element_impls = Vec::new();
    let mut uses_if_heap_size = false;
    for (field_at, (field, out)) in input.fields.iter().zip(fields.iter_mut()).enumerate() {
        out.attrs.retain(|a| !attr::is_helper(a));
        // `#[heap_size(each = ..)]`: the struct says how the collection's elements are
        // measured, for the field's position; `valid` checked that the types allow it.
        if let How::Each(each) = &field.heap_size {
            if let Ok(elements) = each::elements(ast::innermost(&field.original.ty), each) {
                element_impls.push(each::impl_measure_entries(
                    ident, generics, field_at, &elements, each,
                ));
            }
        }
        let original = field.original;
        let member = &field.member;
        let ty = &original.ty;
        // A field compiled out by `cfg` is measured only where it exists.
        let cfgs = attr::cfgs(&original.attrs);
        if !field.kind.is_tracked() {
            // What the allocator sees of the struct: every field whose type implements
            // `HeapSize` counts, tracked or not, unless `#[heap_size(skip)]` says otherwise.
            let measure = match &field.heap_size {
                How::Skip => continue,
                How::With(path) => quote_spanned! {path.span()=>
                    ::leakguard::__private::HeapUsage::used(#path(&self.#member))
                },
                How::Measure => {
                    uses_if_heap_size = true;
                    quote! {
                        (&::leakguard::__private::IfHeapSize(&self.#member))
                            .__leakguard_heap_usage_in(__leakguard_m)
                    }
                }
                How::Each(_) => {
                    let measured = each::measured(ty, field_at);
                    quote! {
                        ::leakguard::__private::HeapSize::heap_usage_in(
                            <#measured>::view(&self.#member),
                            __leakguard_m,
                        )
                    }
                }
            };
            measures.push(quote! {
                #(#cfgs)*
                {
                    __leakguard_total += #measure;
                }
            });
            continue;
        }
        let position = Literal::usize_unsuffixed(index);
        index += 1;
        let inner = ast::innermost(ty);
        // Spanned from the first to the last token of the collection's type, so that an
        // error about it, like a type without `HeapSize`, underlines all of it.
        let end = quote_spanned!(last_span(inner)=> >);
        // Written as tokens, not parsed back into a `syn::Type`: the type is only printed,
        // and parsing it again was a third of the macro's own time.
        let tracked = |collection: TokenStream| -> syn::Type {
            syn::Type::Verbatim(quote_spanned! {inner.span()=>
                ::leakguard::__private::Tracked<#collection, Self, #position #end
            })
        };
        let tracked = match &field.kind {
            // Concurrent, `&self` access: not a `Tracked`, which needs `&mut` to see growth;
            // the cache accounts for itself.
            Kind::Cache(CacheKind::Shared(args), _) => {
                replaced_types.push(inner);
                let hasher = (args.len() == 2).then(|| quote!(::leakguard::DefaultHashBuilder));
                let args = args.iter().map(ToTokens::to_token_stream).chain(hasher);
                syn::Type::Verbatim(quote_spanned! {inner.span()=>
                    ::leakguard::__private::SharedField<#(#args,)* Self, #position #end
                })
            }
            Kind::Cache(kind, _) => {
                replaced_types.push(inner);
                let (bounded, args) = match kind {
                    CacheKind::Map(args) => (format_ident!("ScopedCache"), args),
                    CacheKind::Set(args) => (format_ident!("ScopedSet"), args),
                    CacheKind::Ring(args) => (format_ident!("ScopedRing"), args),
                    CacheKind::Shared(_) => unreachable!("matched above"),
                };
                tracked(quote_spanned!(inner.span()=> ::leakguard::__private::#bounded<#(#args),*>))
            }
            _ => match &field.heap_size {
                How::Each(_) => tracked(each::measured(inner, field_at)),
                _ => tracked(inner.to_token_stream()),
            },
        };
        let field_ty = ast::replace_innermost(ty, tracked.clone());
        out.ty = field_ty.clone();
        if let How::Each(_) = field.heap_size {
            // The written type was the user's to judge; the layers added to it are ours.
            out.attrs
                .push(syn::parse_quote!(#[allow(clippy::type_complexity)]));
        }

        let name = if field.name.is_empty() {
            type_name.clone()
        } else {
            format!("{type_name}.{}", field.name)
        };
        let cache = match &field.kind {
            Kind::Cache(_, bounds) => Some((
                bounds.max.unwrap_or(0),
                bounds.ttl.unwrap_or(0),
                bounds.max_bytes.unwrap_or(0),
            )),
            _ => None,
        };
        metas.push(
            Description {
                name: &name,
                type_name: &type_name,
                field: &field.name,
                budget: field
                    .attrs
                    .budget
                    .map(|(_, b)| b)
                    .unwrap_or_default()
                    .or(input.args.budget),
                cache,
                scoped: field.in_scope,
                global: false,
            }
            .to_tokens(),
        );

        let measure = match &field.heap_size {
            How::Skip => continue,
            How::With(path) if field.wrapped => quote_spanned! {path.span()=>
                ::leakguard::__private::HeapUsage::used(#path(&self.#member))
            },
            How::With(path) => quote_spanned! {path.span()=>
                ::leakguard::__private::HeapUsage::used(#path(::core::ops::Deref::deref(&self.#member)))
            },
            // A wrapper leakguard has no `HeapSize` for (a lock of a crate whose feature is
            // off) counts nothing here; the collection inside is still tracked and reported.
            How::Measure | How::Each(_) if field.wrapped => {
                uses_if_heap_size = true;
                quote! {
                    (&::leakguard::__private::IfHeapSize(&self.#member))
                        .__leakguard_heap_usage_in(__leakguard_m)
                }
            }
            How::Measure => {
                measured_types.push(ty);
                quote! {
                    <#field_ty as ::leakguard::__private::HeapSize>::heap_usage_in(&self.#member, __leakguard_m)
                }
            }
            // Measured through the struct's own `MeasureEntries`, which needs no bound.
            How::Each(_) => quote! {
                <#field_ty as ::leakguard::__private::HeapSize>::heap_usage_in(&self.#member, __leakguard_m)
            },
        };
        measures.push(quote! {
            #(#cfgs)*
            {
                __leakguard_total += #measure;
            }
        });
    }

    // The types `#[scoped_cache]` replaced still count as used, so that their imports do
    // not turn into warnings.
    let replaced = (!replaced_types.is_empty()).then(|| {
        quote! {
            #[automatically_derived]
            impl #impl_generics #ident #ty_generics #where_clause {
                #[allow(dead_code)]
                fn __leakguard_replaced_types(_: ::core::marker::PhantomData<(#(#replaced_types,)*)>) {}
            }
        }
    });
    // `Clone` of a generic struct, bounded by its fields rather than by a `HeapSize` the
    // user would write.
    let clone = derives::take_clone(&mut item).then(|| derives::impl_clone(&item));
    // Instantiations are told apart by their type arguments; lifetimes do not make one.
    let generic =
        generics.type_params().next().is_some() || generics.const_params().next().is_some();
    let total = format_ident!("__leakguard_total");
    // The traits `IfHeapSize` picks its method from, for the fields measured through it.
    let if_heap_size = uses_if_heap_size.then(|| {
        quote! {
            #[allow(unused_imports)]
            use ::leakguard::__private::{MeasureHeapSize as _, MeasureNothing as _};
        }
    });
    let heap_size = impl_heap_size::measured(
        ident,
        &with_heap_size_bounds(generics, &measured_types),
        quote! {
            #if_heap_size
            let mut #total = ::leakguard::__private::HeapUsage::used(0);
            #(#measures)*
            #total
        },
        None,
    );
    quote! {
        #item

        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::leakguard::__private::TrackedStruct for #ident #ty_generics #where_clause {
                const FIELDS: &'static [::leakguard::__private::FieldMeta] = &[#(#metas),*];
                const GENERIC: bool = #generic;
            }

            #replaced

            #heap_size

            #clone

            #(#element_impls)*
        };
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;
    use syn::parse::{ParseStream, Parser};

    /// The struct as `#[track_growth]` writes it, parsed back, and the tokens after it.
    fn expanded(input: TokenStream) -> (syn::DeriveInput, String) {
        let split = |stream: ParseStream<'_>| {
            let item: syn::DeriveInput = stream.parse()?;
            let rest: TokenStream = stream.parse()?;
            Ok((item, rest.to_string()))
        };
        split
            .parse2(super::expand(quote!(), input))
            .expect("the expansion starts with the struct")
    }

    // The field types are written as tokens, not parsed: they must still read as the types
    // `Tracked<C, Self, N>`, one position per tracked field, wrappers kept around them.
    #[test]
    fn tracked_field_types_parse_as_written() {
        let (item, _) = expanded(quote! {
            struct Inbox {
                messages: Vec<String>,
                #[track(skip)]
                count: u64,
                locked: std::sync::Mutex<HashMap<u64, String>>,
            }
        });
        let syn::Data::Struct(data) = &item.data else {
            panic!("a struct stays a struct");
        };
        // Parsed back from the expansion, so each is a real type, not the tokens written.
        let types: Vec<String> = data
            .fields
            .iter()
            .map(|f| {
                assert!(!matches!(f.ty, syn::Type::Verbatim(_)), "a type syn reads");
                let ty = &f.ty;
                quote!(#ty).to_string()
            })
            .collect();
        let expected: Vec<syn::Type> = vec![
            syn::parse_quote!(::leakguard::__private::Tracked<Vec<String>, Self, 0>),
            syn::parse_quote!(u64),
            syn::parse_quote!(
                std::sync::Mutex<::leakguard::__private::Tracked<HashMap<u64, String>, Self, 1>>
            ),
        ];
        let expected: Vec<String> = expected.iter().map(|t| quote!(#t).to_string()).collect();
        assert_eq!(types, expected);
    }

    // The traits `IfHeapSize` picks from are imported only where a field measures through
    // it: a struct of tracked std collections measures each through its own type.
    #[test]
    fn if_heap_size_traits_only_where_used() {
        let (_, tracked_only) = expanded(quote! {
            struct Inbox {
                messages: Vec<String>,
            }
        });
        assert!(!tracked_only.contains("MeasureHeapSize"), "{tracked_only}");

        let (_, with_other_field) = expanded(quote! {
            struct Inbox {
                messages: Vec<String>,
                meta: Meta,
            }
        });
        assert!(
            with_other_field.contains("MeasureHeapSize as _"),
            "{with_other_field}"
        );
        assert!(
            with_other_field.contains("IfHeapSize (& self . meta)"),
            "{with_other_field}"
        );
    }
}
