//! With fat LTO the runtime's code is inlined into the program's own
//! functions, and a signal preemption may land in it — in spawn's path
//! while it holds the scheduler's lock. The handler must not switch the
//! goroutine out then (lock.rs: a per-thread count of runtime locks held,
//! Go's m.locks), or its M would take the same lock in the scheduler.
//!
//! Builds examples/lto_spawn.rs with the `lto` profile (fat LTO, one codegen
//! unit; its own target directory, so the rest of the tests are not
//! rebuilt) and runs it for 5 s at GOMAXPROCS 1 and 2 with a 1 ms slice:
//! spawning in a tight loop beside a sleeper. It must finish and report.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Builds the example once and returns its path.
fn build() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target").join("lto-test");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--profile", "lto", "--example", "lto_spawn"])
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the LTO example failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("lto").join("examples").join("lto_spawn")
}

/// Runs the example; fails if it does not finish within `limit` (its exit
/// is awaited on a helper thread; on a timeout the child is killed).
fn run(exe: &PathBuf, procs: &str, limit: Duration) -> String {
    let child = Command::new(exe)
        .env("GOMAXPROCS", procs)
        .env("GORT_TIMESLICE", "1ms")
        .env_remove("GODEBUG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the LTO example");
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for the LTO example"),
        Err(_) => {
            // SAFETY: kill takes plain integers; `pid` is our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("P={procs}: the LTO example hung (no exit within {limit:?})");
        }
    };
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "P={procs}: {}\n{so}\n{se}",
        out.status
    );
    so
}

#[test]
fn spawn_loop_beside_a_sleeper_under_fat_lto() {
    let exe = build();
    for procs in ["1", "2"] {
        let so = run(&exe, procs, Duration::from_secs(60));
        let line = so
            .lines()
            .find(|l| l.starts_with("lto-spawn:"))
            .unwrap_or_else(|| panic!("no report:\n{so}"));
        println!("P={procs}: {line}");
        assert!(line.contains("sleeper_wakes="), "{line}");
        assert!(
            !line.contains("sleeper_wakes=0 "),
            "the sleeper never woke: {line}"
        );
    }
}
