//! The struct `#[track_growth]` is applied to, as leakguard sees it.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, Budget, FieldAttrs, Track};
use crate::errors::Errors;

/// A struct with named fields, its attributes parsed.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) defaults: Budget,
    pub(crate) fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: FieldAttrs<'a>,
    pub(crate) kind: Kind,
}

/// What leakguard does with a field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not a collection and not opted in: left alone.
    Untracked,
    /// A std collection, tracked by default.
    Collection,
    /// Opted in with `#[track]`.
    OptedIn,
    /// A collection opted out with `#[track(skip)]`.
    Skipped,
}

impl Kind {
    pub(crate) fn is_tracked(self) -> bool {
        matches!(self, Kind::Collection | Kind::OptedIn)
    }
}

/// The std collections tracked by default, by the last segment of their path.
const COLLECTIONS: &[&str] = &[
    "Vec",
    "VecDeque",
    "HashMap",
    "HashSet",
    "BTreeMap",
    "BTreeSet",
    "BinaryHeap",
    "String",
    "LinkedList",
];

/// Whether `ty` names one of the std collections, like `Vec<T>` or `std::collections::HashMap<K, V, S>`.
pub(crate) fn is_std_collection(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| COLLECTIONS.iter().any(|name| segment.ident == name)),
        Type::Group(group) => is_std_collection(&group.elem),
        Type::Paren(paren) => is_std_collection(&paren.elem),
        _ => false,
    }
}

impl<'a> Input<'a> {
    /// Reads a struct with named fields, or reports what the item is instead.
    pub(crate) fn from_syn(
        input: &'a DeriveInput,
        defaults: Budget,
        errors: &mut Errors,
    ) -> Option<Self> {
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(unnamed) => {
                    errors.at(unnamed, "#[track_growth] needs named fields to name the collections it reports; this is a tuple struct");
                    return None;
                }
                Fields::Unit => {
                    errors.at(
                        data.struct_token,
                        "#[track_growth] on a unit struct: it has no fields to track",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                errors.at(
                    data.enum_token,
                    "#[track_growth] applies to structs with named fields, not enums",
                );
                return None;
            }
            Data::Union(data) => {
                errors.at(
                    data.union_token,
                    "#[track_growth] applies to structs with named fields, not unions",
                );
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .map(|original| {
                let attrs = attr::field_attrs(&original.attrs, errors);
                let kind = match attrs.track {
                    Some((_, Track::Skip)) => Kind::Skipped,
                    Some((_, Track::In)) => Kind::OptedIn,
                    None if is_std_collection(&original.ty) => Kind::Collection,
                    None => Kind::Untracked,
                };
                Field {
                    original,
                    ident: original.ident.as_ref().expect("named field"),
                    attrs,
                    kind,
                }
            })
            .collect();
        Some(Input {
            original: input,
            defaults,
            fields,
        })
    }
}

/// The first token of an item that is not an attribute or its visibility: `fn` in
/// `#[inline] pub fn f() {}`. Used to point at items that are not structs.
pub(crate) fn item_keyword(tokens: &TokenStream) -> Span {
    let mut iter = tokens.clone().into_iter().peekable();
    while let Some(token) = iter.next() {
        match &token {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                iter.next();
            }
            TokenTree::Ident(ident) if ident == "pub" => {
                if matches!(iter.peek(), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
                {
                    iter.next();
                }
            }
            _ => return token.span(),
        }
    }
    Span::call_site()
}
