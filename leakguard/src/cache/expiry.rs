//! The write-ordered list of a TTL cache's entries.
//!
//! A cache has one TTL, so entries expire in the order they were written: the oldest record
//! is always the next to expire, and releasing expired entries is a walk from the front.

use std::mem::size_of;
use std::num::NonZeroU32;

use crate::clock::Nanos;
use crate::heap_size::HeapSize;

/// A position in the list; 1-based so that `Option<Position>` and the record stay small.
pub(crate) type Position = NonZeroU32;

/// A link to a neighbouring record, `END` where there is none. Not an `Option`, so that its
/// unused zero leaves room for the record's tag: a record of a `u64` key is 24 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Link(NonZeroU32);

const END: Link = Link(NonZeroU32::MAX);

// The helpers below are `#[inline]` because they are not generic: without it, the generic
// code of a cache, compiled in the user's crate, could only call them.
impl Link {
    #[inline]
    fn to(slot: Option<Position>) -> Self {
        slot.map_or(END, Link)
    }

    #[inline]
    fn slot(self) -> Option<Position> {
        (self != END).then_some(self.0)
    }
}

enum Record<K> {
    Live {
        /// A clone of the entry's key, to remove it from the cache when it expires.
        key: K,
        deadline: Nanos,
        prev: Link,
        next: Link,
    },
    Free {
        next: Link,
    },
}

/// Records in write order, in a slab whose free slots are reused.
pub(crate) struct Expiry<K> {
    records: Vec<Record<K>>,
    head: Option<Position>,
    tail: Option<Position>,
    free: Option<Position>,
    len: usize,
    /// Most records this list will ever hold, to keep its growth from overshooting.
    max: usize,
}

#[inline]
fn index(slot: Position) -> usize {
    slot.get() as usize - 1
}

impl<K> Expiry<K> {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            records: Vec::new(),
            head: None,
            tail: None,
            free: None,
            len: 0,
            max,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends the newest record.
    pub(crate) fn push(&mut self, key: K, deadline: Nanos) -> Position {
        let record = Record::Live {
            key,
            deadline,
            prev: Link::to(self.tail),
            next: END,
        };
        let slot = match self.free {
            Some(slot) => {
                let Record::Free { next } =
                    std::mem::replace(&mut self.records[index(slot)], record)
                else {
                    unreachable!("free list holds a live record");
                };
                self.free = next.slot();
                slot
            }
            None => {
                if self.records.len() == self.records.capacity() {
                    // Double, but never past the most records the cache can hold.
                    let len = self.records.len();
                    let target = (len * 2).max(4).min(self.max.max(len + 1));
                    self.records.reserve_exact(target - len);
                }
                self.records.push(record);
                u32::try_from(self.records.len())
                    .ok()
                    .filter(|&n| n != u32::MAX)
                    .and_then(Position::new)
                    .expect("fewer than 2^32 - 1 entries")
            }
        };
        match self.tail {
            Some(tail) => self.set_next(tail, Some(slot)),
            None => self.head = Some(slot),
        }
        self.tail = Some(slot);
        self.len += 1;
        slot
    }

    fn set_next(&mut self, slot: Position, to: Option<Position>) {
        if let Record::Live { next, .. } = &mut self.records[index(slot)] {
            *next = Link::to(to);
        }
    }

    fn set_prev(&mut self, slot: Position, to: Option<Position>) {
        if let Record::Live { prev, .. } = &mut self.records[index(slot)] {
            *prev = Link::to(to);
        }
    }

    /// Removes a record, returning its key clone.
    pub(crate) fn remove(&mut self, slot: Position) -> Option<K> {
        let record = self.records.get_mut(index(slot))?;
        let Record::Live {
            key, prev, next, ..
        } = std::mem::replace(
            record,
            Record::Free {
                next: Link::to(self.free),
            },
        )
        else {
            return None;
        };
        let (prev, next) = (prev.slot(), next.slot());
        self.free = Some(slot);
        match prev {
            Some(prev) => self.set_next(prev, next),
            None => self.head = next,
        }
        match next {
            Some(next) => self.set_prev(next, prev),
            None => self.tail = prev,
        }
        self.len -= 1;
        Some(key)
    }

    /// The deadline of a live record.
    #[inline]
    pub(crate) fn deadline(&self, slot: Position) -> Option<Nanos> {
        match self.records.get(index(slot))? {
            Record::Live { deadline, .. } => Some(*deadline),
            Record::Free { .. } => None,
        }
    }

    /// The oldest record: its slot, key and deadline.
    #[inline]
    pub(crate) fn oldest(&self) -> Option<(Position, &K, Nanos)> {
        let slot = self.head?;
        match &self.records[index(slot)] {
            Record::Live { key, deadline, .. } => Some((slot, key, *deadline)),
            Record::Free { .. } => None,
        }
    }

    /// Whether any record may be due at `now`: the oldest is, or the list is empty.
    #[inline]
    pub(crate) fn any_due(&self, now: Nanos) -> bool {
        self.oldest().is_none_or(|(_, _, deadline)| deadline <= now)
    }

    /// The deadline of the newest record: every record is due once it is.
    pub(crate) fn newest_deadline(&self) -> Option<Nanos> {
        self.deadline(self.tail?)
    }

    /// Records the list has room for, live or free: the size of the store it times, which
    /// does not shrink as entries expire.
    pub(crate) fn slots(&self) -> usize {
        self.records.len()
    }

    /// How many records are expired at `now`; walks the expired ones only.
    pub(crate) fn expired(&self, now: Nanos) -> usize {
        self.in_order()
            .take_while(|(_, deadline)| *deadline <= now)
            .count()
    }

    /// The keys and deadlines, oldest first.
    pub(crate) fn in_order(&self) -> impl Iterator<Item = (&K, Nanos)> + '_ {
        let mut cursor = self.head;
        std::iter::from_fn(move || {
            let slot = cursor?;
            match &self.records[index(slot)] {
                Record::Live {
                    key,
                    deadline,
                    next,
                    ..
                } => {
                    cursor = next.slot();
                    Some((key, *deadline))
                }
                Record::Free { .. } => None,
            }
        })
    }

    /// Heap bytes of the slab itself.
    pub(crate) fn storage_bytes(&self) -> usize {
        self.records.capacity() * size_of::<Record<K>>()
    }
}

impl<K: HeapSize> Expiry<K> {
    /// Heap bytes owned by the key clones.
    pub(crate) fn keys_heap(
        &self,
        m: &mut crate::heap_size::Measurement,
    ) -> crate::heap_size::HeapUsage {
        self.in_order().map(|(key, _)| key.heap_usage_in(m)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_leave_in_write_order_and_slots_are_reused() {
        let mut list = Expiry::new(100);
        let a = list.push("a", 10);
        let b = list.push("b", 20);
        let c = list.push("c", 30);
        assert_eq!(list.oldest().map(|(_, k, d)| (*k, d)), Some(("a", 10)));
        assert_eq!(list.remove(b), Some("b"));
        assert_eq!(
            list.in_order().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(list.expired(15), 1);
        let d = list.push("d", 40);
        assert_eq!(d, b, "freed slot reused");
        assert_eq!(list.remove(a), Some("a"));
        assert_eq!(list.remove(a), None, "already removed");
        assert_eq!(list.in_order().last().map(|(_, d)| d), Some(40));
        assert_eq!(list.slots(), 3, "three records made, one reused");
        assert_eq!(list.remove(c), Some("c"));
        assert_eq!(list.remove(d), Some("d"));
        assert_eq!(list.len(), 0);
        assert!(list.oldest().is_none());
    }

    #[test]
    fn growth_stops_at_the_most_the_cache_can_hold() {
        let mut list = Expiry::new(5);
        for i in 0..5 {
            list.push(i, 0);
        }
        assert_eq!(list.records.capacity(), 5);
        assert_eq!(size_of::<Record<u64>>(), 24);
    }
}
