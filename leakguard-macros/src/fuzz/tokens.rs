//! Random token trees, from words and fragments that lead into the macros' deeper paths.

use std::fmt;

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::collection::vec;
use proptest::prelude::*;
use quote::ToTokens;

use super::duration::ttl_text;
use super::size::size_text;

/// Tokens, shown as source text when a case fails.
#[derive(Clone)]
pub(super) struct Tokens(pub(super) TokenStream);

impl fmt::Debug for Tokens {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "`{}`", self.0)
    }
}

impl ToTokens for Tokens {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.0.clone());
    }
}

pub(super) fn string(text: &str) -> Tokens {
    Tokens(Literal::string(text).into_token_stream())
}

pub(super) fn source(source: &str) -> Tokens {
    Tokens(parse(source))
}

pub(super) fn parse(source: &str) -> TokenStream {
    source
        .parse()
        .unwrap_or_else(|error| panic!("bad fragment {source:?}: {error}"))
}

/// Words, paths, types and attributes that lead into the macros' deeper paths.
const FRAGMENTS: &[&str] = &[
    "struct",
    "enum",
    "union",
    "fn",
    "pub",
    "pub(crate)",
    "pub(in a::b)",
    "crate",
    "where",
    "impl",
    "const",
    "type",
    "Self",
    "self",
    "_",
    "'a",
    "'static",
    "dyn",
    "r#type",
    "r#struct",
    "budget",
    "track",
    "skip",
    "scoped",
    "scoped_cache",
    "max",
    "ttl",
    "len",
    "bytes",
    "heap_size",
    "with",
    "track_growth",
    "derive",
    "HeapSize",
    "cfg",
    "doc",
    "repr",
    "Vec<u8>",
    "Vec<T>",
    "Vec",
    "VecDeque<u8>",
    "HashMap<K, V>",
    "HashMap<u64, String, S>",
    "HashMap<u64>",
    "HashMap",
    "HashSet<T>",
    "HashSet<T, S>",
    "BTreeMap<K, V>",
    "BTreeMap",
    "BTreeSet<u8>",
    "BinaryHeap<u8>",
    "LinkedList<u8>",
    "String",
    "std::collections::HashMap<K, V>",
    "::std::vec::Vec<u8>",
    "Option<Vec<u8>>",
    "Box<[u8]>",
    "[u8; 4]",
    "(Vec<u8>)",
    "&'a str",
    "PhantomData<T>",
    "<T as Tr>::Assoc",
    "<Vec<u8> as IntoIterator>::IntoIter",
    "fn() -> u8",
    "impl Iterator<Item = u8>",
    "T",
    "K",
    "V",
    "S",
    "N",
    "u64",
    "usize",
    "bool",
    "#[track]",
    "#[track(skip)]",
    "#[track(scoped)]",
    "#[budget(len = 10)]",
    "#[budget(bytes = \"64 KiB\")]",
    "#[scoped_cache(max = 10, ttl = \"30m\")]",
    "#[heap_size(skip)]",
    "#[heap_size(with = f)]",
    "#[cfg(test)]",
    "#[derive(HeapSize)]",
    "/// doc",
    "::",
    "->",
    "=>",
    "..",
    "..=",
    "<<",
    ">>",
    "&&",
    "?",
    ";",
    "@",
    "$",
    "~",
    "|",
    "+",
    "*",
];

#[derive(Clone, Debug)]
enum Tok {
    Fragment(&'static str),
    Ident(String),
    RawIdent(String),
    Punct(char, bool),
    Literal(Lit),
    Group(Delimiter, Vec<Tok>),
}

#[derive(Clone, Debug)]
pub(super) enum Lit {
    Int(i128),
    Suffixed(u64, &'static str),
    Float(f64),
    Str(String),
    ByteStr(Vec<u8>),
    Char(char),
    Byte(u8),
    CStr(String),
    Source(&'static str),
}

impl Lit {
    pub(super) fn to_literal(&self) -> Literal {
        match self {
            Lit::Int(n) => Literal::i128_unsuffixed(*n),
            Lit::Suffixed(n, suffix) => parse_literal(&format!("{n}{suffix}")),
            Lit::Float(f) => Literal::f64_unsuffixed(*f),
            Lit::Str(text) => Literal::string(text),
            Lit::ByteStr(bytes) => Literal::byte_string(bytes),
            Lit::Char(c) => Literal::character(*c),
            Lit::Byte(b) => Literal::byte_character(*b),
            Lit::CStr(text) => {
                let text: String = text.chars().filter(|&c| c != '\0').collect();
                Literal::c_string(&std::ffi::CString::new(text).unwrap())
            }
            Lit::Source(source) => parse_literal(source),
        }
    }
}

fn parse_literal(source: &str) -> Literal {
    source
        .parse()
        .unwrap_or_else(|error| panic!("bad literal {source:?}: {error}"))
}

impl Tok {
    fn extend(&self, out: &mut TokenStream) {
        match self {
            Tok::Fragment(source) => out.extend(parse(source)),
            Tok::Ident(name) => out.extend([TokenTree::from(Ident::new(name, Span::call_site()))]),
            Tok::RawIdent(name) => {
                out.extend([TokenTree::from(Ident::new_raw(name, Span::call_site()))])
            }
            Tok::Punct(c, joint) => {
                let spacing = if *joint {
                    Spacing::Joint
                } else {
                    Spacing::Alone
                };
                out.extend([TokenTree::from(Punct::new(*c, spacing))]);
            }
            Tok::Literal(lit) => out.extend([TokenTree::from(lit.to_literal())]),
            Tok::Group(delimiter, inner) => {
                let group = Group::new(*delimiter, stream(inner).0);
                out.extend([TokenTree::from(group)]);
            }
        }
    }
}

fn stream(toks: &[Tok]) -> Tokens {
    let mut out = TokenStream::new();
    for tok in toks {
        tok.extend(&mut out);
    }
    Tokens(out)
}

pub(super) fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,6}|_[a-z0-9_]{1,4}".prop_filter("a keyword", |name| {
        syn::parse_str::<syn::Ident>(name).is_ok()
    })
}

pub(super) fn literal() -> impl Strategy<Value = Lit> {
    prop_oneof![
        any::<i128>().prop_map(Lit::Int),
        (-5..=100_010i128).prop_map(Lit::Int),
        (
            any::<u64>(),
            prop::sample::select(&["", "u8", "usize", "i32", "u128", "f32"][..])
        )
            .prop_map(|(n, suffix)| Lit::Suffixed(n, suffix)),
        prop_oneof![
            prop::num::f64::NORMAL,
            prop::num::f64::ZERO,
            prop::num::f64::SUBNORMAL
        ]
        .prop_map(Lit::Float),
        size_text().prop_map(Lit::Str),
        ttl_text().prop_map(Lit::Str),
        any::<String>().prop_map(Lit::Str),
        "[a-z:_ ]{0,12}".prop_map(Lit::Str),
        vec(any::<u8>(), 0..8).prop_map(Lit::ByteStr),
        any::<char>().prop_map(Lit::Char),
        any::<u8>().prop_map(Lit::Byte),
        "\\PC{0,6}".prop_map(Lit::CStr),
        prop::sample::select(
            &[
                "1e999",
                "0x_FF_u8",
                "0b1010",
                "0o777",
                "1_000usize",
                "1.5e10f64",
                "r#\"raw \"quoted\"\"#",
                "br\"raw bytes\"",
                "b'\\xff'",
                "'\\u{10FFFF}'",
                "\"64 KiB\"",
                "\"30m\"",
                "\"\"",
                "999999999999999999999999999999999999999999",
                "-0",
                "-1.5",
            ][..]
        )
        .prop_map(Lit::Source),
    ]
}

fn tok() -> impl Strategy<Value = Tok> {
    let leaf = prop_oneof![
        6 => prop::sample::select(FRAGMENTS).prop_map(Tok::Fragment),
        2 => ident().prop_map(Tok::Ident),
        1 => prop::sample::select(&["type", "struct", "fn", "budget", "match", "r"][..])
            .prop_map(|name| Tok::RawIdent(name.to_string())),
        4 => (
            prop::sample::select(&[':', ',', '=', '#', '-', '.', '<', '>', ';', '!', '&', '\''][..]),
            any::<bool>()
        )
            .prop_map(|(c, joint)| Tok::Punct(c, joint)),
        3 => literal().prop_map(Tok::Literal),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        (
            prop::sample::select(
                &[
                    Delimiter::Parenthesis,
                    Delimiter::Bracket,
                    Delimiter::Brace,
                    Delimiter::None,
                ][..],
            ),
            vec(inner, 0..8),
        )
            .prop_map(|(delimiter, toks)| Tok::Group(delimiter, toks))
    })
}

pub(super) fn tokens(len: std::ops::Range<usize>) -> impl Strategy<Value = Tokens> {
    vec(tok(), len).prop_map(|toks| stream(&toks))
}
