//! A value whose `Drop` uses the shared cache it was in: evicted, replaced and expired values
//! are dropped after the cache's locks are released, so the `Drop` neither hangs nor stalls
//! the cache. Each scenario runs on a thread of its own under a timeout, so that a deadlock
//! fails the test instead of hanging it.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::Duration;

use leakguard::{HeapSize, ManualClock, track_growth};

#[track_growth]
#[derive(Default)]
struct AppState {
    #[scoped_cache(max = 64, ttl = "1s", shared)]
    sessions: HashMap<u64, Session>,
}

/// A session whose `Drop` looks at the cache it was in, as a value holding a handle to its
/// own cache does (a pool returning itself, a session logging the cache's size).
#[derive(HeapSize)]
struct Session {
    user: u64,
    roles: Vec<String>,
    /// Whether this is the session put in the cache, not a clone `get` returned, whose
    /// drop would look again.
    cached: bool,
}

impl Clone for Session {
    fn clone(&self) -> Self {
        Session {
            user: self.user,
            roles: self.roles.clone(),
            cached: false,
        }
    }
}

thread_local! {
    /// The state this thread's sessions were cached in.
    static STATE: Cell<Option<&'static AppState>> = const { Cell::new(None) };
}

/// `Drop`s that used the cache, and the most entries one of them saw.
static TOUCHES: AtomicUsize = AtomicUsize::new(0);
static MOST_SEEN: AtomicUsize = AtomicUsize::new(0);

impl Drop for Session {
    fn drop(&mut self) {
        let Some(state) = STATE.with(Cell::get).filter(|_| self.cached) else {
            return;
        };
        let len = state.sessions.len();
        // A lookup of the key this session was under, and of another in its shard or not.
        let _ = state.sessions.get(&self.user);
        let _ = state.sessions.get(&(self.user + 1));
        MOST_SEEN.fetch_max(len, Relaxed);
        TOUCHES.fetch_add(1, Relaxed);
    }
}

fn session(user: u64) -> Session {
    Session {
        user,
        roles: vec!["reader".to_string(); 2],
        cached: true,
    }
}

/// Runs `scenario` on a thread of its own, with a state made under `clock`, and fails if it
/// has not finished within 20 seconds; returns how many `Drop`s used the cache.
fn within_timeout(clock: ManualClock, scenario: fn(&'static AppState, &ManualClock)) -> usize {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let state: &'static AppState = {
            let _installed = clock.install();
            Box::leak(Box::new(AppState::default()))
        };
        STATE.with(|s| s.set(Some(state)));
        let before = TOUCHES.load(Relaxed);
        scenario(state, &clock);
        let touches = TOUCHES.load(Relaxed) - before;
        STATE.with(|s| s.set(None));
        let _ = done.send(touches);
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(touches) => touches,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlocked: a value dropped by the cache used the cache")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the scenario failed (above)"),
    }
}

#[test]
fn an_evicted_value_whose_drop_uses_the_cache_does_not_deadlock() {
    let touches = within_timeout(ManualClock::new(), |state, _| {
        for user in 0..1_000 {
            state.sessions.insert(user, session(user));
        }
        assert!(state.sessions.len() <= 64);
    });
    // Every eviction dropped a value that used the cache.
    assert!(touches >= 1_000 - 64, "{touches} drops used the cache");
    assert!(MOST_SEEN.load(Relaxed) <= 64);
}

#[test]
fn a_replaced_value_whose_drop_uses_the_cache_does_not_deadlock() {
    let touches = within_timeout(ManualClock::new(), |state, _| {
        for _ in 0..100 {
            for user in 0..10 {
                state.sessions.insert(user, session(user));
            }
        }
        assert_eq!(state.sessions.len(), 10);
        assert_eq!(state.sessions.stats().evictions, 0);
    });
    assert!(touches >= 990, "{touches} drops used the cache");
}

#[test]
fn an_expired_value_whose_drop_uses_the_cache_does_not_deadlock() {
    let touches = within_timeout(ManualClock::new(), |state, clock| {
        // Fewer than the bound: none is evicted, whichever shards the keys fall in.
        for user in 0..32 {
            state.sessions.insert(user, session(user));
        }
        clock.advance(Duration::from_secs(2));
        // Lookups of missing keys release the expired entries, and a lookup of an expired
        // key releases its own.
        assert!(state.sessions.get(&5).is_none());
        for user in 1_000..3_000 {
            if state.sessions.is_empty() {
                break;
            }
            assert!(state.sessions.get(&user).is_none());
        }
        assert_eq!(state.sessions.len(), 0);
        assert_eq!(state.sessions.stats().expirations, 32);
    });
    assert!(touches >= 32, "{touches} drops used the cache");
}

#[test]
fn values_returned_by_get_or_insert_with_and_remove_may_use_the_cache_as_they_drop() {
    let touches = within_timeout(ManualClock::new(), |state, _| {
        for user in 0..32 {
            assert_eq!(
                state
                    .sessions
                    .get_or_insert_with(&user, || session(user))
                    .user,
                user
            );
        }
        for user in 0..32 {
            assert!(state.sessions.remove(&user).is_some());
        }
        assert!(state.sessions.is_empty());
    });
    // The values `get_or_insert_with` and `remove` returned dropped here, outside the cache.
    assert!(touches >= 32, "{touches} drops used the cache");
}
