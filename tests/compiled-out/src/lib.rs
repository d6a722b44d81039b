//! Structs annotated with `#[track_growth]` beside their plain twins.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Whether this build expects instrumentation on: only with the `production` feature.
pub const EXPECT_ON: bool = cfg!(feature = "production");

#[leakguard::track_growth(len = 4, bytes = "1 KiB")]
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Annotated {
    pub messages: Vec<String>,
    pub index: HashMap<u64, String>,
    pub queue: VecDeque<u32>,
    pub tree: BTreeMap<u32, u32>,
    pub seen: HashSet<u64>,
    pub name: String,
    pub count: u64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plain {
    pub messages: Vec<String>,
    pub index: HashMap<u64, String>,
    pub queue: VecDeque<u32>,
    pub tree: BTreeMap<u32, u32>,
    pub seen: HashSet<u64>,
    pub name: String,
    pub count: u64,
}

/// A struct with a bounded cache field beside a tracked one, and its plain twin.
#[leakguard::track_growth]
#[derive(Default)]
pub struct WithCache {
    #[scoped_cache(max = 100)]
    pub recent: HashMap<u64, String>,
    pub log: Vec<String>,
}

#[derive(Default)]
pub struct PlainWithCache {
    pub recent: HashMap<u64, String>,
    pub log: Vec<String>,
}
