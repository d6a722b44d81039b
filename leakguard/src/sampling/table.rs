//! The fixed tables the sampled allocations go into: call stacks, each with the cumulative
//! figures of the samples taken at it, and one record per sampled block still live. Both
//! are statics of a fixed size, claimed with compare-and-swap and never locked, so that a
//! sample costs no lock and the tables do not grow with the heap. A sample that finds a
//! table full is dropped and counted.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// The most return addresses kept of a stack, leaf first.
pub(crate) const DEPTH: usize = 48;
/// Distinct call stacks (per scope name) told apart. Smaller under miri, where every slot
/// read costs.
pub(crate) const STACKS: usize = if cfg!(miri) { 64 } else { 2048 };
/// Sampled blocks live at once. A block's record is its index in the trailer's marks, so
/// this must fit in 31 bits.
pub(crate) const RECORDS: usize = if cfg!(miri) { 256 } else { 1 << 15 };
/// How many slots an insert probes before it gives up.
const PROBES: usize = 64;

/// A stack key being written: not yet readable.
const WRITING: u64 = 1;

struct Stack {
    /// 0 for empty, [`WRITING`], else the stack's hash (never 0 or 1).
    key: AtomicU64,
    name: AtomicU32,
    depth: AtomicU32,
    frames: [AtomicUsize; DEPTH],
    /// Samples taken here, un-biased, in 1/[`OBJECT_UNIT`]s of an object.
    objects: AtomicU64,
    /// Bytes sampled here, un-biased.
    bytes: AtomicU64,
}

/// The fixed point of [`Stack::objects`].
pub(crate) const OBJECT_UNIT: f64 = 1024.0;

impl Stack {
    const fn new() -> Self {
        Self {
            key: AtomicU64::new(0),
            name: AtomicU32::new(0),
            depth: AtomicU32::new(0),
            frames: [const { AtomicUsize::new(0) }; DEPTH],
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn holds(&self, name: u32, frames: &[usize]) -> bool {
        self.name.load(Ordering::Relaxed) == name
            && self.depth.load(Ordering::Relaxed) as usize == frames.len()
            && self
                .frames
                .iter()
                .zip(frames)
                .all(|(f, ip)| f.load(Ordering::Relaxed) == *ip)
    }
}

/// A sampled block still live: its stack (index + 1; 0 for a free record, [`CLAIMED`] while
/// it is being written), its size, and its weight (the objects it stands for, an `f64`).
struct Record {
    stack: AtomicU32,
    size: AtomicU64,
    weight: AtomicU64,
}

const CLAIMED: u32 = u32::MAX;

static STACK_TABLE: [Stack; STACKS] = [const { Stack::new() }; STACKS];
static RECORD_TABLE: [Record; RECORDS] = [const {
    Record {
        stack: AtomicU32::new(0),
        size: AtomicU64::new(0),
        weight: AtomicU64::new(0),
    }
}; RECORDS];
/// Where the next search for a free record starts.
static NEXT_RECORD: AtomicUsize = AtomicUsize::new(0);

/// Samples dropped because the stack table or the record table was full.
static DROPPED_STACKS: AtomicU64 = AtomicU64::new(0);
static DROPPED_RECORDS: AtomicU64 = AtomicU64::new(0);

/// FNV-1a over the name and the frames, never 0 or 1.
fn hash(name: u32, frames: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in std::iter::once(name as usize).chain(frames.iter().copied()) {
        h ^= word as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | 2
}

/// The index of the stack of `frames` under scope name `name`, inserted if new; `None` if
/// the table has no room for it.
fn stack_index(name: u32, frames: &[usize]) -> Option<usize> {
    let frames = &frames[..frames.len().min(DEPTH)];
    let key = hash(name, frames);
    let start = key as usize % STACKS;
    for probe in 0..PROBES {
        let at = (start + probe) % STACKS;
        let stack = &STACK_TABLE[at];
        let found = stack.key.load(Ordering::Acquire);
        if found == key && stack.holds(name, frames) {
            return Some(at);
        }
        if found == 0
            && stack
                .key
                .compare_exchange(0, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            stack.name.store(name, Ordering::Relaxed);
            stack.depth.store(frames.len() as u32, Ordering::Relaxed);
            for (slot, ip) in stack.frames.iter().zip(frames) {
                slot.store(*ip, Ordering::Relaxed);
            }
            stack.key.store(key, Ordering::Release);
            return Some(at);
        }
    }
    None
}

/// Records a sample: a block of `size` bytes standing for `weight` blocks, allocated at
/// `frames` under scope name `name`. Returns the record's index, `None` if dropped.
pub(crate) fn record(name: u32, frames: &[usize], size: usize, weight: f64) -> Option<u32> {
    let Some(stack) = stack_index(name, frames) else {
        DROPPED_STACKS.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let entry = &STACK_TABLE[stack];
    entry
        .objects
        .fetch_add((weight * OBJECT_UNIT) as u64, Ordering::Relaxed);
    entry
        .bytes
        .fetch_add((weight * size as f64) as u64, Ordering::Relaxed);
    let start = NEXT_RECORD.fetch_add(1, Ordering::Relaxed);
    for probe in 0..PROBES {
        let at = (start + probe) % RECORDS;
        let record = &RECORD_TABLE[at];
        if record
            .stack
            .compare_exchange(0, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            record.size.store(size as u64, Ordering::Relaxed);
            record.weight.store(weight.to_bits(), Ordering::Relaxed);
            record.stack.store(stack as u32 + 1, Ordering::Release);
            return Some(at as u32);
        }
    }
    DROPPED_RECORDS.fetch_add(1, Ordering::Relaxed);
    None
}

/// The sampled block of record `at` was freed.
#[inline]
pub(crate) fn release(at: u32) {
    if let Some(record) = RECORD_TABLE.get(at as usize) {
        record.stack.store(0, Ordering::Release);
    }
}

/// One stack's figures, read for a profile.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StackFigures {
    /// Scope name index, as [`accounts::by_name`](crate::accounts::by_name) orders names.
    pub(crate) name: u32,
    /// Return addresses, leaf first.
    pub(crate) frames: Vec<usize>,
    pub(crate) alloc_objects: f64,
    pub(crate) alloc_bytes: f64,
    pub(crate) inuse_objects: f64,
    pub(crate) inuse_bytes: f64,
}

/// Every stack with its cumulative and live figures, un-biased.
pub(crate) fn read() -> Vec<StackFigures> {
    let mut stacks: Vec<Option<StackFigures>> = Vec::with_capacity(STACKS);
    for stack in &STACK_TABLE {
        let key = stack.key.load(Ordering::Acquire);
        stacks.push((key > WRITING).then(|| {
            let depth = (stack.depth.load(Ordering::Relaxed) as usize).min(DEPTH);
            StackFigures {
                name: stack.name.load(Ordering::Relaxed),
                frames: stack.frames[..depth]
                    .iter()
                    .map(|f| f.load(Ordering::Relaxed))
                    .collect(),
                alloc_objects: stack.objects.load(Ordering::Relaxed) as f64 / OBJECT_UNIT,
                alloc_bytes: stack.bytes.load(Ordering::Relaxed) as f64,
                ..StackFigures::default()
            }
        }));
    }
    for record in &RECORD_TABLE {
        let stack = record.stack.load(Ordering::Acquire);
        if stack == 0 || stack == CLAIMED {
            continue;
        }
        let size = record.size.load(Ordering::Relaxed) as f64;
        let weight = f64::from_bits(record.weight.load(Ordering::Relaxed));
        if let Some(Some(figures)) = stacks.get_mut(stack as usize - 1) {
            figures.inuse_objects += weight;
            figures.inuse_bytes += weight * size;
        }
    }
    stacks.into_iter().flatten().collect()
}

/// Samples dropped so far because the stack table, or the record table, was full.
pub(crate) fn dropped() -> (u64, u64) {
    (
        DROPPED_STACKS.load(Ordering::Relaxed),
        DROPPED_RECORDS.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_adds_to_its_stack_until_released() {
        let frames = [0x1234_5678, 0x9abc, usize::MAX - 7];
        let at = record(7, &frames, 1000, 2.0).expect("room");
        let again = record(7, &frames, 500, 1.0).expect("room");
        assert_ne!(at, again);
        let find = || {
            read()
                .into_iter()
                .find(|s| s.name == 7 && s.frames == frames)
                .expect("the stack")
        };
        let figures = find();
        assert_eq!(figures.alloc_objects, 3.0);
        assert_eq!(figures.alloc_bytes, 2500.0);
        assert_eq!(figures.inuse_objects, 3.0);
        assert_eq!(figures.inuse_bytes, 2500.0);
        release(at);
        let figures = find();
        assert_eq!((figures.inuse_objects, figures.inuse_bytes), (1.0, 500.0));
        assert_eq!(figures.alloc_bytes, 2500.0, "cumulative");
        release(again);
        assert_eq!(find().inuse_bytes, 0.0);
        // The same frames under another name are another stack.
        let other = record(8, &frames, 10, 1.0).expect("room");
        release(other);
        assert_eq!(find().alloc_bytes, 2500.0);
    }

    #[test]
    fn the_tables_are_fixed_at_about_1_6_mb() {
        let bytes = std::mem::size_of_val(&STACK_TABLE) + std::mem::size_of_val(&RECORD_TABLE);
        if !cfg!(miri) {
            assert!((1_500_000..1_700_000).contains(&bytes), "{bytes} B");
        }
    }
}
