//! supervisor — the process supervisor a Go programmer would write, in
//! gort: child processes restarted when they die, their output streamed
//! line by line, and a clean shutdown on SIGTERM or SIGINT.
//!
//! ```text
//! cargo run --example supervisor [N]     # then Ctrl-C, or kill -TERM <pid>
//! ```
//!
//! It runs N workers (default 3). A worker is an `sh -c` script that prints
//! a line every 50 ms and exits with status 1 after a while (worker i after
//! 5 + 3i lines), so the supervisor restarts it. Each worker is one
//! goroutine: spawn (`gort::process::Command`), stream the child's stdout
//! and stderr through two more goroutines (reads park on gort pipes),
//! `wait_context` (the wait parks on a pidfd), restart — until the context
//! is cancelled. Main waits in a `select!` on `gort::signal::notify`'s
//! channel; on SIGTERM or SIGINT it cancels the context, which kills every
//! running child (SIGKILL) and reaps it, and waits for every goroutine.
//!
//! Each child gets a process group of its own (Go's `Setpgid`), so a
//! Ctrl-C in the terminal reaches only the supervisor, which decides how
//! the children end. After the first signal its handler is removed
//! (`signal::stop`): a second Ctrl-C kills the supervisor the hard way.
//!
//! Prints `supervisor: shut down on SIGTERM, N workers stopped, R restarts,
//! all children reaped` last and exits 0 after a signal; exits 1 if a
//! worker cannot be started, 2 on a bad argument.

use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::context::{self, Context};
use gort::process::{Child, Command, ExitStatus, Stdio};
use gort::signal::{self, Signal};
use gort::sync::{ErrGroup, WaitGroup};

/// Workers when no argument says otherwise.
const DEFAULT_WORKERS: usize = 3;
/// The pause before a restart, so a child that dies at once does not spin.
const RESTART_DELAY: Duration = Duration::from_millis(100);

/// A worker: `$1` is its number, `$2` how many lines it lives. `sleep` runs
/// with its output elsewhere, so a `sleep` orphaned by a kill does not hold
/// the pipes open.
const SCRIPT: &str = r#"
n=0
while [ "$n" -lt "$2" ]; do
    n=$((n + 1))
    echo "worker $1 tick $n/$2 (pid $$)"
    sleep 0.05 >/dev/null 2>&1
done
echo "worker $1 tired after $n ticks, exiting with status 1" >&2
exit 1
"#;

/// Counts the worker goroutines share.
#[derive(Default)]
struct Stats {
    restarts: AtomicUsize,
    stopped: AtomicUsize,
}

/// Starts worker `i`'s child: stdout and stderr piped, in its own process
/// group.
fn spawn_worker(i: usize) -> io::Result<Child> {
    let lines = 5 + 3 * i;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SCRIPT, "sh", &i.to_string(), &lines.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    cmd.spawn()
}

/// Copies `r` line by line to stdout, prefixed with the worker's number, in
/// a goroutine counted by `wg`; it ends at end of file (the child exited).
fn stream(i: usize, r: impl Read + Send + 'static, wg: &WaitGroup) {
    wg.add(1);
    let wg = wg.clone();
    gort::go!(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            println!("[worker {i}] {line}");
        }
        wg.done();
    });
}

/// Runs worker `i`'s child once: spawns it, streams its output, and waits
/// for it to exit, killing it if `ctx` is done first. Returns once its
/// output has been streamed to the end.
fn run_once(i: usize, ctx: &Context) -> Result<ExitStatus, String> {
    let mut child = spawn_worker(i).map_err(|e| format!("worker {i}: sh: {e}"))?;
    println!("supervisor: started worker {i} (pid {})", child.id());
    let streams = WaitGroup::new();
    if let Some(out) = child.stdout.take() {
        stream(i, out, &streams);
    }
    if let Some(err) = child.stderr.take() {
        stream(i, err, &streams);
    }
    let status = child
        .wait_context(ctx)
        .map_err(|e| format!("worker {i}: wait: {e}"))?;
    streams.wait();
    Ok(status)
}

/// Waits RESTART_DELAY; false if `ctx` is done first.
fn pause(ctx: &Context) -> bool {
    gort::select! {
        recv(ctx.done()) -> _ => false,
        recv(gort::time::after(RESTART_DELAY)) -> _ => true,
    }
}

/// "status 1", or "signal 9" for a child killed by a signal.
fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        (None, None) => st.to_string(),
    }
}

/// Worker `i`'s goroutine: runs its child again each time it dies, until
/// `ctx` is done. Every restart it announces is a child started (one that
/// starts as `ctx` ends is killed at once by `wait_context`).
fn supervise(i: usize, ctx: &Context, stats: &Stats) -> Result<(), String> {
    let mut restarts = 0;
    loop {
        let status = run_once(i, ctx)?;
        if ctx.err().is_some() || !pause(ctx) {
            break;
        }
        restarts += 1;
        stats.restarts.fetch_add(1, Ordering::Relaxed);
        let st = describe(status);
        println!("supervisor: worker {i} exited with {st}, restart #{restarts}");
    }
    stats.stopped.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// The number of workers: the first argument, or DEFAULT_WORKERS.
fn workers_from_args() -> Option<usize> {
    match std::env::args().nth(1) {
        None => Some(DEFAULT_WORKERS),
        Some(a) => a.parse().ok().filter(|&n| n > 0),
    }
}

#[gort::main]
fn main() -> ExitCode {
    let Some(n) = workers_from_args() else {
        eprintln!("usage: supervisor [WORKERS]   (a positive number)");
        return ExitCode::from(2);
    };
    // Before anything else: from here on SIGTERM is a value, not death.
    let sigs = signal::notify(&[Signal::SIGTERM, Signal::SIGINT]);
    println!(
        "supervisor: running {n} workers (pid {})",
        std::process::id()
    );

    let (ctx, cancel) = context::background().with_cancel();
    let (group, group_ctx) = ErrGroup::<String>::with_context(&ctx);
    let stats = Arc::new(Stats::default());
    for i in 0..n {
        let (ctx, stats) = (group_ctx.clone(), stats.clone());
        group.go(move || supervise(i, &ctx, &stats));
    }

    // A signal, or a worker that failed (which cancels the group's context).
    let sig = gort::select! {
        recv(sigs) -> s => s.ok(),
        recv(group_ctx.done()) -> _ => None,
    };
    signal::stop(&sigs);
    cancel.cancel();
    let result = group.wait();

    match (sig, result) {
        (Some(sig), Ok(())) => {
            let stopped = stats.stopped.load(Ordering::Relaxed);
            let restarts = stats.restarts.load(Ordering::Relaxed);
            println!(
                "supervisor: shut down on {sig}, {stopped} workers stopped, \
                 {restarts} restarts, all children reaped"
            );
            ExitCode::SUCCESS
        }
        (_, Err(e)) => {
            eprintln!("supervisor: {e}");
            ExitCode::FAILURE
        }
        (None, Ok(())) => {
            eprintln!("supervisor: the workers stopped without a signal");
            ExitCode::FAILURE
        }
    }
}
