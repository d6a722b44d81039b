//! The registry of live tracked collections: one slot per collection, holding the figures
//! it publishes, for the sampler and for reports to read without touching the collection.
//!
//! Slots live in fixed chunks that are never freed, so a slot's address is stable and
//! readers need no lock; a dropped collection's slot goes back to a free list and is reused,
//! so the registry's memory is bounded by the most collections ever live at once. Each
//! thread keeps the slots its collections gave back at hand (a few dozen at most, returned
//! when the thread ends), so that registering and releasing one takes no lock in the common
//! case; a thread never takes a never-used slot before it needs it.
//!
//! A slot is a sequence lock without the lock: its owner writes the figures, anyone reads
//! them. Taking a slot for a new collection first makes its generation odd ("being
//! rewritten"), then rewrites the identity and figures, then makes it even again; a reader
//! keeps what it read only if the generation was even and the same before and after. Every
//! store a reader may see after the generation changed is ordered after that change (a
//! release fence before the rewrite, release stores for the owner's later figures), and the
//! reader's acquire fence before its second look makes the change visible to it: a read
//! never pairs the figures of two collections. Figures of one collection may still be read
//! from two moments of its life, as they are published one by one.

use std::cell::RefCell;
use std::panic::Location;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{
    AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::*, fence,
};

use crate::accounts::Own;
use crate::meta::FieldMeta;
use crate::site::SiteCell;
pub(crate) use crate::site::{Origin, Site};
use crate::sync::lock;

/// Slots per chunk.
const CHUNK: usize = 1024;
/// Most chunks: 4 million slots.
const CHUNKS: usize = 4096;

/// The figures and identity of one live tracked collection.
///
/// Written by the collection's owner (figures) and read by anyone; the sampler keeps its
/// own bookkeeping in the `sampled_*` fields.
///
/// Aligned to a cache line: neighbouring slots go to different threads (each takes a fresh
/// one as it needs it), and owners on two threads writing one line would make every
/// registration and publication on each of them miss (issue 23's 8-thread create + drop).
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct Slot {
    /// The field's description; null while the slot is free.
    meta: AtomicPtr<FieldMeta>,
    /// The generation in the high 32 bits, and the flags ([`FLAG_OVER_BUDGET`], ...) in the
    /// low 8: one word, so that a flag is set for one generation only. The generation goes
    /// up by two each time the slot is taken, through an odd value while the slot is being
    /// rewritten, so that a reader can tell a reused slot and one half rewritten.
    state: AtomicU64,
    /// The figures, written by the owner through [`Slot::publish`] only.
    len: AtomicUsize,
    bytes: AtomicUsize,
    unused: AtomicUsize,
    /// The part of `bytes` that nested tracked collections, with slots of their own, hold.
    nested: AtomicUsize,
    /// The most entries and bytes the collection has published: its high-water marks.
    peak_len: AtomicUsize,
    peak_bytes: AtomicUsize,
    /// Where the collection first grew: the closest place in the user's code to where it
    /// was made, as constructors are often derived.
    grown_at: SiteCell,
    /// How it got its first entries where no line of the user's code is known: the code of
    /// an [`Origin`]. Whichever of this and `grown_at` is set first stays alone.
    origin: AtomicU8,
    /// The scope it belongs to, 0 for none, and the hash of the scope's name.
    scope: AtomicU64,
    scope_name: AtomicU64,
    /// The test check it was created under, 0 for none.
    pub(crate) test: AtomicU32,
    /// When it was registered, on the registry's clock; 0 for a collection of no scope,
    /// whose age nothing reads.
    born: AtomicU64,
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
    /// The instrumentation state of the collection that took the slot, which only it
    /// reads and writes: kept here rather than in the collection, so that a collection that
    /// never changes carries none of it (see [`State`]).
    pub(crate) owner: State,
}

/// What one live collection published, read from its slot at one moment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Published {
    pub(crate) meta: &'static FieldMeta,
    pub(crate) generation: u32,
    pub(crate) len: usize,
    pub(crate) bytes: usize,
    pub(crate) unused: usize,
    pub(crate) nested: usize,
    pub(crate) peak_len: usize,
    pub(crate) peak_bytes: usize,
    pub(crate) flags: u8,
    pub(crate) site: Site,
    pub(crate) scope: u64,
    pub(crate) scope_name: u64,
    pub(crate) test: u32,
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

/// Whether a generation is that of a slot being rewritten for a new collection.
fn rewriting(generation: u32) -> bool {
    generation & 1 == 1
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
        self.site_of(self.meta())
    }

    fn site_of(&self, meta: Option<&'static FieldMeta>) -> Site {
        let origin = match (self.origin.load(Relaxed), meta) {
            (0, _) | (_, None) => Origin::Unknown,
            (code, Some(meta)) => Origin::from_code(code, meta),
        };
        Site(self.grown_at.get().map(|l| (l.file(), l.line())), origin)
    }

    /// Publishes the collection's figures. Release: a reader that sees any of them, and then
    /// fences, sees the generation this collection was registered with, or a later one, so
    /// that it cannot keep them under the generation of the collection before.
    pub(crate) fn publish(&self, len: usize, bytes: usize, unused: usize, nested: usize) {
        self.len.store(len, Release);
        self.bytes.store(bytes, Release);
        self.unused.store(unused, Release);
        self.nested.store(nested, Release);
        // The high-water marks, kept on every publication rather than left to what a sample
        // happens to see: a compare each, and a store only on a new high.
        if len > self.peak_len.load(Relaxed) {
            self.peak_len.fetch_max(len, Release);
        }
        if bytes > self.peak_bytes.load(Relaxed) {
            self.peak_bytes.fetch_max(bytes, Release);
        }
    }

    /// The length and bytes the collection published last, for its owner, which wrote them.
    pub(crate) fn figures(&self) -> (usize, usize) {
        (self.len.load(Relaxed), self.bytes.load(Relaxed))
    }

    /// What the collection in this slot published, if the slot is taken and was not taken
    /// again while it was read.
    pub(crate) fn read(&self) -> Option<Published> {
        // Acquire: synchronizes with the Release store that published this generation (or
        // with the release sequence of flag updates after it), so that every figure read
        // below is the one `register` reset, or a later one.
        let state = self.state.load(Acquire);
        if rewriting(generation(state)) {
            return None;
        }
        // Acquire, as above; null while the slot is free.
        let meta = self.meta()?;
        // Relaxed: checked below, by the fence and the second load of the generation.
        let published = Published {
            meta,
            generation: generation(state),
            len: self.len.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            unused: self.unused.load(Relaxed),
            nested: self.nested.load(Relaxed),
            peak_len: self.peak_len.load(Relaxed),
            peak_bytes: self.peak_bytes.load(Relaxed),
            flags: state as u8,
            site: self.site_of(Some(meta)),
            scope: self.scope.load(Relaxed),
            scope_name: self.scope_name.load(Relaxed),
            test: self.test.load(Relaxed),
            born: self.born.load(Relaxed),
        };
        // Acquire fence: if any load above saw a store made after this slot's generation
        // changed (a reset in `register`, after its release fence, or a figure the next
        // owner published with Release), this fence synchronizes with that fence or store,
        // and the load below sees the changed generation. So an unchanged generation means
        // every figure above is this collection's. The load itself can be Relaxed: the
        // fence does the ordering.
        fence(Acquire);
        (generation(self.state.load(Relaxed)) == published.generation).then_some(published)
    }

    /// Records where the collection first grew, once, unless it is known how it came by its
    /// first entries.
    pub(crate) fn grew_at(&self, site: &'static Location<'static>) {
        if self.origin.load(Relaxed) == 0 {
            self.grown_at.set_once(site);
        }
    }

    /// Records how the collection came by its first entries, once, unless a line of the
    /// user's code is known for them.
    pub(crate) fn made_by(&self, origin: Origin) {
        if self.grown_at.get().is_none() {
            // Release on success, as in `publish`.
            let _ = self
                .origin
                .compare_exchange(0, origin.code(), Release, Relaxed);
        }
    }

    /// Sets or clears `flag` of the collection of `generation`; does nothing, and returns
    /// `false`, if the slot has been taken by another collection since.
    pub(crate) fn set_flag(&self, generation: u32, flag: u8, on: bool) -> bool {
        // Relaxed throughout: a flag orders nothing else, and the CAS fails on any change of
        // generation (a rewrite in progress included), so it never flags another collection.
        // As read-modify-writes, these stay in the release sequence of `register`'s store.
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

    /// The generation of the collection in this slot now. Relaxed: the owner reads what it
    /// registered with; others get it from [`Slot::read`].
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
    /// The time now for a scoped collection, 0 for one of no scope.
    pub(crate) now: u64,
    pub(crate) first: First,
}

/// What a collection knows of itself when it registers, written with the rest of the slot:
/// publishing the same figures right after finds them at their high-water marks, and the
/// site or origin is there already, with no read-modify-write for either (each costs
/// 10-25 ns on a loaded machine, more than the rest of a registration; issue 23).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct First {
    /// Where it grew, in the user's code.
    pub(crate) site: Option<&'static Location<'static>>,
    /// How it came by its entries where no line of the user's code is known, if it did.
    pub(crate) origin: Option<Origin>,
    /// Its length, bytes, unused and nested bytes, as it will publish them.
    pub(crate) len: usize,
    pub(crate) bytes: usize,
    pub(crate) unused: usize,
    pub(crate) nested: usize,
}

/// Takes a slot for a collection that has changed, without registering it: its
/// [`owner`](Slot::owner) state is the collection's from here on, and readers skip the slot
/// until [`register_in`] publishes it. `None` only once the registry is full.
#[inline]
pub(crate) fn claim() -> Option<&'static Slot> {
    take_free()
}

/// Gives back a slot [`claim`]ed for a collection that never registered in it.
#[inline]
pub(crate) fn unclaim(slot: &'static Slot) {
    give_back(slot);
}

/// Registers a collection in `slot`, which it [`claim`]ed and has not registered in yet.
#[inline]
pub(crate) fn register_in(slot: &'static Slot, registration: Registration) {
    // A claimed slot's generation is even, and no one else changes it: the slot came
    // through the free list, after the release of the last collection, and only its new
    // owner registers in it, once.
    let last = slot.generation();
    // Relaxed store of the odd generation, then a release fence: a reader whose loads see
    // any of the rewritten fields below, and which then fences, sees the odd generation or
    // a later one, and drops what it read (Miri paired one collection's `len` with the last
    // one's `bytes` when nothing marked the rewrite). A reader still holding the last
    // generation cannot flag the new collection either: the CAS of `set_flag` fails on it.
    slot.state
        .store(u64::from(last.wrapping_add(1)) << 32, Relaxed);
    fence(Release);
    // Relaxed: ordered after the odd generation by the fence above, and before the even one
    // by its Release store below.
    let first = registration.first;
    slot.len.store(first.len, Relaxed);
    slot.bytes.store(first.bytes, Relaxed);
    slot.unused.store(first.unused, Relaxed);
    slot.nested.store(first.nested, Relaxed);
    slot.peak_len.store(first.len, Relaxed);
    slot.peak_bytes.store(first.bytes, Relaxed);
    // A line of the user's code, or else how the entries came: one of the two, as
    // `grew_at` and `made_by` keep it.
    slot.grown_at.store(first.site);
    let origin = match (first.site, first.origin) {
        (None, Some(origin)) => origin.code(),
        _ => 0,
    };
    slot.origin.store(origin, Relaxed);
    slot.scope.store(registration.scope, Relaxed);
    slot.scope_name.store(registration.scope_name, Relaxed);
    slot.test.store(registration.test, Relaxed);
    slot.born.store(registration.now, Relaxed);
    // Release: a reader that sees the new generation (Acquire) sees every reset above. Even,
    // with no flag set.
    slot.state
        .store(u64::from(last.wrapping_add(2)) << 32, Release);
    // Release: a reader that sees the new description sees the new generation too.
    slot.meta
        .store(ptr::from_ref(registration.meta).cast_mut(), Release);
    // Every figure the owner writes from here on comes after the new generation, for a
    // reader that saw one of them (see `Slot::read`).
    fence(Release);
}

/// Where a collection keeps its slot: empty until it first changes. Taken through `&self` as
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

    /// Keeps `slot` in an empty cell its owner holds alone: no other thread can race to
    /// fill it, so no compare-and-swap.
    #[inline]
    pub(crate) fn fill_mut(&mut self, slot: &'static Slot) {
        *self.0.get_mut() = ptr::from_ref(slot).cast_mut();
    }

    /// Keeps `slot` if the cell is still empty; the slot the cell holds, and whether it is
    /// `slot` (else the caller gives `slot` back).
    pub(crate) fn fill(&self, slot: &'static Slot) -> (&'static Slot, bool) {
        let new = ptr::from_ref(slot).cast_mut();
        // AcqRel: the winner's reset of the slot's owner state is seen by the loser, which
        // goes on with the winner's slot.
        match self
            .0
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
        {
            Ok(_) => (slot, true),
            // SAFETY: only null or a `&'static Slot` is ever stored, and this is not null.
            Err(now) => (unsafe { &*now }, false),
        }
    }
}

/// Releases a collection's slot.
#[inline]
pub(crate) fn release(slot: &'static Slot) {
    // Release: pairs with the Acquire of `Slot::meta`. The generation changes only when the
    // slot is taken again.
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

mod owner;
mod watch;
mod window;

pub(crate) use owner::State;

#[cfg(test)]
mod tests;
