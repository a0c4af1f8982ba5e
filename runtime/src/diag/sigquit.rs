//! sigquit — SIGQUIT (Ctrl-\) prints every goroutine and exits with status
//! 2, as a Go program does:
//!
//! ```text
//! SIGQUIT: quit
//!
//! goroutine 1 [chan receive]:
//!     name=main wait=3.120s
//! created by src/main.rs:3:1
//! ...
//! ```
//! The dump itself is diag/dump.rs; this file gets it printed.
//!
//! # The handler does almost nothing
//! Formatting a dump allocates and takes locks, which a signal handler must
//! not. So the handler only sets a flag, and sysmon (sched/sysmon.rs), which looks
//! at it every round — within 10 ms while goroutines run, 100 ms when all is
//! idle — does the work on an ordinary stack: it prints the dump with raw
//! `write(2)` calls (not std's stderr lock, which a parked goroutine may
//! hold) and calls `process::exit(2)`. No thread of its own: every thread
//! counts against GOMAXPROCS's promise of a handful. The handler touches
//! only `REQUESTED`, an atomic.
//!
//! # When it is installed
//! With the runtime (diag/mod.rs `init_diagnostics`), unless the program set a
//! handler of its own, which it keeps. An ignored SIGQUIT is replaced, as
//! Go does (it respects an inherited SIG_IGN only for SIGHUP and SIGINT):
//! shells start background jobs with SIGQUIT ignored, and a dump is what a
//! SIGQUIT to a Go-like program means. Installing it starts sysmon, so a
//! dump works before the first goroutine runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::sys;

/// Go's exit status after a SIGQUIT dump.
const EXIT_STATUS: i32 = 2;

/// Set by the handler; read by sysmon. Relaxed: a flag; the dump reads
/// nothing the handler wrote.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGQUIT handler and starts sysmon, which prints the dump
/// (once per process).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = try_install() {
            crate::throw::warn(&format!("gort: no goroutine dump on SIGQUIT: {e}"));
        }
    });
}

fn try_install() -> std::io::Result<()> {
    let old = sys::sigaction_get(libc::SIGQUIT)?;
    // A handler of the program's own stands. An inherited SIG_IGN does not
    // (Go respects one only for SIGHUP and SIGINT): a shell starts
    // background jobs with SIGQUIT ignored.
    if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
        return Ok(());
    }
    crate::sched::sysmon::start();
    let act = sys::sigaction_new(sigquit_handler as *const () as libc::sighandler_t, 0);
    // SAFETY: `sigquit_handler` takes the signal number only (no
    // SA_SIGINFO) and is async-signal-safe (module header).
    unsafe { sys::sigaction_set(libc::SIGQUIT, &act) }
}

/// The SIGQUIT handler: raise the flag for sysmon (module header).
extern "C" fn sigquit_handler(_sig: libc::c_int) {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Called by sysmon every round: print the dump and exit if SIGQUIT came.
pub(crate) fn poll() {
    if REQUESTED.load(Ordering::Relaxed) {
        dump_and_exit();
    }
}

/// On sysmon's thread: print the dump, exit with status 2.
fn dump_and_exit() -> ! {
    let mut text = b"SIGQUIT: quit\n\n".to_vec();
    // Writing to a Vec cannot fail.
    let _ = crate::diag::debug::dump_goroutines(&mut text);
    sys::write_stderr(&text);
    // std's exit flushes stdout with try_lock, so a lock held by a parked
    // goroutine cannot hang it; atexit handlers (a trace being written) run.
    std::process::exit(EXIT_STATUS)
}
