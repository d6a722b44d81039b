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
