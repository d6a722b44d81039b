//! The scope current on this thread: the innermost of the scopes entered on it, whether by a
//! span or a [`scope`](super::scope) guard (kept on a stack) or by a future being polled
//! (kept in a frame on the call stack of its poll).
//!
//! A poll is the hot path (issue 23): a service polls its request's future many times, and
//! each poll enters and leaves its scope. So a poll does not touch the stack: it swaps its
//! scope into one const thread-local, [`THREAD`], keeps what was there in its own frame, and
//! swaps it back when the poll returns or unwinds. Polls nest as calls do, so the frame in
//! [`THREAD`] is always that of the innermost poll under way on this thread. Spans and
//! guards, which may end in any order, stay on the stack; every entry, of either kind, is
//! numbered, and whichever of the stack's top and the frame was entered last is the
//! innermost, as when both were on one stack.
//!
//! [`THREAD`] also keeps the number and account of the stack's top, so that a poll's end
//! finds the account to make current again without borrowing the stack: one thread-local
//! of scopes, and one of accounts, on each side of a poll.
//!
//! The frame names its scope by a raw pointer, which the poll holds for as long as it is in
//! the frame: the only unsafe code of scopes.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::{ScopeInfo, span_scope};
use crate::accounts::{self, Own};

/// A scope entered on this thread's stack.
pub(super) enum Entered {
    /// A span entered while the layer is installed; its scope is made on first use.
    Span {
        span: u64,
        scope: Option<Arc<ScopeInfo>>,
    },
    /// A [`scope`](super::scope) guard.
    Explicit(Arc<ScopeInfo>),
}

impl Entered {
    /// Its heap account, 0 if its scope is not made yet.
    fn account(&self) -> u32 {
        match self {
            Entered::Explicit(scope)
            | Entered::Span {
                scope: Some(scope), ..
            } => scope.account,
            Entered::Span { scope: None, .. } => 0,
        }
    }
}

/// An entry of the stack, numbered in the order of entry on this thread.
struct Entry {
    number: u64,
    entered: Entered,
}

/// The innermost future being polled on this thread, as the next poll keeps it to put back.
#[derive(Clone, Copy)]
struct Frame {
    /// Its scope; null for none.
    scope: *const ScopeInfo,
    /// Its scope's heap account.
    account: u32,
    /// Its number of entry; 0 for none.
    number: u64,
}

/// This thread's scopes, but for the stack: a const thread-local without a destructor, so
/// that it stays readable while the thread's other thread-locals are torn down. Each field a
/// cell of its own, written and read whole: no narrow store is read back wider.
struct Thread {
    /// The frame of the innermost poll under way.
    scope: Cell<*const ScopeInfo>,
    account: Cell<u32>,
    number: Cell<u64>,
    /// Scopes entered so far on this thread, by polls, spans and guards.
    entries: Cell<u64>,
    /// The number of the stack's top entry and its account; 0 and 0 for an empty stack.
    top_number: Cell<u64>,
    top_account: Cell<u32>,
}

impl Thread {
    /// The next number of entry. The thread's first entry notes that scopes are entered
    /// in the process.
    #[inline]
    fn next_number(&self) -> u64 {
        let entries = self.entries.get();
        if entries == 0 {
            ENTERED_ANYWHERE.store(true, Relaxed);
        }
        let number = entries.wrapping_add(1);
        self.entries.set(number);
        number
    }

    #[inline]
    fn frame(&self) -> Frame {
        Frame {
            scope: self.scope.get(),
            account: self.account.get(),
            number: self.number.get(),
        }
    }

    #[inline]
    fn set_frame(&self, frame: Frame) {
        self.scope.set(frame.scope);
        self.account.set(frame.account);
        self.number.set(frame.number);
    }

    /// Whether the frame's scope is the innermost: entered after the stack's top.
    #[inline]
    fn frame_innermost(&self) -> bool {
        self.number.get() > self.top_number.get()
    }

    /// The innermost scope's heap account, 0 for none.
    #[inline]
    fn innermost_account(&self) -> u32 {
        if self.frame_innermost() {
            self.account.get()
        } else {
            self.top_account.get()
        }
    }
}

thread_local! {
    static THREAD: Thread = const {
        Thread {
            scope: Cell::new(ptr::null()),
            account: Cell::new(0),
            number: Cell::new(0),
            entries: Cell::new(0),
            top_number: Cell::new(0),
            top_account: Cell::new(0),
        }
    };
    static STACK: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Whether a scope was ever entered in the process: what tells a filter that hides every
/// span from code that runs outside the scopes others enter.
static ENTERED_ANYWHERE: AtomicBool = AtomicBool::new(false);

/// Whether a scope was ever entered in the process.
pub(super) fn entered_anywhere() -> bool {
    ENTERED_ANYWHERE.load(Relaxed)
}

/// Whether a scope was ever entered on this thread.
pub(super) fn entered_here() -> bool {
    THREAD.try_with(|t| t.entries.get() > 0).unwrap_or(true)
}

// A future's poll.

/// Runs `f`, a poll, with `scope` the innermost scope on this thread, whatever the stack
/// holds; the scope that was innermost before is innermost again when `f` returns or
/// unwinds. `scope` is borrowed for the whole of `f`, so the frame's pointer to it is live
/// while the frame is in [`THREAD`].
///
/// Without an allocator that charges accounts, every account is 0 and so is the current
/// one: the poll leaves them alone. (An allocator installed during the poll finds the
/// scope's account 0, as the scope began before it: the current account is right until
/// the poll's end makes the innermost one's current.)
#[inline]
pub(crate) fn polled<R>(scope: &Arc<ScopeInfo>, f: impl FnOnce() -> R) -> R {
    let account = scope.account;
    let entered = Frame {
        scope: Arc::as_ptr(scope),
        account,
        number: 0,
    };
    let Ok(outer) = THREAD.try_with(|t| {
        let outer = t.frame();
        t.set_frame(Frame {
            number: t.next_number(),
            ..entered
        });
        outer
    }) else {
        return f();
    };
    let _left = Left(outer);
    if accounts::installed() {
        accounts::set_current(account);
    }
    f()
}

/// Puts the frame of the outer poll back when dropped: when the poll returns or unwinds.
/// Made only in [`polled`], and dropped there, so polls' frames come and go as calls do.
struct Left(Frame);

impl Drop for Left {
    #[inline]
    fn drop(&mut self) {
        let account = THREAD
            .try_with(|t| {
                t.set_frame(self.0);
                t.innermost_account()
            })
            .unwrap_or(0);
        if accounts::installed() {
            accounts::set_current(account);
        }
    }
}

// Spans and guards.

/// Pushes `entered` onto this thread's stack: the innermost scope until removed.
pub(super) fn push(entered: Entered) {
    with_stack(|stack, thread| {
        if stack.len() == stack.capacity() {
            // Leakguard's own account pays for the stack's growth.
            let _own = Own::start();
            stack.reserve(4);
        }
        stack.push(Entry {
            number: thread.next_number(),
            entered,
        });
    });
}

/// Removes the innermost entry of this thread's stack that `is` picks out.
pub(super) fn remove_innermost(is: impl Fn(&Entered) -> bool) {
    with_stack(|stack, _| {
        if let Some(at) = stack.iter().rposition(|e| is(&e.entered)) {
            let _own = Own::start();
            stack.remove(at);
        }
    });
}

/// Runs `f` on this thread's stack of scopes, then makes the innermost scope's heap
/// account current; does nothing while the stack is unavailable (the thread is being torn
/// down, or the stack is borrowed further up). The stack's own memory is leakguard's: `f`
/// grows it through [`push`], and what it drops is charged to leakguard too.
fn with_stack(f: impl FnOnce(&mut Vec<Entry>, &Thread)) {
    let _ = THREAD.try_with(|thread| {
        let _ = STACK.try_with(|stack| {
            if let Ok(mut stack) = stack.try_borrow_mut() {
                f(&mut stack, thread);
                set_top(&stack, thread);
                accounts::set_current(thread.innermost_account());
            }
        });
    });
}

/// Notes the stack's top in `thread`.
fn set_top(stack: &[Entry], thread: &Thread) {
    let (number, account) = stack
        .last()
        .map_or((0, 0), |top| (top.number, top.entered.account()));
    thread.top_number.set(number);
    thread.top_account.set(account);
}

/// Makes the innermost scope's heap account current again, after the base account (a test
/// check's) changed.
pub(crate) fn refresh_account() {
    // A test check counts as entering scopes for the `no_scope` warning's cause, as it
    // did when this went through the stack.
    if !ENTERED_ANYWHERE.load(Relaxed) {
        ENTERED_ANYWHERE.store(true, Relaxed);
    }
    let account = THREAD.try_with(Thread::innermost_account).unwrap_or(0);
    accounts::set_current(account);
}

/// The innermost scope on this thread, if any; makes a span's scope on first use.
pub(crate) fn current() -> Option<Arc<ScopeInfo>> {
    let thread_state = THREAD.try_with(|t| (t.frame_innermost(), t.scope.get()));
    match thread_state {
        Ok((true, scope)) if !scope.is_null() => {
            // SAFETY: the frame's scope is that of a poll under way on this thread, which
            // holds an `Arc` of it until the frame is put back (`polled`); the pointer came
            // from `Arc::as_ptr` of that `Arc`. One more strong count makes the `Arc`
            // returned.
            unsafe {
                Arc::increment_strong_count(scope);
                Some(Arc::from_raw(scope))
            }
        }
        Ok(_) => on_stack(),
        Err(_) => None,
    }
}

/// The innermost scope of this thread's stack, if any; makes a span's scope on first use.
fn on_stack() -> Option<Arc<ScopeInfo>> {
    THREAD
        .try_with(|thread| {
            STACK
                .try_with(|stack| {
                    let mut stack = stack.try_borrow_mut().ok()?;
                    let scope = match &mut stack.last_mut()?.entered {
                        Entered::Explicit(scope)
                        | Entered::Span {
                            scope: Some(scope), ..
                        } => scope.clone(),
                        Entered::Span { span, scope } => {
                            let made = scope.insert(span_scope(*span)?).clone();
                            set_top(&stack, thread);
                            made
                        }
                    };
                    Some(scope)
                })
                .ok()
                .flatten()
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::super::{ScopeGuard, let_go, scope};
    use super::*;

    /// The innermost scope's name, and the account current on this thread.
    fn innermost() -> (Option<String>, u32) {
        (
            current().map(|s| s.name.to_string()),
            accounts::current_unresolved(),
        )
    }

    fn named(name: &str, scope: &ScopeInfo) -> (Option<String>, u32) {
        (Some(name.to_string()), scope.account)
    }

    fn guard_scope(guard: &ScopeGuard) -> Arc<ScopeInfo> {
        guard.info.clone()
    }

    #[test]
    fn a_poll_is_innermost_until_it_returns_and_what_it_enters_until_left() {
        accounts::note_installed();
        let request = ScopeInfo::here("request".into());
        let nested = ScopeInfo::here("nested".into());
        assert_ne!(
            request.account, 0,
            "accounts open once an allocator is noted"
        );
        let outer = scope("outer");
        let outer_scope = guard_scope(&outer);
        assert_eq!(innermost(), named("outer", &outer_scope));
        polled(&request, || {
            assert_eq!(innermost(), named("request", &request));
            {
                let inside = scope("inside");
                assert_eq!(innermost(), named("inside", &guard_scope(&inside)));
                polled(&nested, || {
                    assert_eq!(innermost(), named("nested", &nested))
                });
                assert_eq!(innermost(), named("inside", &guard_scope(&inside)));
            }
            assert_eq!(innermost(), named("request", &request));
        });
        assert_eq!(innermost(), named("outer", &outer_scope));
        drop(outer);
        assert_eq!(innermost(), (None, accounts::base()));
        let_go(&request);
        let_go(&nested);
    }

    #[test]
    fn a_panicking_poll_leaves_its_scope() {
        accounts::note_installed();
        let request = ScopeInfo::here("panicking".into());
        let outer = scope("outer");
        let outer_scope = guard_scope(&outer);
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            polled(&request, || {
                let _inside = scope("inside");
                panic!("the handler panicked");
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(innermost(), named("outer", &outer_scope));
        drop(outer);
        assert_eq!(innermost(), (None, accounts::base()));
        let_go(&request);
    }

    /// Guards and spans may end in any order, and outlive a poll: the innermost is the one
    /// entered last of those still entered, as when polls were on the stack too.
    #[test]
    fn guards_that_end_out_of_order_or_outlive_a_poll_keep_the_innermost_the_last_entered() {
        accounts::note_installed();
        let request = ScopeInfo::here("request".into());
        let before = scope("before");
        let polling = &request;
        let kept = polled(&request, move || {
            // Entered before the poll, ended inside it: the poll's scope stays innermost.
            drop(before);
            assert_eq!(innermost(), named("request", polling));
            // Entered inside the poll after that: innermost, though the stack is no
            // deeper than when the poll began.
            let kept = scope("kept");
            assert_eq!(innermost(), named("kept", &guard_scope(&kept)));
            kept
        });
        // Kept past the poll (a single-threaded executor lets a future hold a guard across
        // an `.await`): it is the innermost once the poll returns.
        assert_eq!(innermost(), named("kept", &guard_scope(&kept)));
        polled(&request, || {
            assert_eq!(innermost(), named("request", &request))
        });
        assert_eq!(innermost(), named("kept", &guard_scope(&kept)));
        drop(kept);
        assert_eq!(innermost(), (None, accounts::base()));
        let_go(&request);
    }
}
