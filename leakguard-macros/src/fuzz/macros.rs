//! Both macros, fed random tokens and almost-structs, answer with code or a clear error.

use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{TokenStream, TokenTree};
use proptest::prelude::*;
use quote::quote;
use syn::DeriveInput;
use syn::parse::{ParseStream, Parser};

use super::config;
use super::items::{almost_struct, struct_args};
use super::tokens::{Tokens, tokens};
use crate::{attr, heap_size, track_growth};

/// Text of the panic payload, for the failure message.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(message), _) => message.to_string(),
        (_, Some(message)) => message.clone(),
        _ => "a panic without a message".to_string(),
    }
}

/// The messages of the `compile_error!` invocations at the top level of `tokens`.
fn compile_errors(tokens: &TokenStream) -> Vec<String> {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees
        .windows(3)
        .filter_map(|window| match window {
            [
                TokenTree::Ident(ident),
                TokenTree::Punct(bang),
                TokenTree::Group(group),
            ] if ident == "compile_error" && bang.as_char() == '!' => {
                Some(syn::parse2::<syn::LitStr>(group.stream()).map_or_else(
                    |_| format!("<not a string: {}>", group.stream()),
                    |lit| lit.value(),
                ))
            }
            _ => None,
        })
        .collect()
}

/// The item `tokens` start with, ignoring whatever follows it.
fn leading_item(tokens: &TokenStream) -> syn::Result<DeriveInput> {
    (|input: ParseStream<'_>| {
        let item: DeriveInput = input.parse()?;
        input.parse::<TokenStream>()?;
        Ok(item)
    })
    .parse2(tokens.clone())
}

fn run<T>(name: &str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        TestCaseError::fail(format!("{name} panicked: {}", panic_message(&*payload)))
    })
}

fn check_errors(output: &TokenStream) -> Result<Vec<String>, TestCaseError> {
    let messages = compile_errors(output);
    for message in &messages {
        prop_assert!(
            !message.trim().is_empty() && !message.starts_with("<not a string"),
            "unclear error {:?} in `{}`",
            message,
            output
        );
    }
    Ok(messages)
}

/// `#[track_growth(args)]` on `input` answers with the item, rewritten or as written, and
/// with errors wherever it is not rewritten. The item implements `HeapSize` either way, once:
/// by the macro, or by a `derive(HeapSize)` left on it.
fn check_track_growth(args: &Tokens, input: &Tokens) -> Result<(), TestCaseError> {
    let output = run("track_growth::expand", || {
        track_growth::expand(args.0.clone(), input.0.clone())
    })?;
    prop_assert!(!output.is_empty());
    let messages = check_errors(&output)?;
    let has_impl = output.to_string().contains(":: HeapSize for");
    match syn::parse2::<DeriveInput>(input.0.clone()) {
        Ok(item) => {
            let derived = !attr::heap_size_derives(&item.attrs).is_empty();
            prop_assert_eq!(has_impl, !derived, "`{}`", output);
            match leading_item(&output) {
                Ok(emitted) => prop_assert_eq!(emitted.ident, item.ident),
                Err(error) => prop_assert!(
                    false,
                    "emitted an item that does not parse ({}): `{}`",
                    error,
                    output
                ),
            }
        }
        Err(_) => prop_assert!(
            !messages.is_empty() && !has_impl,
            "no error for a non-item: `{}`",
            output
        ),
    }
    Ok(())
}

/// `#[derive(HeapSize)]` on `input` answers with an impl, or with an error.
fn check_heap_size(input: &Tokens) -> Result<(), TestCaseError> {
    let output = run("heap_size::derive", || heap_size::derive(input.0.clone()))?;
    prop_assert!(!output.is_empty());
    let messages = check_errors(&output)?;
    let has_impl = output.to_string().contains(":: HeapSize for");
    match syn::parse2::<DeriveInput>(input.0.clone()) {
        Ok(_) => prop_assert!(has_impl, "no impl: `{}`", output),
        Err(_) => prop_assert!(
            !messages.is_empty() && !has_impl,
            "no error for a non-item: `{}`",
            output
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn track_growth_answers_random_tokens(args in tokens(0..6), input in tokens(0..24)) {
        check_track_growth(&args, &input)?;
    }

    #[test]
    fn heap_size_answers_random_tokens(input in tokens(0..24)) {
        check_heap_size(&input)?;
    }
}

proptest! {
    #![proptest_config(config(6_000))]

    #[test]
    fn track_growth_answers_almost_structs(args in struct_args(), input in almost_struct()) {
        check_track_growth(&args, &input)?;
    }

    #[test]
    fn heap_size_answers_almost_structs(input in almost_struct()) {
        check_heap_size(&input)?;
    }
}

/// One syntax error inside an attribute is one error, not also a missing limit or bound.
#[test]
fn syntax_error_in_field_attribute_is_reported_once() {
    for attr in [
        quote!(#[budget(len: 100)]),
        quote!(#[budget(bytes "64 KiB")]),
        quote!(#[scoped_cache(max: 100)]),
    ] {
        let input = quote!(struct Inbox { #attr messages: Vec<String> });
        let output = track_growth::expand(TokenStream::new(), input);
        let messages = compile_errors(&output);
        assert_eq!(messages.len(), 1, "{attr}: {messages:?}");
        assert!(messages[0].starts_with("expected"), "{attr}: {messages:?}");
    }
}
