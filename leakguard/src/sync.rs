//! Locks that instrumentation can always take, and the fault injection that proves it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, whatever a panic elsewhere left in it: every lock leakguard holds guards
/// state that stays consistent between statements, and instrumentation must not panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Poisons `mutex` without running the panic hook, as a panic while holding it would: the
/// fault leakguard's reliability tests inject.
pub(crate) fn poison<T>(mutex: &Mutex<T>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = mutex.lock();
        std::panic::resume_unwind(Box::new("leakguard fault injection"));
    }));
}
