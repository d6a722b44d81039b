//! Scopes and test checks that follow futures and closures: entered on every poll, on
//! whatever thread polls, and left before the poll returns, so that nothing is held across
//! `.await`; entered for the run of a closure, on whatever thread runs it.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::harness::{self, Check};
use crate::scope::{self, ScopeInfo};

/// Scopes for futures: [`leak_scope`](ScopeExt::leak_scope) makes a future a scope of its
/// own, [`in_current_leak_scope`](ScopeExt::in_current_leak_scope) makes a spawned task part
/// of the scope (and test check) it was spawned from.
///
/// ```
/// use leakguard::ScopeExt;
///
/// # async fn handle(_: u64) {}
/// # async fn background() {}
/// # async fn run() {
/// // A request handler that is its own scope, on whatever worker polls it.
/// let request = handle(7).leak_scope("handle_request");
/// // Inside it, a task that belongs to the request until it finishes.
/// let job = background().in_current_leak_scope();
/// # request.await; job.await;
/// # }
/// ```
pub trait ScopeExt: Future + Sized {
    /// This future as a scope named `name`: scoped collections created while it is polled
    /// belong to it, whichever thread polls it, and those still alive a grace period after
    /// it completes (or is dropped) have outlived it.
    ///
    /// Nothing is held across `.await`: the scope is entered for each poll and left before
    /// the poll returns, so the future is `Send` when `self` is, and futures polled together
    /// (`join!`, `select!`) each keep their own collections.
    fn leak_scope(self, name: impl Into<Cow<'static, str>>) -> LeakScoped<Self> {
        LeakScoped {
            future: self,
            carried: Carried {
                scope: Some(ScopeInfo::here(name.into())),
                check: Check::default(),
            },
        }
    }

    /// This future as part of the scope and test check current where it is made: for a
    /// task spawned by code in a scope, `tokio::spawn(job.in_current_leak_scope())`.
    ///
    /// The scope stays open until the task completes, so what the task holds is not
    /// reported while it runs; collections it made that outlive it and the scope are. Under
    /// [`assert_no_leaks_async`](crate::testing::assert_no_leaks_async), what the task
    /// creates counts as the checked future's.
    fn in_current_leak_scope(self) -> LeakScoped<Self> {
        LeakScoped {
            future: self,
            carried: Carried::current(),
        }
    }
}

impl<F: Future> ScopeExt for F {}

/// A future with its scope and test check; see [`ScopeExt`].
#[must_use = "futures do nothing unless polled"]
pub struct LeakScoped<F> {
    future: F,
    carried: Carried,
}

/// `f` as a closure that runs inside the scope and test check current where it is made,
/// on whatever thread runs it: what [`in_current_leak_scope`](ScopeExt::in_current_leak_scope)
/// is for a future, for `tokio::task::spawn_blocking`, `std::thread::spawn` or a thread
/// pool, whose closures otherwise run outside any scope.
///
/// A scoped collection made inside `f` belongs to the caller's scope, and is reported
/// against it if it outlives it; the scope stays open until the closure has run (or is
/// dropped unrun). Under [`assert_no_leaks`](crate::testing::assert_no_leaks), what `f`
/// creates counts as the checked closure's. The closure is `Send` when `f` is.
///
/// ```
/// use leakguard::{track_growth, with_current_leak_scope};
///
/// #[track_growth(scoped)]
/// #[derive(Default)]
/// struct Thumbnail {
///     pixels: Vec<u8>,
/// }
///
/// let _request = leakguard::scope("resize");
/// let resized = std::thread::spawn(with_current_leak_scope(|| {
///     let mut thumbnail = Thumbnail::default(); // in `resize`, on the other thread
///     thumbnail.pixels.resize(64 * 64, 0);
///     thumbnail.pixels.len()
/// }))
/// .join()
/// .unwrap();
/// assert_eq!(resized, 4096);
/// ```
///
/// With tokio: `tokio::task::spawn_blocking(with_current_leak_scope(move || decode(body)))`.
pub fn with_current_leak_scope<F, R>(f: F) -> impl FnOnce() -> R
where
    F: FnOnce() -> R,
{
    let carried = Carried::current();
    move || carried.run(f)
}

/// The scope a future or closure holds open, and the test check it belongs to.
struct Carried {
    /// The scope, if any.
    scope: Option<Arc<ScopeInfo>>,
    /// The test check it belongs to; tag 0 for none.
    check: Check,
}

impl Carried {
    /// The scope and check current on this thread, held open until dropped.
    fn current() -> Self {
        if !crate::mode::ENABLED {
            return Carried {
                scope: None,
                check: Check::default(),
            };
        }
        let scope = scope::current();
        if let Some(scope) = &scope {
            scope::hold(scope);
        }
        Carried {
            scope,
            check: Check::current(),
        }
    }

    /// Runs `f` with them entered on this thread; they are left when `f` returns or
    /// unwinds. The scope is entered last, so left first.
    #[inline]
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _check = (self.check.tag != 0).then(|| CheckEntered(harness::enter(self.check)));
        match &self.scope {
            Some(scope) => scope::polled(scope, f),
            None => f(),
        }
    }
}

impl Drop for Carried {
    /// Lets go of the scope: the last holder ends it.
    fn drop(&mut self) {
        if let Some(scope) = self.scope.take() {
            scope::let_go(&scope);
        }
    }
}

impl<F> LeakScoped<F> {
    /// A future polled under the test check `check`.
    pub(crate) fn checked(future: F, check: Check) -> Self {
        LeakScoped {
            future,
            carried: Carried { scope: None, check },
        }
    }

    /// The scope's name, if it has one.
    pub fn scope_name(&self) -> Option<&str> {
        self.carried.scope.as_deref().map(|scope| &*scope.name)
    }
}

impl<F: Future> Future for LeakScoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is pinned with `self` and never moved out of it: not here, and
        // `LeakScoped` has no `Drop` that could; the other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if !crate::mode::ENABLED {
            return future.poll(cx);
        }
        this.carried.run(|| future.poll(cx))
    }
}

/// A test check entered on this thread; the check it replaced is current again when
/// dropped, even if the poll panics.
struct CheckEntered(Check);

impl Drop for CheckEntered {
    fn drop(&mut self) {
        harness::leave(self.0);
    }
}

impl<F> fmt::Debug for LeakScoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakScoped")
            .field("scope", &self.scope_name())
            .field("check", &self.carried.check.tag)
            .finish_non_exhaustive()
    }
}
