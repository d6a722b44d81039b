//! What the detectors find, each kind with the figures its event reports, and the
//! fingerprint that tells one leak from another.

use std::borrow::Cow;

use crate::budget::{Crossing, Limit};
use crate::clock::Nanos;
use crate::meta::{FieldKey, FieldMeta};
use crate::recipient::Recipient;
use crate::registry::Site;
use crate::report::Report;
use crate::scope::Outside;

/// One thing worth an event.
#[derive(Clone)]
pub(crate) enum Finding {
    /// A collection went over a limit of its budget.
    OverBudget {
        meta: &'static FieldMeta,
        crossing: Crossing,
        site: Site,
        /// The test check the collection was made under, 0 for none.
        test: u32,
        /// Which collection, when this is its crossing after it fell back under, so that it
        /// is never taken for a repeat of another's; 0 for its first.
        again: u64,
    },
    /// A collection holds far more than it uses, in its own storage or inside its entries.
    HoardedCapacity {
        meta: &'static FieldMeta,
        site: Site,
        /// Which collection, when it hoards again after it let go; 0 for its first hoard.
        again: u64,
        cause: Hoard,
        len: usize,
        capacity: usize,
        /// The unused bytes of what `cause` names: the storage's or the entries'.
        unused: usize,
        /// The collection's heap, storage and entries.
        bytes: usize,
    },
    /// Scoped collections alive after their scope ended.
    Outlived(Outlived),
    /// A collection that grew at every sample of a run.
    SuspectedLeak(Suspect),
    /// A scope name whose ended instances hold more heap at every sample of a run.
    Retained(Retained),
    /// The heap allocated outside any scope, larger at every sample of a run.
    Unscoped(Unscoped),
    /// The periodic report.
    Report(Report),
    /// A scoped collection created outside any scope, and why that is likely: said once
    /// per process.
    NoScope(&'static FieldMeta, Outside),
}

/// Where a collection's unused bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Hoard {
    /// Spare capacity of the collection's own storage: a map after deletes.
    Storage,
    /// Spare capacity inside its entries: strings or buffers built with a large capacity.
    Entries,
}

impl Hoard {
    /// The value of the event's `cause` field.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Hoard::Storage => "storage",
            Hoard::Entries => "entries",
        }
    }
}

/// Collections found alive after their scope ended, grouped as one leak.
#[derive(Clone)]
pub(crate) struct Outlived {
    pub(crate) meta: &'static FieldMeta,
    pub(crate) scope: Cow<'static, str>,
    pub(crate) site: Site,
    /// Collections found to have outlived their scope in this check.
    pub(crate) instances: u64,
    /// Collections of this leak alive and known to have outlived their scope, these and
    /// those found before: what the report counts.
    pub(crate) alive: u64,
    /// Figures of the oldest of them.
    pub(crate) len: usize,
    pub(crate) bytes: usize,
    pub(crate) age: Nanos,
    /// How long ago the scope ended.
    pub(crate) since_end: Nanos,
    /// The subscriber current where the scopes began, which is told.
    pub(crate) recipient: Recipient,
}

/// A collection that grew at every sample of a run.
#[derive(Clone)]
pub(crate) struct Suspect {
    pub(crate) meta: &'static FieldMeta,
    pub(crate) site: Site,
    pub(crate) len: usize,
    pub(crate) bytes: usize,
    pub(crate) samples: u32,
    pub(crate) len_per_sec: f64,
    pub(crate) bytes_per_sec: f64,
}

/// A scope name whose ended instances hold more of the heap at every sample of a run.
#[derive(Clone)]
pub(crate) struct Retained {
    pub(crate) scope: Cow<'static, str>,
    pub(crate) bytes: usize,
    pub(crate) instances: usize,
    pub(crate) samples: u32,
    pub(crate) bytes_per_sec: f64,
    /// Where the scope's live bytes were allocated, from the heap profile's samples: its
    /// top sites with their bytes, or empty without samples.
    pub(crate) sites: String,
}

/// The heap allocated outside any scope, larger at every sample of a run: a suspected
/// leak no scope can be blamed for.
#[derive(Clone)]
pub(crate) struct Unscoped {
    pub(crate) bytes: usize,
    pub(crate) blocks: usize,
    pub(crate) samples: u32,
    pub(crate) bytes_per_sec: f64,
}

/// What an event is about: its kind and what distinguishes one leak from another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint {
    pub(crate) kind: Kind,
    /// Which field: one per `Type.field`, even where two types share a name.
    pub(crate) field: FieldKey,
    /// The collection's `Type.field`.
    pub(crate) collection: &'static str,
    /// Where it first grew, if known.
    pub(crate) site: Site,
    /// The scope's name, the budget limit and level, or nothing.
    pub(crate) detail: Detail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    OverBudget,
    Outlived,
    SuspectedLeak,
    HoardedCapacity,
    Retained,
}

/// The `scope` of what was allocated outside any scope, as the heap report names it.
pub(crate) const UNSCOPED: &str = "unscoped";

/// Most bytes of a scope's name a fingerprint keeps.
pub(crate) const MAX_DETAIL: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Detail {
    None,
    /// The scope's name, cut to [`MAX_DETAIL`] bytes: rate tables are bounded in bytes.
    Scope(String),
    Budget {
        limit: Limit,
        level: u8,
    },
    /// Where a hoard is: the storage's and the entries' are two leaks.
    Hoard(Hoard),
}

impl Detail {
    pub(crate) fn scope(name: &str) -> Detail {
        let mut at = name.len().min(MAX_DETAIL);
        while !name.is_char_boundary(at) {
            at -= 1;
        }
        Detail::Scope(name[..at].to_string())
    }
}

impl Finding {
    /// The subscriber it is for, if it is for one rather than for every subscriber.
    pub(crate) fn recipient(&self) -> Option<&Recipient> {
        match self {
            Finding::Outlived(leak) => Some(&leak.recipient),
            _ => None,
        }
    }

    /// The `kind` its event carries, or `None` for a report.
    pub(crate) fn kind_name(&self) -> Option<&'static str> {
        Some(match self {
            Finding::OverBudget { .. } => "over_budget",
            Finding::HoardedCapacity { .. } => "hoarded_capacity",
            Finding::Outlived(_) => "outlived",
            Finding::SuspectedLeak(_) | Finding::Unscoped(_) => "suspected_leak",
            Finding::Retained(_) => "retained",
            Finding::NoScope(..) => "no_scope",
            Finding::Report(_) => return None,
        })
    }

    /// The fingerprint it is rate-limited by, how many occurrences it stands for, and the
    /// collection it is about when it is that collection's return after it re-armed (0
    /// otherwise); `None` for what is never rate-limited.
    pub(crate) fn fingerprint(&self) -> Option<(Fingerprint, u64, u64)> {
        let (kind, meta, site, detail, count, instance) = match self {
            Finding::OverBudget {
                meta,
                crossing,
                again,
                ..
            } => (
                Kind::OverBudget,
                *meta,
                Site::default(),
                Detail::Budget {
                    limit: crossing.limit,
                    level: crossing.level,
                },
                1,
                *again,
            ),
            Finding::HoardedCapacity {
                meta,
                site,
                again,
                cause,
                ..
            } => (
                Kind::HoardedCapacity,
                *meta,
                *site,
                Detail::Hoard(*cause),
                1,
                *again,
            ),
            Finding::Outlived(leak) => (
                Kind::Outlived,
                leak.meta,
                leak.site,
                Detail::scope(&leak.scope),
                leak.instances,
                0,
            ),
            Finding::SuspectedLeak(suspect) => (
                Kind::SuspectedLeak,
                suspect.meta,
                suspect.site,
                Detail::None,
                1,
                0,
            ),
            Finding::Retained(retained) => {
                return Some((heap(Kind::Retained, Detail::scope(&retained.scope)), 1, 0));
            }
            Finding::Unscoped(_) => {
                let detail = Detail::Scope(UNSCOPED.to_string());
                return Some((heap(Kind::SuspectedLeak, detail), 1, 0));
            }
            Finding::Report(_) | Finding::NoScope(..) => return None,
        };
        let fingerprint = Fingerprint {
            kind,
            field: meta.key(),
            collection: meta.name,
            site,
            detail,
        };
        Some((fingerprint, count, instance))
    }
}

/// The fingerprint of a finding about the heap of a scope name, rather than a collection.
fn heap(kind: Kind, detail: Detail) -> Fingerprint {
    Fingerprint {
        kind,
        field: FieldKey::HEAP,
        collection: "heap",
        site: Site::default(),
        detail,
    }
}
