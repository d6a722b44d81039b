//! Macro input that is nearly right: attribute arguments, fields and almost-structs.

use proc_macro2::{Ident, Span, TokenStream};
use proptest::collection::vec;
use proptest::prelude::*;
use quote::{ToTokens, quote};

use super::duration::ttl_text;
use super::size::size_text;
use super::tokens::{Tokens, ident, literal, parse, source, string, tokens};

/// A random value for an attribute argument, leaning towards the kinds the macros check.
fn arg_value() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        3 => literal().prop_map(|lit| Tokens(lit.to_literal().into_token_stream())),
        2 => size_text().prop_map(|text| string(&text)),
        2 => ttl_text().prop_map(|text| string(&text)),
        1 => (0..=100_000i64).prop_map(|n| Tokens(quote!(-#n))),
        1 => prop::sample::select(
            &["f", "a::b", "crate::f", "\"a::b\"", "\"1 +\"", "|x| 0", "{ 1 }", "x!()"][..]
        )
        .prop_map(source),
        1 => tokens(0..3),
    ]
}

/// `key`, `key = value`, `key(..)` or noise, for an attribute's argument list.
fn arg() -> impl Strategy<Value = Tokens> {
    let key = prop::sample::select(
        &[
            "len", "bytes", "max", "ttl", "skip", "scoped", "with", "limit", "r#len", "len::x",
            "Len",
        ][..],
    )
    .prop_map(parse);
    prop_oneof![
        6 => (key.clone(), arg_value()).prop_map(|(key, value)| Tokens(quote!(#key = #value))),
        2 => key.clone().prop_map(Tokens),
        1 => (key, tokens(0..3)).prop_map(|(key, inner)| Tokens(quote!(#key(#inner)))),
        1 => tokens(1..3),
    ]
}

/// An argument list, mostly separated by commas.
fn args() -> impl Strategy<Value = Tokens> {
    let separator = prop::sample::select(&[",", ",", ",", ",", ";", ":", "", ",,"][..]);
    (vec((arg(), separator), 0..4), any::<bool>()).prop_map(|(args, trailing)| {
        let mut out = TokenStream::new();
        let count = args.len();
        for (i, (arg, separator)) in args.into_iter().enumerate() {
            out.extend(arg.0);
            if i + 1 < count || trailing {
                out.extend(parse(separator));
            }
        }
        Tokens(out)
    })
}

/// `key = value` for one of `keys`, with a value that is usually of the kind the key takes.
fn plausible_arg(keys: &'static [&'static str]) -> impl Strategy<Value = Tokens> {
    let value = |key: &str| -> BoxedStrategy<Tokens> {
        match key {
            "len" | "max" => prop_oneof![
                4 => (1..=100_000u64).prop_map(|n| Tokens(quote!(#n))),
                1 => arg_value(),
            ]
            .boxed(),
            "bytes" => prop_oneof![
                4 => size_text().prop_map(|text| string(&text)),
                1 => Just(string("64 KiB")),
                1 => arg_value(),
            ]
            .boxed(),
            "ttl" => prop_oneof![
                4 => ttl_text().prop_map(|text| string(&text)),
                1 => Just(string("30m")),
                1 => arg_value(),
            ]
            .boxed(),
            _ => arg_value().boxed(),
        }
    };
    prop::sample::select(keys).prop_flat_map(move |key| {
        let name = parse(key);
        match key {
            "skip" | "scoped" => Just(Tokens(name)).boxed(),
            _ => value(key)
                .prop_map(move |value| Tokens(quote!(#name = #value)))
                .boxed(),
        }
    })
}

/// Arguments of the kind `#[name(..)]` takes, separated by commas.
fn plausible_args(keys: &'static [&'static str]) -> impl Strategy<Value = Tokens> {
    vec(plausible_arg(keys), 1..3).prop_map(|args| Tokens(quote!(#(#args),*)))
}

fn field_attr() -> impl Strategy<Value = Tokens> {
    let name =
        prop::sample::select(&["budget", "track", "scoped_cache", "heap_size"][..]).prop_map(parse);
    let plausible = prop_oneof![
        (Just("budget"), plausible_args(&["len", "bytes"])),
        (Just("scoped_cache"), plausible_args(&["max", "ttl"])),
        (Just("track"), plausible_args(&["skip", "scoped"])),
        (Just("heap_size"), plausible_args(&["skip", "with"])),
    ]
    .prop_map(|(name, args)| {
        let name = parse(name);
        Tokens(quote!(#[#name(#args)]))
    });
    prop_oneof![
        12 => plausible,
        6 => (name.clone(), args()).prop_map(|(name, args)| Tokens(quote!(#[#name(#args)]))),
        2 => name.clone().prop_map(|name| Tokens(quote!(#[#name]))),
        1 => (name.clone(), arg_value()).prop_map(|(name, value)| Tokens(quote!(#[#name = #value]))),
        1 => (name, tokens(0..4)).prop_map(|(name, inner)| Tokens(quote!(#[#name #inner]))),
        2 => prop::sample::select(
            &["#[cfg(test)]", "#[doc = \"x\"]", "/// doc", "#[serde(rename = \"x\")]", "#[allow(unused)]"][..]
        )
        .prop_map(source),
        1 => tokens(0..4).prop_map(|inner| Tokens(quote!(#[#inner]))),
    ]
}

fn field_type() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        20 => prop::sample::select(
            &[
                "Vec<u8>", "Vec<T>", "Vec", "Vec<u8, A>", "VecDeque<u8>", "HashMap<K, V>",
                "HashMap<u64, String, S>", "HashMap<u64>", "HashMap", "HashSet<T>", "HashSet<T, S>",
                "HashSet", "BTreeMap<K, V>", "BTreeSet<u8>", "BinaryHeap<u8>", "LinkedList<u8>",
                "String", "std::collections::HashMap<K, V>", "::std::vec::Vec<u8>", "Option<Vec<u8>>",
                "Box<[u8]>", "[u8; 4]", "[Vec<u8>; N]", "(Vec<u8>)", "(Vec<u8>, u8)", "&'a str",
                "&'a mut Vec<T>", "PhantomData<T>", "<T as Tr>::Assoc", "fn() -> u8",
                "impl Iterator<Item = u8>", "dyn Fn()", "Self", "T", "u64", "usize", "MyAlias",
                "Vec<Self>", "HashMap<&'a str, T>", "Vec<[u8; N]>", "_", "!",
            ][..]
        )
        .prop_map(source),
        1 => tokens(1..4),
    ]
}

fn field_name() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        12 => ident().prop_map(|name| source(&name)),
        1 => prop::sample::select(
            &["r#type", "r#struct", "r#len", "__leakguard_total", "__leakguard_m", "self"][..]
        )
        .prop_map(source),
    ]
}

fn visibility() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        6 => prop::sample::select(&["", "pub"][..]),
        1 => prop::sample::select(&["pub(crate)", "pub(super)", "pub(in a::b)", "crate"][..]),
    ]
    .prop_map(source)
}

/// One field, written for a struct with named fields and for a tuple struct.
fn field() -> impl Strategy<Value = (Tokens, Tokens)> {
    (
        vec(field_attr(), 0..4),
        visibility(),
        field_name(),
        field_type(),
    )
        .prop_map(|(attrs, vis, name, ty)| {
            let attrs = quote!(#(#attrs)*);
            (
                Tokens(quote!(#attrs #vis #name: #ty)),
                Tokens(quote!(#attrs #vis #ty)),
            )
        })
}

/// The arguments of `#[track_growth(..)]`: none, plausible ones, or any.
pub(super) fn struct_args() -> impl Strategy<Value = Tokens> {
    prop_oneof![
        2 => Just(Tokens(TokenStream::new())),
        1 => plausible_args(&["len", "bytes", "scoped"]),
        1 => args(),
    ]
}

/// An item that is a struct with named fields, or nearly one: random attribute arguments,
/// field attributes and types, and sometimes the wrong kind of item or body.
pub(super) fn almost_struct() -> impl Strategy<Value = Tokens> {
    let outer = prop::sample::select(
        &[
            "#[derive(HeapSize)]",
            "#[derive(Debug, leakguard::HeapSize)]",
            "#[derive(Clone)]",
            "#[derive = \"x\"]",
            "#[derive(1 +)]",
            "#[repr(C)]",
            "#[track_growth]",
            "#[track(skip)]",
            "/// doc",
        ][..],
    )
    .prop_map(parse);
    let generics = prop::sample::select(
        &[
            "",
            "",
            "",
            "<T>",
            "<'a, T: Clone>",
            "<T, const N: usize>",
            "<K, V, S>",
            "<'a, K: Eq + Hash, V>",
            "<T = u8>",
            "<T>",
            "<>",
        ][..],
    )
    .prop_map(parse);
    let where_clause =
        prop::sample::select(&["", "", "", "where T: Clone", "where T: HeapSize,", "where"][..])
            .prop_map(parse);
    let kind = prop_oneof![
        12 => Just("struct"),
        1 => prop::sample::select(&["enum", "union", "fn", "trait", ""][..]),
    ]
    .prop_map(parse);
    let body = prop_oneof![
        12 => Just("named"),
        1 => prop::sample::select(&["tuple", "unit", "none"][..]),
    ];
    (
        vec(outer, 0..3),
        visibility(),
        kind,
        ident(),
        (generics, where_clause),
        vec(field(), 0..5),
        body,
    )
        .prop_map(
            |(outer, vis, kind, name, (generics, where_clause), fields, body)| {
                let name = Ident::new(&name, Span::call_site());
                let head = quote!(#(#outer)* #vis #kind #name #generics);
                let is_enum = kind.to_string() == "enum";
                let named = fields.iter().map(|(named, _)| named);
                let unnamed = fields.iter().map(|(_, unnamed)| unnamed);
                Tokens(match body {
                    "named" if is_enum => {
                        quote!(#head #where_clause { A { #(#named),* }, B(#(#unnamed),*), C })
                    }
                    "named" => quote!(#head #where_clause { #(#named),* }),
                    "tuple" => quote!(#head (#(#unnamed),*) #where_clause;),
                    "unit" => quote!(#head #where_clause;),
                    _ => head,
                })
            },
        )
}
