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

/// Keeps `bytes` in 64 KiB pieces, allocated here, in `into` (whose room the caller made:
/// only the pieces are allocated here).
#[inline(never)]
fn keep_in_upload(bytes: usize, into: &mut Vec<Vec<u8>>) {
    for _ in 0..bytes / PIECE {
        into.push(black_box(vec![1u8; PIECE]));
    }
}

#[inline(never)]
fn keep_unscoped(bytes: usize, into: &mut Vec<Vec<u8>>) {
    for _ in 0..bytes / PIECE {
        into.push(black_box(vec![2u8; PIECE]));
    }
}

#[inline(never)]
fn keep_more(bytes: usize, into: &mut Vec<Vec<u8>>) {
    for _ in 0..bytes / PIECE {
        into.push(black_box(vec![3u8; PIECE]));
    }
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
            // Every node: small blocks sampled at 512 KiB by other tests stand for many
            // objects, and would push a site below pprof's default cut.
            "-nodefraction=0",
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
    // The lists are made before the scope: inside it are only the pieces.
    let mut upload = Vec::with_capacity(64);
    {
        let _scope = leakguard::scope("upload");
        keep_in_upload(1 << 20, &mut upload);
    }
    let mut unscoped = Vec::with_capacity(64);
    keep_unscoped(256 << 10, &mut unscoped);
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
    let line = include_str!("heap_profile.rs")
        .lines()
        .position(|l| l.contains("vec![1u8; PIECE]"))
        .unwrap()
        + 1;
    assert!(
        lines
            .lines()
            .any(|l| l.contains("heap_profile::keep_in_upload ")
                && l.contains(&format!("tests/heap_profile.rs:{line}"))),
        "line {line}:\n{lines}"
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
            "-nodefraction=0",
            "-tagroot=leak_scope",
        ],
    );
    assert_eq!(cum(&by_scope, "upload"), (1 << 20) as f64, "{by_scope}");
    assert!(
        cum(&by_scope, "unscoped") >= (256 << 10) as f64,
        "{by_scope}"
    );

    // A diff against the base shows what grew since.
    let mut more = Vec::with_capacity(64);
    keep_more(512 << 10, &mut more);
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

/// The three known sites of the accuracy test: each keeps one 64 KiB piece.
#[inline(never)]
fn keep_64_mib(into: &mut Vec<Vec<u8>>) {
    into.push(black_box(vec![4u8; PIECE]));
}

#[inline(never)]
fn keep_16_mib(into: &mut Vec<Vec<u8>>) {
    into.push(black_box(vec![5u8; PIECE]));
}

#[inline(never)]
fn keep_4_mib(into: &mut Vec<Vec<u8>>) {
    into.push(black_box(vec![6u8; PIECE]));
}

/// Short-lived allocations of mixed sizes, 16 B to 32 KiB: each replaces one of the last
/// 64.
#[inline(never)]
fn churn(ring: &mut [Vec<u8>], seed: &mut u64, count: usize) {
    for _ in 0..count {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let size = 16 << (*seed % 11);
        let at = (*seed >> 32) as usize % ring.len();
        ring[at] = black_box(vec![7u8; size + (*seed >> 48) as usize % size]);
    }
}

const SITES: [(&str, usize); 3] = [
    ("heap_profile::keep_64_mib", 64 << 20),
    ("heap_profile::keep_16_mib", 16 << 20),
    ("heap_profile::keep_4_mib", 4 << 20),
];

/// One run: the three sites' live bytes as the profile estimates them, read by
/// `go tool pprof`, with the churn between their pieces.
fn accuracy_run(seed: u64) -> [f64; 3] {
    let mut kept = [
        Vec::with_capacity(1024),
        Vec::with_capacity(256),
        Vec::with_capacity(64),
    ];
    let mut ring: Vec<Vec<u8>> = (0..64).map(|_| Vec::new()).collect();
    let mut seed = seed | 1;
    // 64 rounds of 16 + 4 + 1 pieces, interleaved with 600 short-lived allocations.
    for _ in 0..64 {
        for _ in 0..4 {
            for _ in 0..4 {
                keep_64_mib(&mut kept[0]);
            }
            keep_16_mib(&mut kept[1]);
            churn(&mut ring, &mut seed, 150);
        }
        keep_4_mib(&mut kept[2]);
    }
    drop(ring);
    let profile = leakguard::heap_profile();
    let top = top(&profile, "inuse_space");
    let figures = SITES.map(|(function, _)| {
        top.lines()
            .find(|line| line.trim_end().ends_with(&format!(" {function}")))
            .map_or(0.0, |_| cum(&top, function))
    });
    drop(kept);
    figures
}

#[test]
fn sampled_figures_match_known_live_bytes_among_churn() {
    if !leakguard::ENABLED {
        return;
    }
    let _turn = RATE.lock().unwrap_or_else(|e| e.into_inner());
    let mib = |bytes: f64| bytes / (1 << 20) as f64;
    leakguard::set_heap_sample_rate(524_288);
    let runs: Vec<[f64; 3]> = (0..10)
        .map(|run| accuracy_run(0x9E37_79B9_7F4A_7C15 ^ run))
        .collect();
    let mean = |site: usize| runs.iter().map(|r| r[site]).sum::<f64>() / runs.len() as f64;
    let means = [mean(0), mean(1), mean(2)];
    let sum = means.iter().sum::<f64>();
    for run in &runs {
        eprintln!(
            "default rate, one run: {:.1} / {:.1} / {:.1} MiB",
            mib(run[0]),
            mib(run[1]),
            mib(run[2])
        );
    }
    eprintln!(
        "default rate, mean of 10 runs: {:.1} / {:.1} / {:.1} MiB, sum {:.1} MiB (truth 64 / 16 / 4, 84)",
        mib(means[0]),
        mib(means[1]),
        mib(means[2]),
        mib(sum)
    );
    let within = |estimate: f64, truth: usize, tolerance: f64| {
        (estimate / truth as f64 - 1.0).abs() <= tolerance
    };
    assert!(within(means[0], 64 << 20, 0.10), "{means:?}");
    assert!(within(sum, 84 << 20, 0.10), "{means:?}");
    assert!(
        means[0] > means[1] && means[1] > means[2],
        "ranking: {means:?}"
    );

    leakguard::set_heap_sample_rate(4096);
    let fine = accuracy_run(42);
    leakguard::set_heap_sample_rate(524_288);
    eprintln!(
        "rate 4096, one run: {:.2} / {:.2} / {:.2} MiB",
        mib(fine[0]),
        mib(fine[1]),
        mib(fine[2])
    );
    for (estimate, (function, truth)) in fine.iter().zip(SITES) {
        assert!(
            within(*estimate, truth, 0.10),
            "{function}: {estimate} B of {truth}"
        );
    }
}
