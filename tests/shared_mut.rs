//! Collections that change through `&self`: a concurrent map in the state of a tokio
//! service, shared through `Arc`, its figures brought up to date at the latest on the next
//! access. Events come from the runtime's worker threads, so this binary records them with
//! a global default subscriber.

use std::sync::Arc;

use dashmap::{DashMap, DashSet};
use leakguard::{Footprint, HeapSize, Measurement, Tracked, track_growth};
use leakguard_support::alloc::{Counting, allocated_by, warm_up_registry};
use leakguard_support::capture;

#[global_allocator]
static ALLOC: Counting = Counting;

/// The over-budget warnings for `collection` so far, by their `len`.
fn warned_lens(events: &capture::Events, collection: &str) -> Vec<usize> {
    let quoted = format!("{collection:?}");
    events
        .of_kind("over_budget")
        .iter()
        .filter(|e| e.field("collection") == Some(quoted.as_str()))
        .filter_map(|e| e.field("len")?.parse().ok())
        .collect()
}

/// A user's newtype over a `DashMap`, with `HeapSize` written by hand as the README shows:
/// `footprint()` in O(1) of the entries.
struct Online(DashMap<u64, String>);

impl HeapSize for Online {
    fn heap_size(&self) -> usize {
        self.heap_size_in(&mut Measurement::new())
    }

    fn heap_size_in(&self, m: &mut Measurement) -> usize {
        let entries: usize = self.0.iter().map(|e| e.value().heap_size_in(m)).sum();
        self.footprint().map_or(0, |fp| fp.storage_bytes) + entries
    }

    fn footprint(&self) -> Option<Footprint> {
        let capacity = self.0.capacity();
        Some(Footprint {
            len: self.0.len(),
            capacity,
            storage_bytes: capacity * size_of::<(u64, String)>(),
        })
    }
}

#[test]
fn a_tracked_newtype_changed_through_shared_access_warns_and_reports() {
    #[track_growth]
    struct Presence {
        #[track]
        #[budget(len = 100)]
        online: Online,
    }

    let events = capture::global();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let state = Arc::new(Presence {
        online: Online(DashMap::new()).into(),
    });
    runtime.block_on(async {
        let tasks: Vec<_> = (0..250u64)
            .map(|id| {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    state.online.0.insert(id, format!("user-{id}"));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    // The next access, on this thread, sees what the tasks inserted.
    assert_eq!(state.online.0.len(), 250);
    let lens = warned_lens(events, "Presence.online");
    assert!(
        lens.first().is_some_and(|&len| len > 100),
        "one warning past the budget: {lens:?}"
    );
    let report = leakguard::report();
    let row = report
        .group("Presence.online")
        .expect("a report row for the newtype");
    assert_eq!(row.len, 250);
    assert_eq!(row.over_budget, 1);
    // The entries' heap follows by an amortized walk: counted beside the storage.
    let storage = state.online.0.capacity() * size_of::<(u64, String)>();
    assert!(Tracked::bytes(&state.online) > storage);
}

#[test]
fn dashmap_fields_are_tracked_through_shared_access_by_default() {
    #[track_growth]
    #[derive(Default)]
    struct Sessions {
        #[budget(len = 100)]
        by_token: DashMap<String, Vec<u8>>,
        #[budget(len = 50)]
        revoked: DashSet<u64>,
    }

    let events = capture::global();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let state = Arc::new(Sessions::default());
    runtime.block_on(async {
        let tasks: Vec<_> = (0..200u64)
            .map(|id| {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    state.by_token.insert(format!("token-{id}"), vec![0; 64]);
                    if id % 2 == 0 {
                        state.revoked.insert(id);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(state.by_token.len(), 200);
    assert_eq!(state.revoked.len(), 100);
    assert!(
        warned_lens(events, "Sessions.by_token")
            .first()
            .is_some_and(|&len| len > 100)
    );
    assert!(
        warned_lens(events, "Sessions.revoked")
            .first()
            .is_some_and(|&len| len > 50)
    );
    let report = leakguard::report();
    assert_eq!(report.group("Sessions.by_token").map(|g| g.len), Some(200));
    assert_eq!(report.group("Sessions.revoked").map(|g| g.len), Some(100));
}

#[test]
fn a_dashmap_field_measures_what_the_allocator_sees() {
    #[track_growth]
    #[derive(Default)]
    struct Cache {
        pages: DashMap<u64, String>,
    }

    warm_up_registry();
    let (mut cache, truth) = allocated_by(|| {
        let cache = Cache::default();
        for id in 0..5_000u64 {
            cache.pages.insert(id, format!("page {id:08}"));
        }
        cache
    });
    eprintln!(
        "dashmap: leakguard {} B, allocator {truth} B",
        cache.pages.heap_size()
    );
    assert_eq!(cache.pages.heap_size() as isize, truth);
    assert_eq!(Tracked::measure(&mut cache.pages) as isize, truth);
}
