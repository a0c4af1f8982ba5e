//! Shared test helpers: a watchdog so a hung scheduler fails instead of
//! hanging CI, and child processes for settings read once per process
//! (GOMAXPROCS, GODEBUG) or for crashes.

#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Runs `f` on a fresh thread; aborts the whole process with a message if it
/// does not finish within `limit`. Re-raises its panic.
pub fn with_timeout<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(limit) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => {} // panicked: join re-raises
        Err(mpsc::RecvTimeoutError::Timeout) => {
            eprintln!("watchdog: test did not finish within {limit:?}; aborting");
            std::process::abort();
        }
    }
    match t.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// The environment variable that marks a child run of one test.
const CHILD: &str = "GORT_TEST_CHILD";

/// True inside the child process started by [`run_child`] for `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// Re-runs this test binary with only `test`, in a child process, with `envs`.
pub fn run_child(test: &str, envs: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .env_remove("GOMAXPROCS")
        .env_remove("GODEBUG")
        .env("RUST_BACKTRACE", "0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run child test process")
}

/// Runs `test` in a child with `envs` ([`run_child`]); asserts that it
/// passed and ran one test. Returns its stdout and stderr.
pub fn child_ok(test: &str, envs: &[(&str, &str)]) -> (String, String) {
    let out = run_child(test, envs);
    let (so, se) = texts(&out);
    assert!(
        out.status.success(),
        "child {test} failed\nstdout:\n{so}\nstderr:\n{se}"
    );
    assert!(so.contains("1 passed"), "child {test} ran no test:\n{so}");
    (so, se)
}

/// Stdout and stderr of a child, as text.
pub fn texts(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// This process's OS thread count (from /proc/self/status).
pub fn os_threads() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads: line")
}

/// Live threads of this process that are Ms (named `gort-m<id>`): the
/// runtime's service threads (sysmon, the SIGQUIT listener, the symbol-table
/// reader, the stack scavenger) start lazily and are not counted.
pub fn m_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with("gort-m"))
        .count()
}

/// One fixed unit of CPU work (as in benchmark W7): 20,000 xorshift64 steps.
pub fn cpu_unit(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = std::hint::black_box(x);
    }
    x
}

/// Runs test `child_p{procs}` of this binary in a child at GOMAXPROCS =
/// `procs` with a 1 ms time slice ([`child_ok`]) and echoes the lines of
/// its stdout that start with `tag`.
pub fn run_sliced_child(procs: &str, tag: &str) {
    let test = format!("child_p{procs}");
    let (so, _) = child_ok(&test, &[("GOMAXPROCS", procs), ("GORT_TIMESLICE", "1ms")]);
    for l in so.lines().filter_map(|l| l.find(tag).map(|i| &l[i..])) {
        println!("P={procs}: {l}");
    }
}

/// Defines tests `$p1` and `$p2`, which run `$body` in a child at
/// GOMAXPROCS 1 and 2 with a 1 ms slice ([`run_sliced_child`], echoing the
/// lines that start with `$tag`), and the child tests `child_p1` and
/// `child_p2` they start, which run `$body` under the watchdog `$limit`.
#[macro_export]
macro_rules! sliced_children {
    ($p1:ident, $p2:ident, $tag:expr, $body:path, $limit:expr) => {
        #[test]
        fn $p1() {
            common::run_sliced_child("1", $tag);
        }

        #[test]
        fn $p2() {
            common::run_sliced_child("2", $tag);
        }

        #[test]
        fn child_p1() {
            if common::is_child("child_p1") {
                common::with_timeout($limit, $body);
            }
        }

        #[test]
        fn child_p2() {
            if common::is_child("child_p2") {
                common::with_timeout($limit, $body);
            }
        }
    };
}

/// `GORT_SOAK=<seconds>`, if set: soak mode, where the storms and the
/// channel model tests run that long instead of their short CI form.
pub fn soak() -> Option<Duration> {
    let v = std::env::var("GORT_SOAK").ok()?;
    let secs: u64 = v
        .parse()
        .unwrap_or_else(|_| panic!("GORT_SOAK={v}: expected whole seconds"));
    Some(Duration::from_secs(secs))
}

/// Samples a count (of threads, say) every `every` on a plain thread until
/// `finish`, which returns the largest value seen.
pub struct PeakWatcher {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakWatcher {
    pub fn start(every: Duration, count: fn() -> usize) -> PeakWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicUsize::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(count(), Ordering::Relaxed);
                std::thread::sleep(every);
            }
        });
        PeakWatcher {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("watcher");
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// Goroutines parked now with wait reason `reason` (Go's spelling, as the
/// goroutine dump shows it: "sync.Cond.Wait", "sync.Mutex.Lock", ...).
pub fn parked_in(reason: &str) -> usize {
    let mut out = Vec::new();
    gort::debug::dump_goroutines(&mut out).expect("dump goroutines");
    let pat = format!("[{reason}");
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.starts_with("goroutine ") && l.contains(&pat))
        .count()
}

/// Polls every millisecond (sleeping with `gort::time::sleep`: a goroutine
/// parks, a thread blocks) until at least `n` goroutines are parked with
/// wait reason `reason` ([`parked_in`]).
pub fn wait_parked(reason: &str, n: usize) {
    while parked_in(reason) < n {
        gort::time::sleep(Duration::from_millis(1));
    }
}

/// Defines test `$name`, which re-runs itself in a child at GOMAXPROCS 1,
/// then 2, each with a 1 ms time slice ([`child_ok`]), and echoes the
/// child's stdout lines from a `> ` on; in the child it runs `$body`
/// under the watchdog `$limit`.
#[macro_export]
macro_rules! at_gomaxprocs_1_and_2 {
    ($name:ident, $body:expr, $limit:expr) => {
        #[test]
        fn $name() {
            let name = stringify!($name);
            if common::is_child(name) {
                common::with_timeout($limit, $body);
                return;
            }
            for procs in ["1", "2"] {
                let env = [("GOMAXPROCS", procs), ("GORT_TIMESLICE", "1ms")];
                let (so, _) = common::child_ok(name, &env);
                for l in so.lines().filter_map(|l| l.find("> ").map(|i| &l[i + 2..])) {
                    println!("P={procs}: {l}");
                }
            }
        }
    };
}

/// The debug build of example `name` (`cargo test` builds the examples next
/// to the test binaries); built here first when a test runs alone (`cargo
/// test --test X` builds no examples).
pub fn example_exe(name: &str) -> std::path::PathBuf {
    let mut exe = std::env::current_exe().expect("test binary path");
    exe.pop(); // the binary
    exe.pop(); // deps/
    let exe = exe.join("examples").join(name);
    if !exe.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--example", name])
            .status()
            .expect("run cargo");
        assert!(st.success(), "cargo build --example {name} failed");
    }
    exe
}

/// Test `name`'s two halves: in the child run by the parent, `body` in a
/// goroutine under the watchdog `limit`; in the parent, that child at
/// GOMAXPROCS 1, then 2, echoing its stdout's `report:` lines.
pub fn at_p1_and_p2(limit: Duration, name: &str, body: fn()) {
    if is_child(name) {
        return with_timeout(limit, move || gort::go!(body).join().unwrap());
    }
    children_p1_and_p2(name);
}

/// The parent's half of [`at_p1_and_p2`]: runs test `name` in a child at
/// GOMAXPROCS 1, then 2, echoing its stdout's `report:` lines.
pub fn children_p1_and_p2(name: &str) {
    for p in ["1", "2"] {
        let (so, _) = child_ok(name, &[("GOMAXPROCS", p)]);
        for l in so
            .lines()
            .filter_map(|l| l.find("report:").map(|i| &l[i..]))
        {
            println!("GOMAXPROCS={p} {l}");
        }
    }
}

/// Resident set size of this process, in bytes (from /proc/self/statm).
pub fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("statm's second field");
    pages * 4096
}
