//! examples/supervisor.rs as a user runs it: it streams every worker's
//! output, restarts the workers that die, and on SIGTERM or SIGINT shuts
//! down with its summary as the last line, exit status 0, and every child
//! it started reaped. `cargo test` builds the examples next to the test
//! binaries (debug profile).
//!
//! "Reaped" is checked without racing pid reuse: this test process becomes
//! a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a child the
//! supervisor left behind, running or a zombie, is re-parented to this
//! process when the supervisor exits, and keeps its pid until this process
//! reaps it. Once the supervisor has exited, `waitpid(pid, WNOHANG)` fails
//! with ECHILD for every worker pid it printed exactly when the supervisor
//! itself reaped that worker.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The whole run of one supervisor, start to exit.
const WATCHDOG: Duration = Duration::from_secs(60);
/// Workers the supervisor runs.
const WORKERS: usize = 3;

/// The example binary.
fn supervisor_exe() -> PathBuf {
    common::example_exe("supervisor")
}

/// Makes this process the reaper of its orphaned descendants (header).
fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and
    // touches no memory of ours.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "prctl: {}", std::io::Error::last_os_error());
}

/// Sends `sig` to `pid`.
fn send(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) reads no memory of ours; `pid` is our own child,
    // not yet waited for, so the pid cannot have been reused.
    let r = unsafe { libc::kill(pid, sig) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

/// True if `pid` is a child of this process (running or a zombie, which
/// this call then reaps); false on ECHILD: someone else reaped it.
fn is_our_child(pid: u32) -> bool {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    let mut status = 0;
    // SAFETY: `status` is a live, writable c_int for the whole call.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::ECHILD), "waitpid {pid}: {e}");
        return false;
    }
    true
}

/// A running supervisor: its stdout's lines arrive on `lines`; SIGKILLed
/// if the test fails before it exits.
struct Supervisor {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    /// Every line so far.
    seen: Vec<String>,
    deadline: Instant,
}

impl Supervisor {
    fn start() -> Supervisor {
        let exe = supervisor_exe();
        let mut child = Command::new(&exe)
            .arg(WORKERS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
        let out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Supervisor {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
            deadline: Instant::now() + WATCHDOG,
        }
    }

    /// The next line of stdout; None at end of file.
    fn next_line(&mut self) -> Option<&str> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(l) => {
                self.seen.push(l);
                self.seen.last().map(String::as_str)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("watchdog: {WATCHDOG:?} passed\n{}", self.seen.join("\n"))
            }
        }
    }

    /// Reads until a restart and a line from every worker were seen.
    fn wait_until_busy(&mut self) {
        let mut heard = [false; WORKERS];
        let mut restarted = false;
        while !(restarted && heard.iter().all(|&h| h)) {
            let Some(line) = self.next_line() else {
                panic!("supervisor stopped early:\n{}", self.seen.join("\n"));
            };
            restarted |= line.contains(", restart #");
            for (i, h) in heard.iter_mut().enumerate() {
                *h |= line.starts_with(&format!("[worker {i}] "));
            }
        }
    }

    /// Reads to end of file, waits for the exit; returns the status code
    /// and stderr.
    fn finish(&mut self) -> (Option<i32>, String) {
        while self.next_line().is_some() {}
        let st = self.child.wait().expect("wait for the supervisor");
        let stderr = self.stderr.take().map(|t| t.join().expect("stderr reader"));
        (st.code(), stderr.unwrap_or_default())
    }

    /// The pids of every worker child it said it started.
    fn worker_pids(&self) -> Vec<u32> {
        self.seen
            .iter()
            .filter(|l| l.starts_with("supervisor: started worker "))
            .filter_map(|l| l.rsplit_once("(pid ")?.1.strip_suffix(')')?.parse().ok())
            .collect()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the supervisor until it is busy, sends it `sig`, and checks its
/// shutdown.
fn shuts_down_on(sig: libc::c_int, name: &str) {
    become_subreaper();
    let mut sup = Supervisor::start();
    sup.wait_until_busy();
    send(sup.child.id(), sig);
    let (code, stderr) = sup.finish();
    let out = sup.seen.join("\n");
    assert_eq!(
        code,
        Some(0),
        "exit status\nstdout:\n{out}\nstderr:\n{stderr}"
    );

    let last = sup.seen.last().map_or("", String::as_str);
    let want = format!("supervisor: shut down on {name}, {WORKERS} workers stopped, ");
    let restarts: usize = last
        .strip_prefix(&want)
        .and_then(|rest| rest.strip_suffix(" restarts, all children reaped"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("last line: {last:?}\nstdout:\n{out}"));
    let finals = sup.seen.iter().filter(|l| l.contains("shut down")).count();
    assert_eq!(finals, 1, "{out}");

    // Every restart started a child, and each child's pid was printed.
    let pids = sup.worker_pids();
    assert!(restarts >= 1, "{out}");
    assert_eq!(pids.len(), WORKERS + restarts, "{out}");
    let left: Vec<u32> = pids.into_iter().filter(|&p| is_our_child(p)).collect();
    assert!(left.is_empty(), "workers not reaped: {left:?}\n{out}");
}

#[test]
fn the_supervisor_shuts_down_on_sigterm() {
    shuts_down_on(libc::SIGTERM, "SIGTERM");
}

#[test]
fn the_supervisor_shuts_down_on_sigint() {
    shuts_down_on(libc::SIGINT, "SIGINT");
}
