//! Where a collection's first entries came from, as events, checks and reports name it, and
//! the cell that keeps a line of code for it without a lock.

use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering::Relaxed, Ordering::Release};

use crate::meta::FieldMeta;

/// Where a collection's first entries came from: the line of the user's code that put them
/// in, the closest place to where it was made, as constructors are often derived; or, where
/// no such line reaches leakguard (content that arrives through serde, or through std's
/// `collect`, `into` or `clone`, which do not pass their caller's line on), how it came.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Site(pub(crate) Option<(&'static str, u32)>, pub(crate) Origin);

/// How a collection got its first entries where no line of the user's code is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Origin {
    /// Not known: the collection has never grown, or grew where leakguard could not see.
    #[default]
    Unknown,
    /// Deserialized as part of the struct of this name.
    Deserialized(&'static str),
    /// Built by `FromIterator`, as std's `collect()` does.
    Collected,
    /// Converted from its collection by `From`, as std's `into()` does.
    Converted,
    /// Cloned from another, by std's code.
    Cloned,
}

impl Origin {
    /// The code a slot keeps, the struct's name aside.
    pub(crate) fn code(self) -> u8 {
        match self {
            Origin::Unknown => 0,
            Origin::Deserialized(_) => 1,
            Origin::Collected => 2,
            Origin::Converted => 3,
            Origin::Cloned => 4,
        }
    }

    pub(crate) fn from_code(code: u8, meta: &FieldMeta) -> Origin {
        match code {
            1 => Origin::Deserialized(meta.type_name),
            2 => Origin::Collected,
            3 => Origin::Converted,
            4 => Origin::Cloned,
            _ => Origin::Unknown,
        }
    }

    /// What made the collection, as a report or a `site` field says it: `deserialized as
    /// `Body``, `collect()`, `into()`, `clone()`; `None` if unknown.
    pub(crate) fn describe(self) -> Option<String> {
        Some(match self {
            Origin::Unknown => return None,
            Origin::Deserialized(type_name) => format!("deserialized as `{type_name}`"),
            Origin::Collected => "collect()".to_string(),
            Origin::Converted => "into()".to_string(),
            Origin::Cloned => "clone()".to_string(),
        })
    }
}

impl Site {
    pub(crate) fn is_known(self) -> bool {
        self.0.is_some() || self.1 != Origin::Unknown
    }

    /// The site as a message says it: `first grown at src/main.rs:40`, `deserialized as
    /// `Body``, `filled by collect() (std does not pass the line on)`, or `never grown`.
    pub(crate) fn phrase(self) -> Phrase {
        Phrase(self)
    }
}

impl fmt::Display for Site {
    /// `src/main.rs:40`, `deserialized as `Body``, `collect()`, ..., or `never grown`: the
    /// value of an event's `site` field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1.describe()) {
            (Some((file, line)), _) => write!(f, "{file}:{line}"),
            (None, Some(origin)) => f.write_str(&origin),
            (None, None) => f.write_str("never grown"),
        }
    }
}

/// A [`Site`] as a message says it; see [`Site::phrase`].
pub(crate) struct Phrase(Site);

impl fmt::Display for Phrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Site(line, origin) = self.0;
        match (line, origin) {
            (Some((file, line)), _) => write!(f, "first grown at {file}:{line}"),
            (None, Origin::Deserialized(_)) => write!(f, "{}", self.0),
            (None, Origin::Unknown) => f.write_str("never grown"),
            (None, _) => write!(f, "filled by {} (std does not pass the line on)", self.0),
        }
    }
}

/// A line of code kept for a collection, or none: a `&'static Location` behind an atomic
/// pointer, so that it is read through `&self` without a lock.
#[derive(Debug, Default)]
pub(crate) struct SiteCell(AtomicPtr<Location<'static>>);

impl SiteCell {
    pub(crate) const fn empty() -> SiteCell {
        SiteCell(AtomicPtr::new(ptr::null_mut()))
    }

    pub(crate) fn get(&self) -> Option<&'static Location<'static>> {
        // SAFETY: only null or a `&'static Location` is ever stored (`set`, `set_once`).
        unsafe { self.0.load(Relaxed).as_ref() }
    }

    /// Keeps `site` unless a line is kept already.
    pub(crate) fn set_once(&self, site: &'static Location<'static>) {
        if self.get().is_none() {
            // Release on success, as the registry's figures are published: a reader of the
            // slot that sees this line, then fences, sees the generation it belongs to.
            let _ = self.0.compare_exchange(
                ptr::null_mut(),
                ptr::from_ref(site).cast_mut(),
                Release,
                Relaxed,
            );
        }
    }

    /// Keeps `site`, or none, in place of what it kept, through `&self`: for a slot being
    /// rewritten, which no one else writes meanwhile.
    pub(crate) fn store(&self, site: Option<&'static Location<'static>>) {
        let site = site.map_or(ptr::null_mut(), |site| ptr::from_ref(site).cast_mut());
        self.0.store(site, Relaxed);
    }
}

/// Whether `site` is in code the user wrote, rather than in the toolchain's library, a
/// dependency's source or leakguard's own, where `#[track_caller]` stops when content
/// arrives through `.into()`, `collect()` or serde.
///
/// The answer for each file is kept in a small cache per thread, keyed by the address of its
/// name: the three searches of the path cost more than the rest of registering a collection
/// together (issue 23's profile of a deserialized request body).
pub(crate) fn in_user_code(site: &Location<'_>) -> bool {
    let file = site.file();
    let key = file.as_ptr() as usize;
    let at = (key >> 4 ^ key >> 10) % SEEN_FILES;
    let cached = SEEN.try_with(|seen| {
        let (seen_key, seen_len, user) = seen[at].get();
        (seen_key == key && seen_len == file.len()).then_some(user)
    });
    if let Ok(Some(user)) = cached {
        return user;
    }
    let user = user_file(file);
    let _ = SEEN.try_with(|seen| seen[at].set((key, file.len(), user)));
    user
}

/// Files whose answer [`in_user_code`] keeps on each thread.
const SEEN_FILES: usize = 16;

thread_local! {
    /// The address and length of a file's name, and whether it is the user's; `(0, 0, _)`
    /// for none.
    static SEEN: [Cell<(usize, usize, bool)>; SEEN_FILES] =
        const { [const { Cell::new((0, 0, false)) }; SEEN_FILES] };
}

fn user_file(file: &str) -> bool {
    !(file.starts_with("/rustc/")
        || file.contains("/.cargo/registry/")
        || file.contains("/cargo/registry/")
        || file.starts_with(own_source()))
}

/// The folder of leakguard's own source files, as `Location` names them.
fn own_source() -> &'static str {
    let here = file!();
    here.strip_suffix("site.rs").unwrap_or(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_say_where_or_how_the_first_entries_came() {
        let line = Site(Some(("src/main.rs", 40)), Origin::Unknown);
        assert_eq!(line.to_string(), "src/main.rs:40");
        assert_eq!(line.phrase().to_string(), "first grown at src/main.rs:40");
        let body = Site(None, Origin::Deserialized("Body"));
        assert_eq!(body.to_string(), "deserialized as `Body`");
        assert_eq!(body.phrase().to_string(), "deserialized as `Body`");
        let collected = Site(None, Origin::Collected);
        assert_eq!(collected.to_string(), "collect()");
        assert_eq!(
            collected.phrase().to_string(),
            "filled by collect() (std does not pass the line on)"
        );
        assert_eq!(Site::default().phrase().to_string(), "never grown");
        assert!(!Site::default().is_known());
    }

    #[test]
    fn leakguard_s_own_lines_are_not_the_user_s() {
        assert!(!in_user_code(Location::caller()));
        assert!(own_source().ends_with("src/"), "{}", own_source());
    }

    /// The answer kept per file is that file's: asked again, the same; an entry of another
    /// file (another address or length) in its place is not taken for it.
    #[test]
    fn the_answer_kept_for_a_file_is_that_file_s() {
        let own = Location::caller();
        let key = own.file().as_ptr() as usize;
        for _ in 0..3 {
            assert!(!in_user_code(own));
        }
        // Kept: an answer planted under this file's exact key is the one given.
        let at = (key >> 4 ^ key >> 10) % SEEN_FILES;
        SEEN.with(|seen| seen[at].set((key, own.file().len(), true)));
        assert!(in_user_code(own), "the kept answer was not used");
        // Entries of other files, in every place, are not this file's.
        for at in 0..SEEN_FILES {
            SEEN.with(|seen| seen[at].set((key ^ 1, own.file().len(), true)));
        }
        assert!(!in_user_code(own), "another file's answer was taken");
        for at in 0..SEEN_FILES {
            SEEN.with(|seen| seen[at].set((key, own.file().len() + 1, true)));
        }
        assert!(!in_user_code(own), "another file's answer was taken");
    }
}
