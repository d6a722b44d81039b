//! The rules of `#[track_growth]` that parsing one attribute at a time cannot check: one
//! function a rule, each with an example of what it rejects.

use crate::ast::{Field, Input, Kind};
use crate::attr;
use crate::errors::Errors;

/// Reports every rule `input` breaks.
pub(crate) fn validate(input: &Input<'_>, errors: &mut Errors) {
    for field in &input.fields {
        check_budget_target(field, errors);
        check_cache_not_skipped(field, errors);
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
        Kind::Untracked => errors.at(
            budget.path(),
            format!("`#[budget]` on {name}, which leakguard does not track because its type is not a std collection; add `#[track]` if its type implements `HeapSize`"),
        ),
        Kind::Skipped => errors.at(
            budget.path(),
            format!("`#[budget]` on {name}, which is marked `#[track(skip)]`; a skipped field has no budget"),
        ),
        Kind::Collection | Kind::OptedIn | Kind::Cache(..) => {}
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
