//! The rules of `#[track_growth]` that parsing one attribute at a time cannot check: one
//! function a rule, each with an example of what it rejects.

use syn::{Attribute, Meta, Type};

use crate::ast::{self, Field, Input, Kind};
use crate::attr;
use crate::each;
use crate::errors::Errors;
use crate::how::How;
use crate::symbol::BUDGET;

/// Reports every rule `input` breaks.
pub(crate) fn validate(input: &Input<'_>, errors: &mut Errors) {
    for field in &input.fields {
        check_budget_target(field, errors);
        check_cache_not_skipped(field, errors);
        check_element_functions(field, errors);
    }
    check_no_heap_size_derive(input, errors);
}

/// A budget belongs on a tracked field.
///
/// ```text
/// #[budget(len = 10)]   // error: `count` is not tracked
/// count: u64,
/// #[budget(len = 10)]   // error: skipped
/// #[track(skip)]
/// scratch: Vec<u8>,
/// ```
fn check_budget_target(field: &Field<'_>, errors: &mut Errors) {
    let Some((budget, _)) = field.attrs.budget else {
        return;
    };
    let name = field.describe();
    match field.kind {
        Kind::Untracked => match scalar(&field.original.ty) {
            Some(scalar) => errors.at(
                budget.path(),
                format!("`#[budget]` on {name}, a `{scalar}`, which holds no entries and no heap memory: budgets go on collections (`Vec`, `HashMap`, `String`, ..., or a type of yours with `#[track]`)"),
            ),
            None => errors.at(
                budget.path(),
                format!("`#[budget]` on {name}, which leakguard does not track because its type is not a std collection; add `#[track]` if its type implements `HeapSize`"),
            ),
        },
        Kind::Skipped => errors.at(
            budget.path(),
            format!("`#[budget]` on {name}, which is marked `#[track(skip)]`; a skipped field has no budget"),
        ),
        Kind::Collection | Kind::OptedIn | Kind::Cache(..) => {}
    }
}

/// The name of `ty` if it is a primitive with no heap: a number, `bool` or `char`.
fn scalar(ty: &Type) -> Option<String> {
    const SCALARS: &[&str] = &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char",
    ];
    let Type::Path(path) = ty else {
        return None;
    };
    let ident = path.path.get_ident()?.to_string();
    SCALARS.contains(&ident.as_str()).then_some(ident)
}

/// What `#[track_growth]` is on.
#[derive(Clone, Copy)]
pub(crate) enum Item {
    Struct,
    Static,
}

impl Item {
    fn name(self) -> &'static str {
        match self {
            Item::Struct => "struct",
            Item::Static => "static",
        }
    }
}

/// A budget goes on a field; the budget of every field of a struct, or of a static, is an
/// argument of `#[track_growth]`, and a `#[budget]` on the item would otherwise be "cannot
/// find attribute".
///
/// ```text
/// #[track_growth]
/// #[budget(len = 100)] // error: write `#[track_growth(len = 100)]`
/// struct Inbox { .. }
/// ```
pub(crate) fn check_item_budget(attrs: &[Attribute], what: Item, errors: &mut Errors) {
    for budget in attrs.iter().filter(|a| a.path() == BUDGET) {
        let args = match &budget.meta {
            Meta::List(list) if !list.tokens.is_empty() => list.tokens.to_string(),
            _ => "len = ..".to_string(),
        };
        let instead = match what {
            Item::Struct => "for the same budget on every tracked field, write",
            Item::Static => "a static's budget goes in its attribute,",
        };
        errors.at(
            budget.path(),
            format!(
                "`#[budget]` goes on a field, not on a {}: {instead} `#[track_growth({args})]`",
                what.name()
            ),
        );
    }
}

/// A field is either skipped or bounded, not both.
///
/// ```text
/// #[scoped_cache(max = 10)] // error: skipped
/// #[track(skip)]
/// cache: HashMap<u64, u64>,
/// ```
fn check_cache_not_skipped(field: &Field<'_>, errors: &mut Errors) {
    if let (Some((cache, _)), Kind::Skipped) = (field.attrs.cache, &field.kind) {
        errors.at(
            cache.path(),
            format!(
                "`#[scoped_cache]` on {}, which is marked `#[track(skip)]`; remove one of the two",
                field.describe()
            ),
        );
    }
}

/// Element functions measure the elements of a std collection, tracked or skipped, not the
/// entries of a bounded cache, which weighs its entries itself.
///
/// ```text
/// #[heap_size(each = uri_bytes)] // error: a map has keys and values
/// by_route: HashMap<String, Uri>,
/// #[heap_size(value = uri_bytes)] // error: a scoped cache
/// #[scoped_cache(max = 100)]
/// recent: HashMap<String, Uri>,
/// ```
fn check_element_functions(field: &Field<'_>, errors: &mut Errors) {
    let How::Each(functions) = &field.heap_size else {
        return;
    };
    if let Kind::Cache(..) = field.kind {
        errors.at(
            &functions.attr,
            format!(
                "element functions on {}, a `#[scoped_cache]`: its entries' types must implement `HeapSize`",
                field.describe()
            ),
        );
        return;
    }
    let ty = &field.original.ty;
    let inner = ast::innermost(ty);
    if !field.kind.is_tracked() && !std::ptr::eq(inner, ty) {
        errors.at(
            ty,
            "on a field leakguard does not track, element functions need the collection itself as the type; measure a wrapped one with `#[heap_size(with = path)]`",
        );
        return;
    }
    if let Err(error) = each::elements(inner, functions) {
        errors.push(error);
    }
}

/// `#[track_growth]` implements `HeapSize` itself, so deriving it too would conflict.
///
/// ```text
/// #[track_growth]
/// #[derive(HeapSize)] // error
/// struct Inbox { .. }
/// ```
fn check_no_heap_size_derive(input: &Input<'_>, errors: &mut Errors) {
    for path in attr::heap_size_derives(&input.original.attrs) {
        errors.at(
            &path,
            "#[track_growth] implements `HeapSize` already; remove it from this derive",
        );
    }
}
