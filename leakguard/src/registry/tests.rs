//! The registry under concurrent registration, release and reading, and slot reuse.

use super::*;

static META: FieldMeta = FieldMeta::new("T.f", "T", "f", "m", ("f.rs", 1, 1));

/// Takes a slot for a collection and registers it, as a collection does at its first growth.
fn register(registration: Registration) -> Option<&'static Slot> {
    let slot = claim()?;
    register_in(slot, registration);
    Some(slot)
}

fn registration() -> Registration {
    Registration {
        meta: &META,
        scope: 0,
        scope_name: 0,
        test: 0,
        now: 0,
        first: First::default(),
    }
}

#[test]
fn slots_are_reused_after_release() {
    let slots: Vec<_> = (0..100)
        .map(|_| register(registration()).unwrap())
        .collect();
    for slot in slots {
        release(slot);
    }
    // Ten thousand collections one after another take few distinct slots: released ones
    // come back. Other tests run in parallel and may take a released slot in between, so
    // count the slots this thread was given rather than the registry's high-water mark.
    // A thousand under Miri, where each takes a millisecond.
    const COLLECTIONS: usize = if cfg!(miri) { 1_000 } else { 10_000 };
    let mut given = std::collections::HashSet::new();
    for _ in 0..COLLECTIONS {
        let id = register(registration()).unwrap();
        given.insert(ptr::from_ref(id) as usize);
        release(id);
    }
    assert!(
        given.len() < COLLECTIONS / 10,
        "{} distinct slots",
        given.len()
    );
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

/// A thread calling `read` until [`Reader::stop`].
struct Reader {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Reader {
    fn start(read: impl Fn() + Send + 'static) -> Reader {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Relaxed) {
                read();
            }
        });
        Reader { stop, thread }
    }

    /// Stops the thread, passing on its panic.
    fn stop(self) {
        self.stop.store(true, Relaxed);
        self.thread.join().unwrap();
    }
}

/// A slot read whole belongs to one collection: its figures, published as these tests do
/// (`bytes` is 8 times `len`, each written once), agree where both are set.
fn assert_one_collections(published: &Published) {
    let (len, bytes) = (published.len, published.bytes);
    assert!(len == 0 || bytes == 0 || bytes == len * 8, "{len} {bytes}");
}

/// Threads registering, publishing and releasing while another reads every slot: the
/// lock-free publication of chunks and slots, under Miri's data-race checker too.
#[test]
fn concurrent_registration_release_and_reading_agree() {
    const THREADS: usize = 3;
    const ROUNDS: usize = if cfg!(miri) { 10 } else { 2_000 };
    let reader = Reader::start(|| {
        for_each_live(|_, published| {
            if ptr::eq(published.meta, &RACED) {
                assert_one_collections(&published);
            }
        });
        std::thread::yield_now();
    });
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
                    slot.publish(len, len * 8, 0, 0);
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
    reader.stop();
}

static REUSED: FieldMeta = FieldMeta::new("T.reused", "T", "reused", "m", ("f.rs", 3, 1));

/// One slot taken, published and released over and over by one thread while another
/// reads it: every read pairs figures of one collection, never one collection's `len`
/// with the last one's `bytes` (Miri found that pairing at seed 7, before a slot's
/// rewrite was marked and the reader fenced before its second look at the generation).
#[test]
fn a_reader_never_pairs_the_figures_of_two_collections() {
    const ROUNDS: usize = if cfg!(miri) { 128 } else { 100_000 };
    let slot = register(Registration {
        meta: &REUSED,
        ..registration()
    })
    .unwrap();
    release(slot);
    let reader = Reader::start(move || {
        if let Some(published) = slot.read() {
            assert_one_collections(&published);
        }
    });
    for round in 1..=ROUNDS {
        let taken = register(Registration {
            meta: &REUSED,
            ..registration()
        })
        .unwrap();
        // This thread gets back the slot it released last: the same slot every round.
        assert!(ptr::eq(taken, slot));
        taken.publish(round, round * 8, 0, 0);
        release(taken);
    }
    reader.stop();
}

#[test]
fn live_slots_are_visited_with_their_description() {
    let taken = register(registration()).unwrap();
    taken.publish(42, 0, 0, 0);
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
