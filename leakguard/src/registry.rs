//! The registry of live tracked collections: one slot per collection, holding the figures
//! it publishes, for the sampler and for reports to read without touching the collection.
//!
//! Slots live in fixed chunks that are never freed, so a slot's address is stable and
//! readers need no lock; a dropped collection's slot goes back to a free list and is reused,
//! so the registry's memory is bounded by the most collections ever live at once. Each
//! thread keeps the slots its collections gave back at hand (a few dozen at most, returned
//! when the thread ends), so that registering and releasing one takes no lock in the common
//! case; a thread never takes a never-used slot before it needs it.

use std::cell::RefCell;
use std::fmt;
use std::panic::Location;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

use crate::accounts::Own;
use crate::meta::FieldMeta;
use crate::sync::lock;

/// Where a collection first grew, as file and line, if it has: the closest place in the
/// user's code to where it was made, as constructors are often derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Site(pub(crate) Option<(&'static str, u32)>);

impl Site {
    pub(crate) fn is_known(self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Display for Site {
    /// `src/main.rs:40`, or `never grown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((file, line)) => write!(f, "{file}:{line}"),
            None => f.write_str("never grown"),
        }
    }
}

/// Slots per chunk.
const CHUNK: usize = 1024;
/// Most chunks: 4 million slots.
const CHUNKS: usize = 4096;

/// The figures and identity of one live tracked collection.
///
/// Written by the collection's owner (figures) and read by anyone; the sampler keeps its
/// own bookkeeping in the `sampled_*` fields.
#[derive(Default)]
pub(crate) struct Slot {
    /// The field's description; null while the slot is free.
    meta: AtomicPtr<FieldMeta>,
    /// The generation in the high 32 bits, bumped each time the slot is taken so that a
    /// reader can tell a reused slot, and the flags ([`FLAG_OVER_BUDGET`], ...) in the low
    /// 8: one word, so that a flag is set for one generation only.
    state: AtomicU64,
    pub(crate) len: AtomicUsize,
    pub(crate) bytes: AtomicUsize,
    pub(crate) unused: AtomicUsize,
    /// Where the collection first grew: the closest place in the user's code to where it
    /// was made, as constructors are often derived.
    grown_at: AtomicPtr<Location<'static>>,
    /// The scope it belongs to, 0 for none, and the hash of the scope's name.
    pub(crate) scope: AtomicU64,
    pub(crate) scope_name: AtomicU64,
    /// The test check it was created under, 0 for none.
    pub(crate) test: AtomicU32,
    /// The test check whose thread last changed it, 0 for none: a collection made before a
    /// check can still grow in it.
    pub(crate) touched: AtomicU32,
    /// When it was registered, on the registry's clock.
    pub(crate) born: AtomicU64,
    /// The sampler's view: the generation it last saw, the figures then, and how many
    /// samples in a row they grew.
    pub(crate) sampled_generation: AtomicU32,
    pub(crate) sampled_len: AtomicUsize,
    pub(crate) sampled_bytes: AtomicUsize,
    pub(crate) sampled_at: AtomicU64,
    pub(crate) streak: AtomicU32,
    pub(crate) first_growth_at: AtomicU64,
    pub(crate) first_growth_bytes: AtomicUsize,
    pub(crate) first_growth_len: AtomicUsize,
}

/// What one live collection published, read from its slot at one moment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Published {
    pub(crate) meta: &'static FieldMeta,
    pub(crate) generation: u32,
    pub(crate) len: usize,
    pub(crate) bytes: usize,
    pub(crate) unused: usize,
    pub(crate) flags: u8,
    pub(crate) site: Site,
    pub(crate) scope: u64,
    pub(crate) scope_name: u64,
    pub(crate) test: u32,
    pub(crate) touched: u32,
    pub(crate) born: u64,
}

impl Published {
    pub(crate) fn has_flag(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The generation held in a slot's state word.
fn generation(state: u64) -> u32 {
    (state >> 32) as u32
}

pub(crate) const FLAG_OVER_BUDGET: u8 = 1;
pub(crate) const FLAG_OUTLIVED: u8 = 2;
pub(crate) const FLAG_SUSPECTED: u8 = 4;

impl Slot {
    /// The description of the collection in this slot, if it is taken.
    pub(crate) fn meta(&self) -> Option<&'static FieldMeta> {
        let meta = self.meta.load(Acquire);
        // SAFETY: only `&'static FieldMeta` are ever stored.
        unsafe { meta.as_ref() }
    }

    /// Where the collection first grew.
    pub(crate) fn site(&self) -> Site {
        // SAFETY: only `&'static Location` are ever stored.
        let location = unsafe { self.grown_at.load(Relaxed).as_ref() };
        Site(location.map(|l| (l.file(), l.line())))
    }

    /// What the collection in this slot published, if the slot is taken and was not taken
    /// again while it was read.
    pub(crate) fn read(&self) -> Option<Published> {
        let state = self.state.load(Acquire);
        let meta = self.meta()?;
        let published = Published {
            meta,
            generation: generation(state),
            len: self.len.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            unused: self.unused.load(Relaxed),
            flags: state as u8,
            site: self.site(),
            scope: self.scope.load(Relaxed),
            scope_name: self.scope_name.load(Relaxed),
            test: self.test.load(Relaxed),
            touched: self.touched.load(Relaxed),
            born: self.born.load(Relaxed),
        };
        // A collection released and another registered meanwhile: the figures may mix both.
        (generation(self.state.load(Acquire)) == published.generation).then_some(published)
    }

    /// Records where the collection first grew, once.
    pub(crate) fn grew_at(&self, site: &'static Location<'static>) {
        if !self.grown_at.load(Relaxed).is_null() {
            return;
        }
        let _ = self.grown_at.compare_exchange(
            ptr::null_mut(),
            ptr::from_ref(site).cast_mut(),
            Relaxed,
            Relaxed,
        );
    }

    /// Sets or clears `flag` of the collection of `generation`; does nothing, and returns
    /// `false`, if the slot has been taken by another collection since.
    pub(crate) fn set_flag(&self, generation: u32, flag: u8, on: bool) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            if self::generation(state) != generation {
                return false;
            }
            let flags = if on {
                state as u8 | flag
            } else {
                state as u8 & !flag
            };
            let new = (state & !0xff) | u64::from(flags);
            if new == state {
                return true;
            }
            match self
                .state
                .compare_exchange_weak(state, new, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// A number for the collection in this slot that tells it from every other live one,
    /// and from those that held the slot before it.
    pub(crate) fn instance(&self) -> u64 {
        (ptr::from_ref(self) as usize as u64) ^ (u64::from(self.generation()) << 48)
    }

    /// The generation of the collection in this slot now.
    pub(crate) fn generation(&self) -> u32 {
        generation(self.state.load(Relaxed))
    }
}

struct Registry {
    chunks: [AtomicPtr<[Slot; CHUNK]>; CHUNKS],
    /// Slots handed out at least once; every slot below is readable.
    high_water: AtomicUsize,
    free: Mutex<Vec<&'static Slot>>,
}

static REGISTRY: Registry = Registry {
    chunks: [const { AtomicPtr::new(ptr::null_mut()) }; CHUNKS],
    high_water: AtomicUsize::new(0),
    free: Mutex::new(Vec::new()),
};

/// The slot at `index`, if its chunk exists.
fn slot_at(index: usize) -> Option<&'static Slot> {
    let chunk = REGISTRY.chunks.get(index / CHUNK)?.load(Acquire);
    // SAFETY: chunks are allocated once, never freed, and only ever published whole.
    let chunk = unsafe { chunk.as_ref()? };
    Some(&chunk[index % CHUNK])
}

/// Hands out never-used slots, allocating their chunk the first time.
fn fresh(count: usize) -> Vec<&'static Slot> {
    let _own = Own::start();
    let start = REGISTRY.high_water.fetch_add(count, Relaxed);
    let end = (start + count).min(CHUNK * CHUNKS);
    let mut slots = Vec::with_capacity(end.saturating_sub(start));
    for index in start..end {
        let cell = &REGISTRY.chunks[index / CHUNK];
        if cell.load(Acquire).is_null() {
            // Built in place on the heap: a chunk is 128 KiB, more than the stack of many a
            // thread of a pool or async runtime has, so it must never pass through the stack.
            let chunk: Box<[Slot]> = (0..CHUNK).map(|_| Slot::default()).collect();
            let Ok(chunk) = Box::<[Slot; CHUNK]>::try_from(chunk) else {
                unreachable!("{CHUNK} slots were made")
            };
            let chunk = Box::into_raw(chunk);
            match cell.compare_exchange(ptr::null_mut(), chunk, AcqRel, Acquire) {
                Ok(_) => reserve_free(index / CHUNK + 1),
                // SAFETY: ours, never published.
                Err(_) => drop(unsafe { Box::from_raw(chunk) }),
            }
        }
        slots.extend(slot_at(index));
    }
    slots
}

/// Makes room in the shared free list for every slot of `chunks` chunks, so that it never
/// grows as slots come and go: the registry's memory then follows from its chunks alone.
#[cold]
fn reserve_free(chunks: usize) {
    let _own = Own::start();
    let mut free = lock(&REGISTRY.free);
    let missing = (chunks * CHUNK).saturating_sub(free.len());
    free.reserve_exact(missing);
}

/// Free slots this thread keeps at hand.
struct LocalSlots(Vec<&'static Slot>);

impl Drop for LocalSlots {
    fn drop(&mut self) {
        lock(&REGISTRY.free).append(&mut self.0);
    }
}

thread_local! {
    static LOCAL: RefCell<LocalSlots> = const { RefCell::new(LocalSlots(Vec::new())) };
}

/// How many free slots move between a thread and the shared list at once.
const BATCH: usize = 32;

#[inline]
fn take_free() -> Option<&'static Slot> {
    let taken = LOCAL.try_with(|local| {
        let mut local = local.try_borrow_mut().ok()?;
        if let Some(slot) = local.0.pop() {
            return Some(slot);
        }
        refill(&mut local.0);
        local.0.pop()
    });
    if let Ok(Some(slot)) = taken {
        return Some(slot);
    }
    // This thread is being torn down: use the shared list directly, releasing its lock
    // before `fresh` may take it.
    let shared = lock(&REGISTRY.free).pop();
    shared.or_else(|| fresh(1).pop())
}

#[cold]
fn refill(local: &mut Vec<&'static Slot>) {
    let _own = Own::start();
    {
        let mut shared = lock(&REGISTRY.free);
        let at = shared.len().saturating_sub(BATCH);
        local.extend(shared.drain(at..));
    }
    // No slot to reuse: make one, not a batch. A stock of never-used slots on every thread
    // would grow the registry with the number of threads rather than with what is live.
    if local.is_empty() {
        *local = fresh(1);
    }
}

#[inline]
fn give_back(slot: &'static Slot) {
    let kept = LOCAL.try_with(|local| {
        let Ok(mut local) = local.try_borrow_mut() else {
            return false;
        };
        if local.0.len() == local.0.capacity() {
            let _own = Own::start();
            local.0.reserve(2 * BATCH + 1);
        }
        local.0.push(slot);
        if local.0.len() > 2 * BATCH {
            spill(&mut local.0);
        }
        true
    });
    if kept != Ok(true) {
        lock(&REGISTRY.free).push(slot);
    }
}

#[cold]
fn spill(local: &mut Vec<&'static Slot>) {
    let _own = Own::start();
    let at = local.len() - BATCH;
    lock(&REGISTRY.free).extend(local.drain(at..));
}

/// What a collection registers with.
pub(crate) struct Registration {
    pub(crate) meta: &'static FieldMeta,
    pub(crate) scope: u64,
    pub(crate) scope_name: u64,
    pub(crate) test: u32,
    pub(crate) now: u64,
}

/// Takes a slot for a collection; `None` only once the registry is full.
#[inline]
pub(crate) fn register(registration: Registration) -> Option<&'static Slot> {
    let slot = take_free()?;
    // The last collection's figures and identity go first, then the new generation (no
    // flag set) is
    // published with Release: a reader that sees the new generation sees no figure of the
    // last collection, and one that still sees the old one finds the generation changed when
    // it checks again, so that it never mixes two collections (Miri found it did, when the
    // generation came first). A reader still holding the last generation cannot flag the new
    // collection either: the CAS of `set_flag` fails on the generation.
    let generation = slot.generation().wrapping_add(1);
    slot.len.store(0, Relaxed);
    slot.bytes.store(0, Relaxed);
    slot.unused.store(0, Relaxed);
    slot.grown_at.store(ptr::null_mut(), Relaxed);
    slot.scope.store(registration.scope, Relaxed);
    slot.scope_name.store(registration.scope_name, Relaxed);
    slot.test.store(registration.test, Relaxed);
    slot.touched.store(registration.test, Relaxed);
    slot.born.store(registration.now, Relaxed);
    slot.state.store(u64::from(generation) << 32, Release);
    slot.meta
        .store(ptr::from_ref(registration.meta).cast_mut(), Release);
    Some(slot)
}

/// Where a collection keeps its slot: empty until it holds memory. Taken through `&self` as
/// well as `&mut self`, since content can arrive behind a shared reference (a collection
/// replaced through `&mut` and next read through `&`); two threads racing to take it keep
/// one slot.
#[derive(Debug, Default)]
pub(crate) struct SlotCell(AtomicPtr<Slot>);

impl SlotCell {
    pub(crate) const fn empty() -> SlotCell {
        SlotCell(AtomicPtr::new(ptr::null_mut()))
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<&'static Slot> {
        // SAFETY: only null or a `&'static Slot` is ever stored.
        unsafe { self.0.load(Acquire).as_ref() }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self) -> Option<&'static Slot> {
        // SAFETY: as above.
        unsafe { self.0.get_mut().as_ref() }
    }

    /// Registers the collection in an empty cell; the slot if this call took it, `None` if
    /// the cell held one already (or the registry is full).
    pub(crate) fn register(&self, registration: Registration) -> Option<&'static Slot> {
        if self.get().is_some() {
            return None;
        }
        let slot = register(registration)?;
        let new = ptr::from_ref(slot).cast_mut();
        match self
            .0
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
        {
            Ok(_) => Some(slot),
            Err(_) => {
                release(slot);
                None
            }
        }
    }
}

/// Releases a collection's slot.
#[inline]
pub(crate) fn release(slot: &'static Slot) {
    slot.meta.store(ptr::null_mut(), Release);
    give_back(slot);
}

pub(crate) fn poison() {
    crate::sync::poison(&REGISTRY.free);
}

/// Calls `f` with every taken slot and what it published.
pub(crate) fn for_each_live(mut f: impl FnMut(&'static Slot, Published)) {
    let high_water = REGISTRY.high_water.load(Relaxed).min(CHUNK * CHUNKS);
    for index in 0..high_water {
        let Some(slot) = slot_at(index) else {
            // Handed out but its chunk is still being published.
            continue;
        };
        if let Some(published) = slot.read() {
            f(slot, published);
        }
    }
}

/// Bytes the registry holds: its chunks and free lists.
pub(crate) fn memory() -> usize {
    let chunks = REGISTRY
        .chunks
        .iter()
        .filter(|c| !c.load(Relaxed).is_null())
        .count();
    chunks * std::mem::size_of::<[Slot; CHUNK]>()
        + lock(&REGISTRY.free).capacity() * std::mem::size_of::<&Slot>()
}

/// Slots ever handed out: the most collections live at once, plus what threads hold.
#[cfg(test)]
fn high_water() -> usize {
    REGISTRY.high_water.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    static META: FieldMeta = FieldMeta::new("T.f", "T", "f", "m", ("f.rs", 1, 1));

    fn registration() -> Registration {
        Registration {
            meta: &META,
            scope: 0,
            scope_name: 0,
            test: 0,
            now: 0,
        }
    }

    #[test]
    fn slots_are_reused_after_release() {
        let slots: Vec<_> = (0..100)
            .map(|_| register(registration()).unwrap())
            .collect();
        let before = high_water();
        for slot in slots {
            release(slot);
        }
        for _ in 0..10_000 {
            let id = register(registration()).unwrap();
            release(id);
        }
        // Other tests run in parallel: allow for their slots, not for ten thousand.
        assert!(high_water() < before + 1_000, "{} slots", high_water());
    }

    #[test]
    fn a_flag_meant_for_a_released_collection_does_not_mark_the_next_one() {
        let first = register(registration()).unwrap();
        let seen = first.read().unwrap();
        release(first);
        // A check that read the first collection flags its slot after the slot was taken
        // again, perhaps by this very thread's next collection.
        let second = register(registration()).unwrap();
        let reused = ptr::eq(first, second);
        assert!(!first.set_flag(seen.generation, FLAG_OUTLIVED, true));
        assert!(!second.read().unwrap().has_flag(FLAG_OUTLIVED));
        if reused {
            assert_ne!(second.read().unwrap().generation, seen.generation);
        }
        assert!(second.set_flag(second.generation(), FLAG_OUTLIVED, true));
        assert!(second.read().unwrap().has_flag(FLAG_OUTLIVED));
        release(second);
    }

    static RACED: FieldMeta = FieldMeta::new("T.raced", "T", "raced", "m", ("f.rs", 2, 1));

    /// Threads registering, publishing and releasing while another reads every slot: the
    /// lock-free publication of chunks and slots, under Miri's data-race checker too.
    #[test]
    fn concurrent_registration_release_and_reading_agree() {
        const THREADS: usize = 3;
        const ROUNDS: usize = if cfg!(miri) { 24 } else { 2_000 };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = 0usize;
                while !stop.load(Relaxed) {
                    for_each_live(|_, published| {
                        if !ptr::eq(published.meta, &RACED) {
                            return;
                        }
                        // A slot read whole belongs to one collection: its figures, written
                        // once each, agree where both are set.
                        let (len, bytes) = (published.len, published.bytes);
                        assert!(len == 0 || bytes == 0 || bytes == len * 8, "{len} {bytes}");
                        seen += 1;
                    });
                    std::thread::yield_now();
                }
                seen
            })
        };
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for round in 0..ROUNDS {
                        let slot = register(Registration {
                            meta: &RACED,
                            ..registration()
                        })
                        .unwrap();
                        let len = t * ROUNDS + round;
                        // Published as the owner does: figures, then a flag for its
                        // generation.
                        slot.len.store(len, Relaxed);
                        slot.bytes.store(len * 8, Relaxed);
                        assert!(slot.set_flag(slot.generation(), FLAG_OVER_BUDGET, true));
                        mine.push(slot);
                        if round % 3 == 0 {
                            release(mine.swap_remove(0));
                        }
                    }
                    mine.into_iter().for_each(release);
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        stop.store(true, Relaxed);
        reader.join().unwrap();
    }

    #[test]
    fn live_slots_are_visited_with_their_description() {
        let taken = register(registration()).unwrap();
        taken.len.store(42, Relaxed);
        let mut found = false;
        for_each_live(|slot, published| {
            if ptr::eq(slot, taken) {
                found = published.meta.name == "T.f" && published.len == 42;
            }
        });
        assert!(found);
        release(taken);
        let mut seen = false;
        for_each_live(|slot, _| seen |= ptr::eq(slot, taken));
        assert!(!seen, "a released slot is not live");
    }
}
