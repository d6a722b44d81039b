//! What `#[track_growth]` records about each tracked field.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::panic::Location;
use std::sync::Mutex;

use crate::budget::Budget;
use crate::cache::{Config, ScopedCache, ScopedCacheBuilder, ScopedRing, ScopedSet};
use crate::error::ConfigError;
use crate::sync::lock;

/// The static description of one tracked field, emitted by `#[track_growth]`.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct FieldMeta {
    /// `Type.field`, as warnings and reports name the collection.
    pub name: &'static str,
    /// The struct's name.
    pub type_name: &'static str,
    /// The field's name.
    pub field: &'static str,
    /// `module_path!()` of the struct.
    pub module: &'static str,
    /// Where the struct is defined: `file!()`, `line!()`, `column!()`.
    pub defined_at: (&'static str, u32, u32),
    /// The field's budget, struct-level defaults applied.
    pub budget: Budget,
    /// `#[scoped_cache(max = .., ttl = ..)]`: the bound (0 for none) and the TTL in
    /// nanoseconds (0 for none).
    pub cache: (usize, u64),
    /// `#[track_growth(scoped)]` or `#[track(scoped)]`: the collection belongs to the scope
    /// it is created in.
    pub scoped: bool,
    /// A `static`'s collection: process-wide, never counted as made inside a test check.
    pub global: bool,
    /// `#[scoped_cache(max_bytes = ..)]`: the bound in bytes, 0 for none.
    pub cache_bytes: usize,
}

impl FieldMeta {
    /// A field named `type_name.field` of a struct defined in `module` at `defined_at`,
    /// with no budget.
    pub const fn new(
        name: &'static str,
        type_name: &'static str,
        field: &'static str,
        module: &'static str,
        defined_at: (&'static str, u32, u32),
    ) -> Self {
        Self {
            name,
            type_name,
            field,
            module,
            defined_at,
            budget: Budget::unlimited(),
            cache: (0, 0),
            scoped: false,
            global: false,
            cache_bytes: 0,
        }
    }

    /// This field as a cache bounded to `bytes` bytes.
    pub const fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// This collection as process-wide, as a `static`'s is.
    pub const fn global(mut self) -> Self {
        self.global = true;
        self
    }

    /// This field as belonging to the scope it is created in.
    pub const fn scoped(mut self) -> Self {
        self.scoped = true;
        self
    }

    /// This field as a scoped cache bounded to `max` entries (0 for no bound) and
    /// expiring entries after `ttl_nanos` (0 for never).
    pub const fn cache(mut self, max: usize, ttl_nanos: u64) -> Self {
        self.cache = (max, ttl_nanos);
        self
    }

    /// The configuration of a `#[scoped_cache]` field, with the clock of this thread.
    fn cache_config(&self) -> Config {
        let (max, ttl) = self.cache;
        let mut builder = ScopedCacheBuilder::default();
        if max != 0 {
            builder = builder.max(max);
        }
        if ttl != 0 {
            builder = builder.ttl(std::time::Duration::from_nanos(ttl));
        }
        if self.cache_bytes != 0 {
            builder = builder.max_bytes(self.cache_bytes);
        }
        // The macro rejects configurations that do not validate; keep the field usable
        // (bounded to one entry) should one ever get through.
        builder.config().unwrap_or_else(|_| {
            ScopedCacheBuilder::default()
                .max(1)
                .config()
                .expect("max = 1 is valid")
        })
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

/// What identifies a tracked field: its name and where its struct is defined.
///
/// Not the address of its [`FieldMeta`]: the compiler may merge identical descriptions of
/// two types, or duplicate one type's across codegen units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FieldKey {
    name: &'static str,
    module: &'static str,
    defined_at: (&'static str, u32, u32),
}

impl FieldKey {
    /// The key of what is not a field: the heap accounts of [`Alloc`](crate::Alloc), for
    /// the fingerprints of their findings.
    pub(crate) const HEAP: FieldKey = FieldKey {
        name: "heap",
        module: "leakguard",
        defined_at: ("", 0, 0),
    };
}

impl FieldMeta {
    pub(crate) fn key(&self) -> FieldKey {
        FieldKey {
            name: self.name,
            module: self.module,
            defined_at: self.defined_at,
        }
    }
}

/// A struct whose fields `#[track_growth]` tracks: its fields' descriptions, by position.
#[doc(hidden)]
pub trait TrackedStruct {
    /// One entry per tracked field; `Tracked<_, Self, N>` reads entry `N`.
    const FIELDS: &'static [FieldMeta];
    /// Whether the struct has type or const parameters: each instantiation is then a
    /// collection of its own, named after it (`Registry<u64, String>.map`).
    const GENERIC: bool = false;
}

/// The description of field `index` of `O`: for a generic struct, the one of this
/// instantiation, made once per instantiation and field for the life of the process.
#[inline(always)]
pub(crate) fn field_meta<O: TrackedStruct>(index: usize) -> &'static FieldMeta {
    let meta = &O::FIELDS[index];
    if O::GENERIC {
        instantiation(std::any::type_name::<O>(), meta)
    } else {
        meta
    }
}

/// What a new collection of field `index` of `O` registers with: [`field_meta`], or, with
/// instrumentation compiled out, where nothing registers, the field's description as
/// written, which costs nothing to find.
#[inline(always)]
pub(crate) fn registered_meta<O: TrackedStruct>(index: usize) -> &'static FieldMeta {
    if crate::mode::ENABLED {
        field_meta::<O>(index)
    } else {
        &O::FIELDS[index]
    }
}

/// The descriptions of the fields of generic structs, by the instantiation's type name and
/// the field's name.
type Instantiations = HashMap<(&'static str, &'static str), &'static FieldMeta>;

static INSTANTIATIONS: Mutex<Option<Instantiations>> = Mutex::new(None);

#[inline(never)]
fn instantiation(type_name: &'static str, generic: &'static FieldMeta) -> &'static FieldMeta {
    let mut known = lock(&INSTANTIATIONS);
    let known = known.get_or_insert_with(HashMap::new);
    known.entry((type_name, generic.field)).or_insert_with(|| {
        let type_name: &'static str = Box::leak(short_type_name(type_name).into_boxed_str());
        let name = Box::leak(format!("{type_name}.{}", generic.field).into_boxed_str());
        Box::leak(Box::new(FieldMeta {
            name,
            type_name,
            ..*generic
        }))
    })
}

/// `type_name` with every path cut to its last segment, as a user writes the type:
/// `app::Registry<u64, alloc::string::String>` is `Registry<u64, String>`.
pub(crate) fn short_type_name(type_name: &str) -> String {
    let mut short = String::with_capacity(type_name.len());
    let mut segment_start = 0;
    for (at, c) in type_name.char_indices() {
        if c.is_alphanumeric() || c == '_' {
            continue;
        }
        if c == ':' {
            // `::` ends a path segment: what came before it goes.
            segment_start = at + 1;
            continue;
        }
        short.push_str(&type_name[segment_start..at]);
        short.push(c);
        segment_start = at + c.len_utf8();
    }
    short.push_str(&type_name[segment_start..]);
    short
}

/// How a tracked field's collection is created: `Default` for plain collections, the
/// field's `#[scoped_cache]` settings for scoped ones.
#[doc(hidden)]
pub trait FromMeta {
    /// A new, empty collection for the field `meta` describes.
    fn from_meta(meta: &'static FieldMeta) -> Self;
}

impl<C: Default> FromMeta for C {
    fn from_meta(_: &'static FieldMeta) -> Self {
        C::default()
    }
}

impl<K, V, S> FromMeta for ScopedCache<K, V, S>
where
    K: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    fn from_meta(meta: &'static FieldMeta) -> Self {
        ScopedCache::with_config(meta.cache_config())
    }
}

impl<T, S> FromMeta for ScopedSet<T, S>
where
    T: Eq + Hash + Clone,
    S: BuildHasher + Default,
{
    fn from_meta(meta: &'static FieldMeta) -> Self {
        ScopedSet::from_cache(ScopedCache::with_config(meta.cache_config()))
    }
}

impl<T> FromMeta for ScopedRing<T> {
    fn from_meta(meta: &'static FieldMeta) -> Self {
        ScopedRing::with_config(meta.cache_config())
    }
}

/// The descriptions of collections named at run time, one per name and call site.
static NAMED: Mutex<Option<HashMap<(String, &'static Location<'static>), &'static FieldMeta>>> =
    Mutex::new(None);

/// The description of a collection named `name` at `at` at run time (a named cache, a
/// `SharedCache`): made once per name and call site for the life of the process, so names
/// are meant to come from code, not from data. An empty name is an error naming the
/// setting, as `tracked!("")` is a compile error.
pub(crate) fn named(
    name: &str,
    at: &'static Location<'static>,
) -> Result<&'static FieldMeta, ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::Invalid {
            setting: "name",
            requirement: "at least one character",
        });
    }
    let mut named = lock(&NAMED);
    let named = named.get_or_insert_with(HashMap::new);
    Ok(named.entry((name.to_string(), at)).or_insert_with(|| {
        let name: &'static str = Box::leak(name.to_string().into_boxed_str());
        Box::leak(Box::new(FieldMeta::new(
            name,
            name,
            "",
            "",
            (at.file(), at.line(), at.column()),
        )))
    }))
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_keep_the_last_segment_of_every_path() {
        assert_eq!(
            short_type_name("app::state::Registry<u64, alloc::string::String>"),
            "Registry<u64, String>"
        );
        assert_eq!(
            short_type_name("app::Registry<alloc::string::String, alloc::vec::Vec<u8>>"),
            "Registry<String, Vec<u8>>"
        );
        assert_eq!(
            short_type_name(
                "app::Pair<&'static str, [core::option::Option<u8>; 4], (i32, app::Id)>"
            ),
            "Pair<&'static str, [Option<u8>; 4], (i32, Id)>"
        );
        assert_eq!(short_type_name("Plain"), "Plain");
    }
}
