//! The items the macros are applied to, as leakguard sees them: typed, with their attributes
//! parsed, and borrowing the syn input so that errors can point into it.

use syn::{
    Data, DeriveInput, Fields, GenericArgument, Ident, Member, PathArguments, PathSegment, Type,
};

use crate::attr::{self, CacheBounds, FieldAttrs, StructArgs, Track};
use crate::errors::Errors;
use crate::how::{self, How};

/// A struct, its attributes parsed.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) args: StructArgs,
    pub(crate) fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    /// How the struct reaches it: `self.name`, or `self.0` in a tuple struct.
    pub(crate) member: Member,
    /// Its name in reports after the struct's: `name`, `0`, or nothing for a newtype.
    pub(crate) name: String,
    pub(crate) attrs: FieldAttrs<'a>,
    pub(crate) kind: Kind,
    /// Belongs to the scope it is created in: `#[track(scoped)]` or
    /// `#[track_growth(scoped)]`. Not to be confused with a bounded cache, [`Kind::Cache`].
    pub(crate) in_scope: bool,
    /// How the struct's `HeapSize` counts it: `#[heap_size(skip)]`,
    /// `#[heap_size(with = path)]`, or by its own `HeapSize` (tracked or not).
    pub(crate) heap_size: How,
    /// Whether the tracked collection sits inside wrappers, like `Arc<RwLock<HashMap<..>>>`.
    pub(crate) wrapped: bool,
}

/// What leakguard does with a field.
#[derive(Clone)]
pub(crate) enum Kind {
    /// Not a collection and not opted in: left alone.
    Untracked,
    /// A std collection, tracked by default.
    Collection,
    /// Opted in with `#[track]`.
    OptedIn,
    /// A collection opted out with `#[track(skip)]`.
    Skipped,
    /// `#[scoped_cache]`: replaced by a bounded collection.
    Cache(CacheKind, CacheBounds),
}

impl Field<'_> {
    /// The field as messages name it: `` `name` ``, or `field 0` in a tuple struct.
    pub(crate) fn describe(&self) -> String {
        match &self.member {
            Member::Named(ident) => format!("`{}`", syn::ext::IdentExt::unraw(ident)),
            Member::Unnamed(index) => format!("field {}", index.index),
        }
    }
}

impl Kind {
    pub(crate) fn is_tracked(&self) -> bool {
        !matches!(self, Kind::Untracked | Kind::Skipped)
    }
}

/// The bounded collection a `#[scoped_cache]` field becomes, with the types it keeps.
#[derive(Clone)]
pub(crate) enum CacheKind {
    /// `HashMap<K, V, S>` becomes `ScopedCache<K, V, S>`.
    Map(Vec<Type>),
    /// `HashSet<T, S>` becomes `ScopedSet<T, S>`.
    Set(Vec<Type>),
    /// `Vec<T>` and `VecDeque<T>` become `ScopedRing<T>`.
    Ring(Vec<Type>),
    /// `HashMap<K, V, S>` under `shared` becomes a `SharedCache<K, V, S>`.
    Shared(Vec<Type>),
}

/// The bounded collection a field of type `ty` becomes, or why it cannot.
fn cache_kind(ty: &Type) -> Result<CacheKind, String> {
    let unsupported = |name: &str| {
        format!(
            "`#[scoped_cache]` bounds `HashMap`, `HashSet`, `Vec` and `VecDeque` fields, not `{name}`"
        )
    };
    let Some(segment) = last_segment(ty) else {
        return Err(unsupported(
            &quote::ToTokens::to_token_stream(ty).to_string(),
        ));
    };
    let args: Vec<Type> = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let name = segment.ident.to_string();
    match (name.as_str(), args.len()) {
        ("HashMap", 2 | 3) => Ok(CacheKind::Map(args)),
        ("HashSet", 1 | 2) => Ok(CacheKind::Set(args)),
        ("Vec" | "VecDeque", 1) => Ok(CacheKind::Ring(args)),
        ("HashMap" | "HashSet" | "Vec" | "VecDeque", _) => {
            let params = if name == "HashMap" { "K, V" } else { "T" };
            Err(format!(
                "`#[scoped_cache]` needs the element types written out, like `{name}<{params}>`"
            ))
        }
        ("BTreeMap" | "BTreeSet", _) => {
            let hashed = if name == "BTreeMap" {
                "HashMap"
            } else {
                "HashSet"
            };
            Err(format!(
                "`#[scoped_cache]` bounds `HashMap`, `HashSet`, `Vec` and `VecDeque` fields, not `{name}`: the bounded collection is unordered and would lose the order a `{name}` keeps; use a `{hashed}`, or keep the `{name}` and watch its size with `#[budget]`"
            ))
        }
        // The macro sees names, not types: an alias of a `HashMap` is just a name to it.
        _ if segment.arguments.is_none() && !PRIMITIVES.contains(&name.as_str()) => Err(format!(
            "{}; if `{name}` is a type alias, write out the type it stands for, like `HashMap<K, V>`",
            unsupported(&name)
        )),
        _ => Err(unsupported(&name)),
    }
}

/// Names that are never an alias of a collection, for the hint about aliases.
const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "String", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16",
    "i32", "i64", "i128", "isize", "f32", "f64",
];

/// The collections tracked by default, by the last segment of their path.
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
    // dashmap's, with leakguard's feature `dashmap`: changed through `&self`.
    "DashMap",
    "DashSet",
];

/// Whether `ty` names one of the std collections, like `Vec<T>` or `std::collections::HashMap<K, V, S>`.
pub(crate) fn is_std_collection(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_std_collection(&group.elem),
        Type::Paren(paren) => is_std_collection(&paren.elem),
        _ => last_segment(ty)
            .is_some_and(|segment| COLLECTIONS.iter().any(|name| segment.ident == name)),
    }
}

/// The segment a plain path type ends with: `HashMap<K, V>` in `std::collections::HashMap<K, V>`;
/// `None` for `<T as Trait>::Assoc` and types that are not paths.
fn last_segment(ty: &Type) -> Option<&PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

/// The types whose contents leakguard tracks through them: a field of type
/// `Arc<RwLock<HashMap<K, V>>>` tracks the map. Each takes the wrapped type as its first
/// type argument.
const WRAPPERS: &[&str] = &[
    "Arc", "Rc", "Box", "Option", "Mutex", "RwLock", "RefCell", "LazyLock", "OnceLock", "OnceCell",
    "LazyCell",
];

/// The type `ty` wraps, if it is one of the [`WRAPPERS`] written with its type argument.
fn wrapped(ty: &Type) -> Option<&Type> {
    let segment = last_segment(ty)?;
    if !WRAPPERS.iter().any(|name| segment.ident == name) {
        return None;
    }
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    }
}

/// The type inside every wrapper around `ty`: `HashMap<K, V>` in `Arc<RwLock<HashMap<K, V>>>`.
pub(crate) fn innermost(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => innermost(&group.elem),
        Type::Paren(paren) => innermost(&paren.elem),
        _ => wrapped(ty).map_or(ty, innermost),
    }
}

/// `ty` with the type inside its wrappers replaced by `with`.
pub(crate) fn replace_innermost(ty: &Type, with: Type) -> Type {
    let mut ty = ty.clone();
    replace_in(&mut ty, with);
    ty
}

fn replace_in(ty: &mut Type, with: Type) {
    match ty {
        Type::Group(group) => return replace_in(&mut group.elem, with),
        Type::Paren(paren) => return replace_in(&mut paren.elem, with),
        _ => {}
    }
    if wrapped(ty).is_none() {
        *ty = with;
        return;
    }
    let Type::Path(path) = ty else { return };
    let Some(segment) = path.path.segments.last_mut() else {
        return;
    };
    if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
        if let Some(inner) = args.args.iter_mut().find_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }) {
            replace_in(inner, with);
        }
    }
}

/// Whether `ty` is a type that is certainly not a collection, like `u64` or `bool`.
pub(crate) fn is_primitive(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|segment| {
        segment.arguments.is_none()
            && PRIMITIVES.contains(&segment.ident.to_string().as_str())
            && segment.ident != "String"
    })
}

impl<'a> Input<'a> {
    /// Reads a struct, or reports what the item is instead.
    pub(crate) fn from_syn(
        input: &'a DeriveInput,
        args: StructArgs,
        errors: &mut Errors,
    ) -> Option<Self> {
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(_) | Fields::Unnamed(_) => &data.fields,
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
                    "#[track_growth] applies to structs and statics, not enums",
                );
                return None;
            }
            Data::Union(data) => {
                errors.at(
                    data.union_token,
                    "#[track_growth] applies to structs and statics, not unions",
                );
                return None;
            }
        };
        let newtype = matches!(fields, Fields::Unnamed(_)) && fields.len() == 1;
        let fields = fields
            .iter()
            .enumerate()
            .map(|(index, original)| {
                let attrs = attr::field_attrs(&original.attrs, errors);
                let heap_size = how::how(&original.attrs, errors);
                let inner = innermost(&original.ty);
                let wrapped = !std::ptr::eq(inner, &original.ty);
                let kind = match (attrs.track, attrs.cache) {
                    (Some((_, Track::Skip)), _) => Kind::Skipped,
                    (_, Some((_, bounds))) => match cache_kind(inner) {
                        Ok(CacheKind::Map(args)) if bounds.shared => {
                            Kind::Cache(CacheKind::Shared(args), bounds)
                        }
                        Ok(_) if bounds.shared => {
                            errors.at(
                                inner,
                                "a `shared` cache is a map: write the field as `HashMap<K, V>`",
                            );
                            Kind::Untracked
                        }
                        Ok(CacheKind::Ring(_)) if bounds.max_bytes.is_some() => {
                            errors.at(
                                inner,
                                "a `Vec` or `VecDeque` cache is a ring, bounded in entries: bound it with `max`, or make it a map or a set to bound it in bytes",
                            );
                            Kind::Untracked
                        }
                        Ok(cache) => Kind::Cache(cache, bounds),
                        Err(message) => {
                            errors.at(inner, message);
                            Kind::Untracked
                        }
                    },
                    (Some((attr, Track::In { .. })), None) if is_primitive(inner) => {
                        errors.at(
                            attr,
                            format!(
                                "`#[track]` on a field of type `{}`, which holds no collection; \
                                 track a field whose type is a collection or implements `HeapSize`",
                                quote::ToTokens::to_token_stream(&original.ty)
                                    .to_string()
                                    .replace(' ', "")
                            ),
                        );
                        Kind::Untracked
                    }
                    (Some((_, Track::In { .. })), None) => Kind::OptedIn,
                    (None, None) if is_std_collection(inner) => Kind::Collection,
                    (None, None) => Kind::Untracked,
                };
                let tracked = kind.is_tracked();
                let in_scope = tracked
                    && (args.in_scope.is_some()
                        || matches!(attrs.track, Some((_, Track::In { in_scope: true }))));
                let (member, name) = match &original.ident {
                    Some(ident) => (
                        Member::Named(ident.clone()),
                        syn::ext::IdentExt::unraw(ident).to_string(),
                    ),
                    None => (
                        Member::Unnamed(syn::Index::from(index)),
                        if newtype {
                            String::new()
                        } else {
                            index.to_string()
                        },
                    ),
                };
                Field {
                    original,
                    member,
                    name,
                    attrs,
                    kind,
                    in_scope,
                    heap_size,
                    wrapped: wrapped && tracked,
                }
            })
            .collect();
        Some(Input {
            original: input,
            args,
            fields,
        })
    }
}

/// An item `#[derive(HeapSize)]` measures, with how it measures each field.
pub(crate) struct Measured<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) shape: Shape<'a>,
}

/// The fields of a struct, or of each variant of an enum.
pub(crate) enum Shape<'a> {
    Struct(Vec<MeasuredField<'a>>),
    Enum(Vec<(&'a Ident, Vec<MeasuredField<'a>>)>),
}

pub(crate) struct MeasuredField<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) how: How,
    /// Its position among every field of the item, across the variants of an enum.
    pub(crate) at: usize,
}

impl<'a> Measured<'a> {
    /// Reads a struct or an enum, or reports a union, whose live field is unknown.
    pub(crate) fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Option<Self> {
        let mut at = 0;
        let mut fields = |fields: &'a Fields, errors: &mut Errors| -> Vec<MeasuredField<'a>> {
            fields
                .iter()
                .map(|original| {
                    at += 1;
                    MeasuredField {
                        original,
                        how: how::how(&original.attrs, errors),
                        at: at - 1,
                    }
                })
                .collect()
        };
        let shape = match &input.data {
            Data::Struct(data) => Shape::Struct(fields(&data.fields, errors)),
            Data::Enum(data) => Shape::Enum(
                data.variants
                    .iter()
                    .map(|variant| (&variant.ident, fields(&variant.fields, errors)))
                    .collect(),
            ),
            Data::Union(data) => {
                errors.at(
                    data.union_token,
                    "`HeapSize` cannot be derived for a union: which field is live is unknown",
                );
                return None;
            }
        };
        Some(Measured {
            original: input,
            shape,
        })
    }

    /// Every field, across the variants of an enum.
    pub(crate) fn fields(&self) -> Vec<&MeasuredField<'a>> {
        match &self.shape {
            Shape::Struct(fields) => fields.iter().collect(),
            Shape::Enum(variants) => variants.iter().flat_map(|(_, fields)| fields).collect(),
        }
    }
}
