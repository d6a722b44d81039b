//! `#[heap_size(..)]` on a field: how `#[derive(HeapSize)]`, or a `#[track_growth]`
//! struct's `HeapSize`, measures it.

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, ExprPath, Lit, Meta, Token};

use crate::attr::first_of;
use crate::errors::Errors;
use crate::symbol::*;

/// How `#[derive(HeapSize)]`, or a `#[track_growth]` struct's `HeapSize`, measures one field.
pub(crate) enum How {
    /// With its own `HeapSize`.
    Measure,
    /// `#[heap_size(skip)]`: it owns nothing worth counting.
    Skip,
    /// `#[heap_size(with = path)]`: by `path(&field)`.
    With(ExprPath),
    /// `#[heap_size(each = path)]`, `key = path`, `value = path`: a collection whose
    /// elements, keys or values are measured by `path(&element)`, the rest with their own
    /// `HeapSize`.
    Each(Box<Each>),
}

/// The element-level functions of one field; see [`How::Each`].
pub(crate) struct Each {
    /// The attribute, for errors about the field as a whole.
    pub(crate) attr: Attribute,
    /// `each = path`: the elements of a sequence or a set.
    pub(crate) each: Option<ExprPath>,
    /// `key = path`: the keys of a map.
    pub(crate) key: Option<ExprPath>,
    /// `value = path`: the values of a map.
    pub(crate) value: Option<ExprPath>,
}

const HEAP_SIZE_ARGS: &str =
    "expected `skip`, `with = path`, or `each = path` / `key = path`, `value = path`";

/// Parses the `#[heap_size(..)]` attribute of a field.
pub(crate) fn how(attrs: &[Attribute], errors: &mut Errors) -> How {
    let mut how = None;
    for attr in attrs.iter().filter(|a| a.path() == HEAP_SIZE) {
        if !first_of(&how, HEAP_SIZE, attr, errors) {
            continue;
        }
        let metas = match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(metas) => metas,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let mut whole: Option<How> = None;
        let mut each = Each {
            attr: attr.clone(),
            each: None,
            key: None,
            value: None,
        };
        for meta in &metas {
            let slot = match meta {
                Meta::Path(path) if path == SKIP => {
                    whole.get_or_insert(How::Skip);
                    continue;
                }
                Meta::NameValue(nv) if nv.path == WITH => None,
                Meta::NameValue(nv) if nv.path == EACH => Some(&mut each.each),
                Meta::NameValue(nv) if nv.path == KEY => Some(&mut each.key),
                Meta::NameValue(nv) if nv.path == VALUE => Some(&mut each.value),
                other
                    if [WITH, EACH, KEY, VALUE]
                        .iter()
                        .any(|name| other.path() == *name) =>
                {
                    let name = other.path().to_token_stream();
                    errors.at(other, format!("`{name}` takes a function: `{name} = path`"));
                    continue;
                }
                other => {
                    errors.at(
                        other.path(),
                        format!("unknown `heap_size` argument; {HEAP_SIZE_ARGS}"),
                    );
                    continue;
                }
            };
            let Meta::NameValue(nv) = meta else {
                unreachable!("matched as a name-value pair above")
            };
            let Some(path) = function_path(&nv.value) else {
                errors.at(
                    &nv.value,
                    format!(
                        "`{}` takes the path of a function `fn(&T) -> usize`",
                        nv.path.to_token_stream()
                    ),
                );
                continue;
            };
            match slot {
                None => {
                    whole.get_or_insert(How::With(path));
                }
                Some(slot) if slot.is_some() => errors.at(
                    &nv.path,
                    format!("`{}` is given twice", nv.path.to_token_stream()),
                ),
                Some(slot) => *slot = Some(path),
            }
        }
        let elements = each.each.is_some() || each.key.is_some() || each.value.is_some();
        if whole.is_some() && metas.len() > 1 {
            errors.at(
                attr,
                "`skip` and `with = path` each stand alone in `#[heap_size(..)]`",
            );
        }
        if each.each.is_some() && (each.key.is_some() || each.value.is_some()) {
            errors.at(
                attr,
                "`each` measures the elements of a sequence or a set, `key` and `value` those of a map: not both",
            );
        }
        if metas.is_empty() {
            errors.at(
                attr,
                format!("`#[heap_size]` needs an argument; {HEAP_SIZE_ARGS}"),
            );
        }
        how = match whole {
            Some(whole) => Some(whole),
            None if elements => Some(How::Each(Box::new(each))),
            None => how,
        };
    }
    how.unwrap_or(How::Measure)
}

/// The path in `with = path` or `each = path`, written bare or as a string.
fn function_path(value: &Expr) -> Option<ExprPath> {
    match value {
        Expr::Path(path) => Some(path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => text.parse::<ExprPath>().ok(),
        _ => None,
    }
}
