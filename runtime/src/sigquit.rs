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
//! The dump itself is debug/dump.rs; this file gets it printed.
//!
//! # The handler does almost nothing
//! Formatting a dump allocates and takes locks, which a signal handler must
//! not. So the handler only writes one byte to a self-pipe, and a dedicated
//! thread, `gort-sigquit`, blocked reading the other end, does the work on
//! an ordinary stack: it prints the dump with raw `write(2)` calls (not
//! std's stderr lock, which a parked goroutine may hold) and calls
//! `process::exit(2)`. The handler touches only:
//! - errno (saved and restored);
//! - `PIPE_FD`, an atomic set before the handler was installed;
//! - one `write(2)` on that non-blocking descriptor (a full pipe — a second
//!   SIGQUIT while the first is being handled — just drops the byte).
//!
//! # When it is installed
//! With the runtime (debug.rs `init_diagnostics`), and only if SIGQUIT still
//! has its default disposition: a program that set its own handler, or runs
//! with SIGQUIT ignored, keeps it.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

use crate::sys;

/// Go's exit status after a SIGQUIT dump.
const EXIT_STATUS: i32 = 2;

/// The write end of the self-pipe, or -1. Set once before the handler is
/// installed; Relaxed in the handler: the sigaction call orders it.
static PIPE_FD: AtomicI32 = AtomicI32::new(-1);

/// Installs the SIGQUIT handler and starts its thread (once per process).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = try_install() {
            crate::debug::warn(&format!("gort: no goroutine dump on SIGQUIT: {e}"));
        }
    });
}

fn try_install() -> std::io::Result<()> {
    let old = sys::sigaction_get(libc::SIGQUIT)?;
    if old.sa_sigaction != libc::SIG_DFL {
        return Ok(()); // the program's own choice stands
    }
    let (tx, mut rx) = UnixStream::pair()?;
    tx.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("gort-sigquit".into())
        .spawn(move || {
            let mut b = [0u8; 1];
            // Blocks until the handler writes; an error ends the thread.
            if rx.read(&mut b).is_ok_and(|n| n == 1) {
                dump_and_exit();
            }
        })?;
    PIPE_FD.store(tx.as_raw_fd(), Ordering::Relaxed);
    // The write end lives as long as the process.
    std::mem::forget(tx);
    let act = sys::sigaction_new(sigquit_handler as *const () as libc::sighandler_t, 0);
    // SAFETY: `sigquit_handler` takes the signal number only (no
    // SA_SIGINFO) and is async-signal-safe (module header).
    unsafe { sys::sigaction_set(libc::SIGQUIT, &act) }
}

/// The SIGQUIT handler: wake the `gort-sigquit` thread (module header).
extern "C" fn sigquit_handler(_sig: libc::c_int) {
    let saved = sys::errno();
    // Relaxed: see PIPE_FD.
    let fd = PIPE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        sys::write_once(fd, b"q");
    }
    sys::set_errno(saved);
}

/// On the `gort-sigquit` thread: print the dump, exit with status 2.
fn dump_and_exit() -> ! {
    let mut text = b"SIGQUIT: quit\n\n".to_vec();
    // Writing to a Vec cannot fail.
    let _ = crate::debug::dump_goroutines(&mut text);
    sys::write_stderr(&text);
    // std's exit flushes stdout with try_lock, so a lock held by a parked
    // goroutine cannot hang it; atexit handlers (a trace being written) run.
    std::process::exit(EXIT_STATUS)
}
