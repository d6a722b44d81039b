//! Arguments of `#[track_growth(..)]` and of its field attributes.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Lit, Meta, Path, Token, UnOp};

use crate::errors::Errors;
use crate::symbol::*;
use crate::{duration, size};

/// The limits a budget sets; `None` where it sets none.
#[derive(Clone, Copy, Default)]
pub(crate) struct Budget {
    pub(crate) len: Option<usize>,
    pub(crate) bytes: Option<usize>,
}

impl Budget {
    /// This budget, with `defaults` filling the limits it leaves unset.
    pub(crate) fn or(self, defaults: Budget) -> Budget {
        Budget {
            len: self.len.or(defaults.len),
            bytes: self.bytes.or(defaults.bytes),
        }
    }
}

/// Whether a field opted in or out with `#[track]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Track {
    /// `#[track]`: track a field whose type is not a std collection; `#[track(scoped)]`:
    /// track it as belonging to the scope it is created in.
    In { in_scope: bool },
    /// `#[track(skip)]`: leave a collection field alone.
    Skip,
}

/// The arguments of `#[track_growth(..)]`.
#[derive(Clone, Default)]
pub(crate) struct StructArgs {
    /// Defaults for every tracked field's budget.
    pub(crate) budget: Budget,
    /// `scoped`: every tracked field belongs to the scope it is created in.
    pub(crate) in_scope: Option<Path>,
}

/// The bounds of `#[scoped_cache(max = .., max_bytes = .., ttl = .., shared)]`.
#[derive(Clone, Copy, Default)]
pub(crate) struct CacheBounds {
    pub(crate) max: Option<usize>,
    pub(crate) max_bytes: Option<usize>,
    /// In nanoseconds.
    pub(crate) ttl: Option<u64>,
    /// A concurrent `SharedCache`, used through `&self`.
    pub(crate) shared: bool,
}

/// The leakguard attributes of one field, each with the attribute it came from.
#[derive(Default)]
pub(crate) struct FieldAttrs<'a> {
    pub(crate) budget: Option<(&'a Attribute, Budget)>,
    pub(crate) track: Option<(&'a Attribute, Track)>,
    pub(crate) cache: Option<(&'a Attribute, CacheBounds)>,
}

/// Whether `attr` is one of the field attributes `#[track_growth]` consumes.
pub(crate) fn is_helper(attr: &Attribute) -> bool {
    let path = attr.path();
    path == BUDGET || path == TRACK || path == SCOPED_CACHE || path == HEAP_SIZE
}

/// The `#[cfg(..)]` attributes among `attrs`: what a field compiled out by `cfg` carries
/// onto the code that names it.
pub(crate) fn cfgs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cfg")).collect()
}

/// The paths in `#[derive(..)]` that name `HeapSize`, like `HeapSize` or `leakguard::HeapSize`.
pub(crate) fn heap_size_derives(attrs: &[Attribute]) -> Vec<Path> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .filter(|path| path.segments.last().is_some_and(|s| s.ident == "HeapSize"))
        .collect()
}

/// Parses a comma-separated argument list, reporting a syntax error.
fn metas(tokens: TokenStream, errors: &mut Errors) -> Vec<Meta> {
    match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas.into_iter().collect(),
        Err(error) => {
            errors.push(error);
            Vec::new()
        }
    }
}

/// The arguments of an attribute written as a list, `#[name(..)]`.
fn list_metas(attr: &Attribute, errors: &mut Errors) -> Vec<Meta> {
    match &attr.meta {
        Meta::List(list) => metas(list.tokens.clone(), errors),
        Meta::Path(_) | Meta::NameValue(_) => Vec::new(),
    }
}

/// Which argument keys of one attribute have been seen, to report repeats.
#[derive(Default)]
struct Seen(Vec<&'static str>);

impl Seen {
    /// `true` the first time `key` appears; reports a duplicate at `at` after that.
    fn first(&mut self, key: Symbol, at: &Meta, errors: &mut Errors) -> bool {
        if self.0.contains(&key.as_str()) {
            errors.at(at.path(), format!("duplicate `{key}` argument"));
            return false;
        }
        self.0.push(key.as_str());
        true
    }
}

/// The message for an argument of `#[attr(..)]` that is none of `expected`.
fn unknown(attr: Symbol, meta: &Meta, expected: &str) -> String {
    let name = meta.path().to_token_stream().to_string().replace(' ', "");
    format!("unknown `{attr}` argument `{name}`; expected {expected}")
}

/// Whether `attr` is written with arguments, `#[name(..)]`. Arguments that are written but
/// unknown or malformed have their own error already, so only a missing list needs one.
fn has_args(attr: &Attribute) -> bool {
    matches!(&attr.meta, Meta::List(list) if !list.tokens.is_empty())
}

/// `true` if no `#[name]` attribute has been read into `slot` yet; reports `attr` as a
/// repeat after that.
pub(crate) fn first_of<T>(
    slot: &Option<T>,
    name: Symbol,
    attr: &Attribute,
    errors: &mut Errors,
) -> bool {
    if slot.is_some() {
        errors.at(attr.path(), format!("duplicate `#[{name}]` attribute"));
        return false;
    }
    true
}

/// The value of `key = value`, or an error if the argument has no value.
fn value<'m>(meta: &'m Meta, key: Symbol, example: &str, errors: &mut Errors) -> Option<&'m Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        Meta::Path(_) | Meta::List(_) => {
            errors.at(meta, format!("`{key}` takes a value, like `{example}`"));
            None
        }
    }
}

/// Reads `len = N`: a positive integer.
fn len(meta: &Meta, errors: &mut Errors) -> Option<usize> {
    count(meta, LEN, errors)
}

/// Reads `key = N` for a number of entries: a positive integer.
fn count(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<usize> {
    let expr = value(meta, key, &format!("{key} = 10_000"), errors)?;
    let negative = || format!("`{key}` must be a positive integer, not a negative one");
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<usize>() {
            // syn reads `-100` as one negative literal, spanned at the `-`.
            _ if int.base10_digits().starts_with('-') => errors.at(int, negative()),
            Ok(0) => errors.at(int, format!("`{key}` must be at least 1")),
            Ok(n) => return Some(n),
            Err(_) => errors.at(int, format!("`{key}` is too large for `usize`")),
        },
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => errors.at(expr, negative()),
        Expr::Lit(ExprLit {
            lit: Lit::Float(float),
            ..
        }) => errors.at(
            float,
            format!("`{key}` must be a whole number of entries, like `{key} = 100`"),
        ),
        _ => errors.at(
            expr,
            format!("`{key}` must be an integer literal, like `{key} = 10_000`"),
        ),
    }
    None
}

/// Reads `ttl = "30s"`: a duration with a unit, longer than zero.
fn ttl(meta: &Meta, errors: &mut Errors) -> Option<u64> {
    let expr = value(meta, TTL, "ttl = \"30s\"", errors)?;
    let text = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => text,
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            errors.at(
                int,
                format!(
                    "`ttl` needs a unit: write it as a string, like `ttl = \"{}s\"` or `ttl = \"250ms\"`",
                    int.base10_digits()
                ),
            );
            return None;
        }
        _ => {
            errors.at(
                expr,
                "`ttl` takes a string with a unit, like `ttl = \"30s\"`",
            );
            return None;
        }
    };
    match duration::parse(&text.value()) {
        Ok(ttl) => return Some(ttl),
        Err(message) => errors.at(text, message),
    }
    None
}

/// Reads `bytes = "64 MiB"`: a size with a unit.
fn bytes(meta: &Meta, errors: &mut Errors) -> Option<usize> {
    size_value(meta, BYTES, errors)
}

/// Reads `key = "64 MiB"`: a size with a unit.
fn size_value(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<usize> {
    let example = format!("{key} = \"64 MiB\"");
    let expr = value(meta, key, &example, errors)?;
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => match size::parse(&text.value()) {
            Ok(bytes) => return Some(bytes),
            Err(message) => errors.at(text, message),
        },
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) if int.base10_digits().starts_with('-') => {
            errors.at(int, format!("`{key}` must be a positive size, like `{example}`"));
        }
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => errors.at(
            int,
            format!(
                "`{key}` needs a unit: write it as a string, like `{key} = \"{} B\"` or `{key} = \"64 KiB\"`",
                int.base10_digits()
            ),
        ),
        _ => errors.at(expr, format!("`{key}` takes a string with a unit, like `{example}`")),
    }
    None
}

/// Reads the `len` and `bytes` arguments shared by `#[track_growth]` and `#[budget]`.
///
/// Returns the metas it did not recognise, for the caller to report or interpret.
fn budget_args(metas: Vec<Meta>, budget: &mut Budget, errors: &mut Errors) -> Vec<Meta> {
    let mut seen = Seen::default();
    let mut rest = Vec::new();
    for meta in metas {
        if meta.path() == LEN {
            if seen.first(LEN, &meta, errors) {
                budget.len = len(&meta, errors);
            }
        } else if meta.path() == BYTES {
            if seen.first(BYTES, &meta, errors) {
                budget.bytes = bytes(&meta, errors);
            }
        } else {
            rest.push(meta);
        }
    }
    rest
}

/// Parses the arguments of `#[track_growth(..)]`.
pub(crate) fn struct_args(args: TokenStream, errors: &mut Errors) -> StructArgs {
    args_of(TRACK_GROWTH, metas(args, errors), errors)
}

/// Parses `len`, `bytes` and `scoped`, the arguments of `#[track_growth(..)]` and of
/// `tracked!(.., ..)` after its name and value.
pub(crate) fn args_of(what: Symbol, metas: Vec<Meta>, errors: &mut Errors) -> StructArgs {
    let mut out = StructArgs::default();
    let mut seen = Seen::default();
    for meta in budget_args(metas, &mut out.budget, errors) {
        if meta.path() == SCOPED {
            let written = if what == TRACKED {
                "tracked!(.., .., scoped)"
            } else {
                "#[track_growth(scoped)]"
            };
            if flag(&meta, SCOPED, written, errors) && seen.first(SCOPED, &meta, errors) {
                out.in_scope = Some(meta.path().clone());
            }
            continue;
        }
        errors.at(
            meta.path(),
            unknown(what, &meta, "`len`, `bytes` or `scoped`"),
        );
    }
    out
}

/// Parses the leakguard attributes of a field.
pub(crate) fn field_attrs<'a>(attrs: &'a [Attribute], errors: &mut Errors) -> FieldAttrs<'a> {
    let mut out = FieldAttrs::default();
    for attr in attrs {
        let path = attr.path();
        if path == BUDGET {
            if !first_of(&out.budget, BUDGET, attr, errors) {
                continue;
            }
            if !has_args(attr) {
                errors.at(attr, "`#[budget]` needs a limit, like `#[budget(len = 100)]` or `#[budget(bytes = \"64 KiB\")]`");
            }
            let mut budget = Budget::default();
            for meta in budget_args(list_metas(attr, errors), &mut budget, errors) {
                errors.at(meta.path(), unknown(BUDGET, &meta, "`len` or `bytes`"));
            }
            out.budget = Some((attr, budget));
        } else if path == TRACK {
            if !first_of(&out.track, TRACK, attr, errors) {
                continue;
            }
            out.track = Some((attr, track(attr, errors)));
        } else if path == SCOPED_CACHE {
            if !first_of(&out.cache, SCOPED_CACHE, attr, errors) {
                continue;
            }
            out.cache = Some((attr, cache_bounds(attr, errors)));
        }
    }
    out
}

/// Parses the arguments of `#[track]`, `#[track(skip)]` or `#[track(scoped)]`.
fn track(attr: &Attribute, errors: &mut Errors) -> Track {
    let mut skip = None;
    let mut in_scope = None;
    let mut seen = Seen::default();
    for meta in list_metas(attr, errors) {
        let word = if meta.path() == SKIP {
            SKIP
        } else if meta.path() == SCOPED {
            SCOPED
        } else {
            errors.at(&meta, unknown(TRACK, &meta, "`skip` or `scoped`"));
            continue;
        };
        if flag(&meta, word, &format!("#[track({word})]"), errors)
            && seen.first(word, &meta, errors)
        {
            let at = meta.path().clone();
            if word == SKIP {
                skip = Some(at);
            } else {
                in_scope = Some(at);
            }
        }
    }
    if let (Some(_), Some(in_scope)) = (&skip, &in_scope) {
        errors.at(in_scope, "a field is either skipped or scoped, not both");
    }
    if let Meta::NameValue(nv) = &attr.meta {
        errors.at(
            nv,
            "`#[track]` takes no value; write `#[track]` or `#[track(skip)]`",
        );
    }
    if skip.is_some() {
        Track::Skip
    } else {
        Track::In {
            in_scope: in_scope.is_some(),
        }
    }
}

/// Whether `meta` is the bare word `word`, as written in `written`; an error if it has a
/// value.
fn flag(meta: &Meta, word: Symbol, written: &str, errors: &mut Errors) -> bool {
    if matches!(meta, Meta::Path(_)) {
        return true;
    }
    errors.at(meta, format!("`{word}` takes no value; write `{written}`"));
    false
}

/// Parses the arguments of `#[scoped_cache(max = .., ttl = ..)]`.
fn cache_bounds(attr: &Attribute, errors: &mut Errors) -> CacheBounds {
    let mut bounds = CacheBounds::default();
    let mut seen = Seen::default();
    // Whether `max` or `max_bytes` is written, valid or not.
    let mut sized = false;
    for meta in list_metas(attr, errors) {
        if meta.path() == MAX {
            sized = true;
            if seen.first(MAX, &meta, errors) {
                bounds.max = count(&meta, MAX, errors).filter(|&max| {
                    // The runtime's `MAX_ENTRIES`: quick_cache indexes entries with 32 bits.
                    let most = u32::MAX as usize - 1;
                    let fits = max <= most;
                    if let (false, Meta::NameValue(nv)) = (fits, &meta) {
                        errors.at(
                            &nv.value,
                            format!(
                                "`max` must be at most {most}, the most entries a cache can index"
                            ),
                        );
                    }
                    fits
                });
            }
        } else if meta.path() == TTL {
            if seen.first(TTL, &meta, errors) {
                bounds.ttl = ttl(&meta, errors);
            }
        } else if meta.path() == MAX_BYTES {
            sized = true;
            if seen.first(MAX_BYTES, &meta, errors) {
                bounds.max_bytes = size_value(&meta, MAX_BYTES, errors);
            }
        } else if meta.path() == SHARED {
            if flag(&meta, SHARED, "#[scoped_cache(.., shared)]", errors)
                && seen.first(SHARED, &meta, errors)
            {
                bounds.shared = true;
            }
        } else {
            errors.at(
                meta.path(),
                unknown(SCOPED_CACHE, &meta, "`max`, `max_bytes`, `ttl` or `shared`"),
            );
        }
    }
    if !has_args(attr) {
        errors.at(
            attr,
            "`#[scoped_cache]` needs a bound: `max = 10_000`, `max_bytes = \"64 MiB\"`, `ttl = \"30m\"` or several",
        );
    }
    // A bound written but invalid has its own error already.
    if bounds.shared && !sized {
        errors.at(
            attr,
            "a shared cache needs a bound in entries or bytes: `max = 10_000`, `max_bytes = \"64 MiB\"` or both",
        );
    }
    bounds
}
