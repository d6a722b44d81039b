//! The heap profile of the whole program, as Go's `/debug/pprof/heap`, read by the real
//! `go tool pprof`: names, figures, traces, scopes at the root, diffs, and the accuracy of
//! its sampling against known live bytes. In its own binary: it installs the allocator.

use std::hint::black_box;
use std::sync::Mutex;

use leakguard_support::pprof::go_pprof;

#[global_allocator]
static ALLOC: leakguard::Alloc = leakguard::Alloc::system();

/// The sample rate is the process's: tests that set it take turns.
static RATE: Mutex<()> = Mutex::new(());

const PIECE: usize = 64 << 10;

/// Keeps `bytes` in 64 KiB pieces, allocated here.
#[inline(never)]
fn keep_in_upload(bytes: usize) -> Vec<Vec<u8>> {
    (0..bytes / PIECE)
        .map(|_| black_box(vec![1u8; PIECE]))
        .collect()
}

#[inline(never)]
fn keep_unscoped(bytes: usize) -> Vec<Vec<u8>> {
    (0..bytes / PIECE)
        .map(|_| black_box(vec![2u8; PIECE]))
        .collect()
}

#[inline(never)]
fn keep_more(bytes: usize) -> Vec<Vec<u8>> {
    (0..bytes / PIECE)
        .map(|_| black_box(vec![3u8; PIECE]))
        .collect()
}

/// The `cum` figure in bytes of `function` in `go tool pprof -top -cum -unit=B` output.
fn cum(top: &str, function: &str) -> f64 {
    let line = top
        .lines()
        .find(|line| line.trim_end().ends_with(&format!(" {function}")))
        .unwrap_or_else(|| panic!("no line for {function} in\n{top}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields[3].trim_end_matches('B').parse().unwrap()
}

fn top(profile: &[u8], sample_index: &str) -> String {
    go_pprof(
        profile,
        &[
            "-top",
            "-cum",
            "-unit=B",
            "-symbolize=none",
            &format!("-sample_index={sample_index}"),
        ],
    )
}

#[test]
fn go_tool_pprof_reads_names_figures_traces_scopes_and_diffs() {
    if !leakguard::ENABLED {
        return;
    }
    let _turn = RATE.lock().unwrap_or_else(|e| e.into_inner());
    // At 4 KiB, a 64 KiB piece is sampled but for a chance of e^-16: figures are exact.
    leakguard::set_heap_sample_rate(4096);
    let upload = {
        let _scope = leakguard::scope("upload");
        keep_in_upload(1 << 20)
    };
    let unscoped = keep_unscoped(256 << 10);
    let base = leakguard::heap_profile();

    let inuse = top(&base, "inuse_space");
    assert!(inuse.contains("Type: inuse_space"), "{inuse}");
    assert_eq!(
        cum(&inuse, "heap_profile::keep_in_upload"),
        (1 << 20) as f64
    );
    assert_eq!(
        cum(&inuse, "heap_profile::keep_unscoped"),
        (256 << 10) as f64
    );
    let allocs = top(&base, "alloc_space");
    assert!(cum(&allocs, "heap_profile::keep_in_upload") >= (1 << 20) as f64);
    let objects = top(&base, "inuse_objects");
    assert_eq!(
        cum(&objects, "heap_profile::keep_in_upload"),
        16.0,
        "{objects}"
    );

    // File and line of the allocating line, from the profile alone.
    let lines = go_pprof(&base, &["-top", "-lines", "-symbolize=none", "-unit=B"]);
    assert!(
        lines.contains("heap_profile::keep_in_upload") && lines.contains("heap_profile.rs:21"),
        "{lines}"
    );

    // Each trace carries its scope.
    let traces = go_pprof(&base, &["-traces", "-symbolize=none"]);
    let upload_trace = traces
        .split("-----------+-------------------------------------------------------")
        .find(|trace| trace.contains("heap_profile::keep_in_upload"))
        .expect("a trace of the upload");
    assert!(
        upload_trace.contains("leak_scope:  upload\n"),
        "{upload_trace}"
    );
    let unscoped_trace = traces
        .split("-----------+-------------------------------------------------------")
        .find(|trace| trace.contains("heap_profile::keep_unscoped"))
        .expect("a trace of the unscoped bytes");
    assert!(
        unscoped_trace.contains("leak_scope:  unscoped\n"),
        "{unscoped_trace}"
    );

    // The scopes as root frames, named by the label's value.
    let by_scope = go_pprof(
        &base,
        &[
            "-top",
            "-cum",
            "-unit=B",
            "-symbolize=none",
            "-tagroot=leak_scope",
        ],
    );
    assert_eq!(cum(&by_scope, "upload"), (1 << 20) as f64, "{by_scope}");
    assert!(
        cum(&by_scope, "unscoped") >= (256 << 10) as f64,
        "{by_scope}"
    );

    // A diff against the base shows what grew since.
    let more = keep_more(512 << 10);
    let after = leakguard::heap_profile();
    let dir = std::env::temp_dir().join(format!("leakguard-heap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base_path = dir.join("base.pb.gz");
    std::fs::write(&base_path, &base).unwrap();
    let diff = go_pprof(
        &after,
        &[
            "-top",
            "-cum",
            "-unit=B",
            "-symbolize=none",
            "-sample_index=inuse_space",
            &format!("-diff_base={}", base_path.display()),
        ],
    );
    assert_eq!(
        cum(&diff, "heap_profile::keep_more"),
        (512 << 10) as f64,
        "{diff}"
    );
    assert!(
        !diff.contains("heap_profile::keep_in_upload"),
        "unchanged sites cancel out:\n{diff}"
    );
    drop((upload, unscoped, more));
    leakguard::set_heap_sample_rate(524_288);
}
