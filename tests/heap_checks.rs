//! With `leakguard::Alloc` installed, `assert_no_leaks` and `assert_no_leaks_async` also
//! fail when memory allocated inside the check, on its thread or in tasks under it, is
//! still live at its end, with bytes and blocks in the message; checks running at once see
//! only their own. In its own binary: it installs the global allocator.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier, Mutex};

use leakguard::ScopeExt;
use leakguard::testing::{assert_no_leaks, assert_no_leaks_async};

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

/// Where tests keep what they leak on purpose, to free it afterwards: one per test, as a
/// check waits a moment for memory still live to be freed by other threads.
static KEPT_IN_SCOPE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
static KEPT_AT_ONCE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
static KEPT_BY_TASK: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn failure(f: impl FnOnce()) -> Option<String> {
    let panic = catch_unwind(AssertUnwindSafe(f)).err()?;
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
}

fn warm_up(kept: &Mutex<Vec<Vec<u8>>>) {
    // The Vec grows on its first push: make that happen outside the checks.
    kept.lock().unwrap().reserve(64);
}

#[test]
fn memory_left_live_by_the_closure_fails_the_check_with_its_bytes_and_blocks() {
    if !leakguard::ENABLED {
        return;
    }
    let message = failure(|| {
        assert_no_leaks(|| {
            let _freed = vec![1u8; 4096];
            Box::leak(vec![7u8; 300].into_boxed_slice());
        })
    })
    .expect("the check fails");
    assert_eq!(
        message,
        "assert_no_leaks failed: 1 problem\n  300 B in 1 block allocated inside the check is still live"
    );
}

#[test]
fn memory_freed_before_the_end_passes() {
    if !leakguard::ENABLED {
        return;
    }
    assert_no_leaks(|| {
        let mut buffers: Vec<Vec<u8>> = (0..100).map(|i| vec![0; i * 10]).collect();
        buffers.truncate(3);
        let _scope = leakguard::scope("inner");
        buffers.push(vec![1; 64]);
    });
}

#[test]
fn memory_allocated_in_a_scope_inside_the_check_counts_for_the_check() {
    if !leakguard::ENABLED {
        return;
    }
    warm_up(&KEPT_IN_SCOPE);
    let message = failure(|| {
        assert_no_leaks(|| {
            let _request = leakguard::scope("request");
            KEPT_IN_SCOPE.lock().unwrap().push(vec![0; 1000]);
            KEPT_IN_SCOPE.lock().unwrap().push(vec![0; 24]);
        })
    })
    .expect("the check fails");
    assert!(
        message.contains("1 KiB in 2 blocks allocated inside the check are still live"),
        "{message}"
    );
    KEPT_IN_SCOPE.lock().unwrap().clear();
}

#[test]
fn checks_running_at_once_see_only_their_own_allocations() {
    if !leakguard::ENABLED {
        return;
    }
    warm_up(&KEPT_AT_ONCE);
    let both_inside = Arc::new(Barrier::new(2));
    let leaker = {
        let both_inside = both_inside.clone();
        std::thread::spawn(move || {
            failure(|| {
                assert_no_leaks(|| {
                    KEPT_AT_ONCE.lock().unwrap().push(vec![0; 5000]);
                    both_inside.wait();
                    both_inside.wait();
                })
            })
        })
    };
    // This check runs while the other one holds 5000 B it allocated: it passes.
    assert_no_leaks(|| {
        both_inside.wait();
        let mine = std::hint::black_box(vec![0u8; 128]);
        drop(mine);
        both_inside.wait();
    });
    let message = leaker.join().unwrap().expect("the leaking check fails");
    assert!(message.contains("4.9 KiB in 1 block"), "{message}");
}

#[test]
fn a_task_under_an_async_check_leaking_on_another_worker_fails_it() {
    if !leakguard::ENABLED {
        return;
    }
    warm_up(&KEPT_BY_TASK);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    // tokio grows each worker's list of yielded tasks on first use, and keeps it: a lazily
    // made buffer the check would report. Warm the workers up as the check's code will use
    // them.
    // Each task blocks its worker a moment, so that every worker runs some.
    runtime.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                tokio::spawn(
                    async {
                        for _ in 0..4 {
                            tokio::task::yield_now().await;
                            std::thread::sleep(std::time::Duration::from_micros(500));
                        }
                    }
                    .in_current_leak_scope(),
                )
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let message = failure(|| {
        runtime.block_on(assert_no_leaks_async(async {
            let task = tokio::spawn(
                async {
                    tokio::task::yield_now().await;
                    KEPT_BY_TASK.lock().unwrap().push(vec![0; 2048]);
                }
                .in_current_leak_scope(),
            );
            task.await.unwrap();
        }))
    })
    .expect("the check fails");
    assert!(
        message.contains("assert_no_leaks_async failed")
            && message.ends_with("\n  2 KiB in 1 block allocated inside the check is still live"),
        "{message}"
    );
    KEPT_BY_TASK.lock().unwrap().clear();
    // And the same task freeing what it made passes.
    runtime.block_on(assert_no_leaks_async(async {
        let task = tokio::spawn(
            async {
                tokio::task::yield_now().await;
                let buffer = vec![0u8; 2048];
                buffer.len()
            }
            .in_current_leak_scope(),
        );
        assert_eq!(task.await.unwrap(), 2048);
    }));
}

/// A lazily initialized static, as a service keeps a compiled regex or a config: made on
/// first use, kept on purpose.
static ROUTES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| (0..20).map(|i| format!("/route/{i}")).collect());
static KEPT_PER_ITERATION: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
static ROUTES_ASYNC: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| (0..20).map(|i| format!("/async/{i}")).collect());
static KEPT_PER_ITERATION_ASYNC: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn route(path: &str) -> usize {
    ROUTES.iter().position(|r| r == path).unwrap_or(usize::MAX)
}

#[test]
fn a_static_made_on_first_use_fails_a_one_shot_check_but_not_the_growth_check_it_warms() {
    if !leakguard::ENABLED {
        return;
    }
    // What remains of the classic false alarm: a one-shot check sees the static's memory
    // made inside it and still live.
    let message = failure(|| assert_no_leaks(|| assert_eq!(route("/route/3"), 3)))
        .expect("the one-shot check fails");
    assert!(
        message.contains("allocated inside the check are still live"),
        "{message}"
    );
    // By design, the growth check's first iteration warms up: the static exists after it,
    // and nothing grows after that.
    let _other = std::sync::LazyLock::force(&ROUTES_ASYNC);
    leakguard::testing::assert_no_growth(4, || {
        let _request = format!("GET {}", "/route/7");
        assert_eq!(route("/route/7"), 7);
    });
}

#[test]
fn memory_kept_on_every_iteration_fails_the_growth_check_with_bytes_and_blocks() {
    if !leakguard::ENABLED {
        return;
    }
    warm_up(&KEPT_PER_ITERATION);
    let failure = leakguard::testing::check_no_growth(5, || {
        let _freed = vec![0u8; 1000];
        KEPT_PER_ITERATION.lock().unwrap().push(vec![1; 100]);
    })
    .expect_err("kept 100 B each time");
    KEPT_PER_ITERATION.lock().unwrap().clear();
    assert_eq!(
        failure.problems(),
        [
            "the heap allocated inside the check grew on every one of 4 iterations after the first: +100 B, +1 blocks per iteration (500 B in 5 blocks live now)"
        ]
    );
}

#[test]
fn the_async_growth_check_warms_up_on_a_multi_thread_runtime_and_sees_what_tasks_keep() {
    if !leakguard::ENABLED {
        return;
    }
    warm_up(&KEPT_PER_ITERATION_ASYNC);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // The first iteration makes the static and the runtime's per-worker buffers.
        tokio::spawn(leakguard::testing::assert_no_growth_async(4, || async {
            let found = tokio::spawn(
                async { ROUTES_ASYNC.iter().filter(|r| r.ends_with('1')).count() }
                    .in_current_leak_scope(),
            )
            .await
            .unwrap();
            assert_eq!(found, 2);
        }))
        .await
        .unwrap();
        let failure = tokio::spawn(leakguard::testing::check_no_growth_async(4, || async {
            tokio::spawn(
                async { KEPT_PER_ITERATION_ASYNC.lock().unwrap().push(vec![2; 64]) }
                    .in_current_leak_scope(),
            )
            .await
            .unwrap();
        }))
        .await
        .unwrap()
        .expect_err("a task kept 64 B each time");
        let problems = failure.problems();
        assert_eq!(problems.len(), 1, "{failure}");
        // +64 B and one block an iteration; now and then a runtime buffer the tasks use
        // grows in place inside the check (a realloc: bytes, not blocks), which is counted too.
        let grew = problems[0]
            .strip_prefix(
                "the heap allocated inside the check grew on every one of 3 iterations after the first: +",
            )
            .and_then(|rest| rest.split_once(" B, +1 blocks per iteration"))
            .and_then(|(bytes, _)| bytes.parse::<u64>().ok());
        assert!(
            grew.is_some_and(|bytes| (64..64 + 128).contains(&bytes)),
            "{failure}"
        );
    });
    KEPT_PER_ITERATION_ASYNC.lock().unwrap().clear();
}
