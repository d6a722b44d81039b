//! The names accounts are kept under: index 0 unscoped, 1 leakguard, then scope names in
//! the order first seen, up to [`NAMES`].
//!
//! Every scope instance looks its name up when it opens an account, so the look-up takes
//! no lock and allocates nothing: a name is found through a table of indices by its hash,
//! and compared with the name stored at that index, which never changes once set. Only a
//! name seen for the first time takes the lock, to store it (issue 23: the lock, and the
//! switch to leakguard's own account around it, were a third of what `Alloc` added to a
//! request's scope).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{FIRST_SCOPE_NAME, NAMES, Own};
use crate::sync::lock;

/// The name of the last index, shared by every name past the table.
const OTHERS: &str = "(other scopes)";

/// The hash of a scope's name: fixed, so that two scopes of one name hash alike, and never
/// 0, which stands for no scope. FNV-1a: a request's scope name is a few bytes, where
/// SipHash's set-up costs more than the rest of making the scope's identity.
pub(crate) fn name_hash(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash.max(1)
}

/// The scope names by index; set once each, under [`STORING`], and never changed.
static STORED: [OnceLock<Cow<'static, str>>; NAMES] = [const { OnceLock::new() }; NAMES];

/// Slots of the hash table: twice the names, so that a probe ends soon.
const SLOTS: usize = 2 * NAMES;

/// The index of a name by its hash, open addressing with linear probing; 0 is an empty slot
/// (no scope name has index 0 or 1). A slot is written once, after its name is stored.
static BY_HASH: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];

/// Serializes storing names, and holds how many indices are taken.
static STORING: Mutex<u32> = Mutex::new(FIRST_SCOPE_NAME);

/// The index of `name` in the table, or the slot where it would go.
fn find(name: &str, hash: u64) -> Result<u32, usize> {
    let mut slot = hash as usize % SLOTS;
    loop {
        let index = BY_HASH[slot].load(Ordering::Acquire);
        if index == 0 {
            return Err(slot);
        }
        // The slot was written after the name at `index` was stored (release, acquire).
        if STORED[index as usize]
            .get()
            .is_some_and(|stored| stored == name)
        {
            return Ok(index);
        }
        slot = (slot + 1) % SLOTS;
    }
}

/// The index of `name`, which hashes to `hash` by [`name_hash`]; stored if it is new. Past
/// [`NAMES`] - 1 names, the last index, [`OTHERS`].
pub(crate) fn index(name: &str, hash: u64) -> u32 {
    if let Ok(index) = find(name, hash) {
        return index;
    }
    // Storing allocates: charged to leakguard's own account.
    let _own = Own::start();
    let mut taken = lock(&STORING);
    // Another thread may have stored it since.
    let slot = match find(name, hash) {
        Ok(index) => return index,
        Err(slot) => slot,
    };
    let last = NAMES as u32 - 1;
    if *taken >= last {
        let _ = STORED[last as usize].set(Cow::Borrowed(OTHERS));
        return last;
    }
    let index = *taken;
    *taken += 1;
    let _ = STORED[index as usize].set(Cow::Owned(name.to_owned()));
    BY_HASH[slot].store(index, Ordering::Release);
    index
}

/// Every name by index: unscoped, leakguard, then the scope names seen so far.
pub(crate) fn all() -> Vec<Cow<'static, str>> {
    let mut names = vec![Cow::Borrowed("unscoped"), Cow::Borrowed("leakguard")];
    names.extend(
        STORED[FIRST_SCOPE_NAME as usize..]
            .iter()
            .map_while(|stored| stored.get().cloned()),
    );
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_its_index_and_names_hashing_alike_are_told_apart() {
        let first = index("names test: first", 7);
        // Another name on the same hash: probed past, stored apart.
        let second = index("names test: second", 7);
        assert_ne!(first, second);
        assert!(first >= FIRST_SCOPE_NAME && second >= FIRST_SCOPE_NAME);
        assert_eq!(index("names test: first", 7), first);
        assert_eq!(index("names test: second", 7), second);
        let names = all();
        assert_eq!(names[first as usize], "names test: first");
        assert_eq!(names[second as usize], "names test: second");
        assert_eq!(names[..2], ["unscoped", "leakguard"]);
    }

    #[test]
    fn threads_storing_one_new_name_at_once_get_one_index() {
        let name = "names test: racing";
        let indices: Vec<u32> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| s.spawn(|| index(name, name_hash(name))))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(indices.iter().all(|&i| i == indices[0]), "{indices:?}");
        assert_eq!(all()[indices[0] as usize], name);
    }

    #[test]
    fn the_hash_of_a_name_is_fixed_and_never_zero() {
        assert_eq!(name_hash("handle"), name_hash(&String::from("handle")));
        assert_ne!(name_hash("handle"), name_hash("handler"));
        assert_ne!(name_hash(""), 0);
    }
}
