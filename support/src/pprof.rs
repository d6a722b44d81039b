//! The real `go tool pprof`, reading a profile: what the export tests check leakguard's
//! pprof output with.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `go tool pprof` with `args` on the gzipped `profile`, returning what it printed.
///
/// # Panics
///
/// If `go` is not installed, or pprof fails on the profile.
pub fn go_pprof(profile: &[u8], args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!("leakguard-pprof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let next = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("heap-{next}.pb.gz"));
    std::fs::write(&path, profile).unwrap();
    let output = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(&path)
        .output()
        .expect("`go` runs: this test reads profiles with the real `go tool pprof`; install Go (`apt-get install golang-go`), as .ci/run does");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "go tool pprof {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
