//! What `#[track_growth]` records about each tracked field.

use crate::budget::Budget;

/// The static description of one tracked field, emitted by `#[track_growth]`.
#[doc(hidden)]
#[derive(Debug)]
pub struct FieldMeta {
    /// `Type.field`, as warnings and reports name the collection.
    pub name: &'static str,
    /// The struct's name.
    pub type_name: &'static str,
    /// The field's name.
    pub field: &'static str,
    /// `module_path!()` of the struct.
    pub module: &'static str,
    /// The field's budget, struct-level defaults applied.
    pub budget: Budget,
}

impl FieldMeta {
    /// A field named `type_name.field` in `module`, with no budget.
    pub const fn new(
        name: &'static str,
        type_name: &'static str,
        field: &'static str,
        module: &'static str,
    ) -> Self {
        Self {
            name,
            type_name,
            field,
            module,
            budget: Budget::unlimited(),
        }
    }

    /// This field with an entry limit.
    pub const fn len(mut self, len: usize) -> Self {
        self.budget = self.budget.with_len(len);
        self
    }

    /// This field with a byte limit.
    pub const fn bytes(mut self, bytes: usize) -> Self {
        self.budget = self.budget.with_bytes(bytes);
        self
    }
}

/// A struct whose fields `#[track_growth]` tracks: its fields' descriptions, by position.
#[doc(hidden)]
pub trait TrackedStruct {
    /// One entry per tracked field; `Tracked<_, Self, N>` reads entry `N`.
    const FIELDS: &'static [FieldMeta];
}
