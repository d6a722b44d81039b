//! The names users write in attributes, as constants, so that a misspelling fails to compile.

use std::fmt;
use syn::{Ident, Path};

/// The name of an attribute or of one of its arguments.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

pub(crate) const TRACK_GROWTH: Symbol = Symbol("track_growth");
pub(crate) const TRACKED: Symbol = Symbol("tracked!");
pub(crate) const BUDGET: Symbol = Symbol("budget");
pub(crate) const TRACK: Symbol = Symbol("track");
pub(crate) const HEAP_SIZE: Symbol = Symbol("heap_size");
pub(crate) const SCOPED_CACHE: Symbol = Symbol("scoped_cache");

pub(crate) const LEN: Symbol = Symbol("len");
pub(crate) const BYTES: Symbol = Symbol("bytes");
pub(crate) const SKIP: Symbol = Symbol("skip");
pub(crate) const SCOPED: Symbol = Symbol("scoped");
pub(crate) const WITH: Symbol = Symbol("with");
pub(crate) const EACH: Symbol = Symbol("each");
pub(crate) const KEY: Symbol = Symbol("key");
pub(crate) const VALUE: Symbol = Symbol("value");
pub(crate) const MAX: Symbol = Symbol("max");
pub(crate) const TTL: Symbol = Symbol("ttl");
pub(crate) const MAX_BYTES: Symbol = Symbol("max_bytes");
pub(crate) const SHARED: Symbol = Symbol("shared");

impl PartialEq for Symbol {
    fn eq(&self, other: &Symbol) -> bool {
        self.0 == other.0
    }
}

impl Symbol {
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
