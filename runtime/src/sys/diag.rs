//! The raw calls behind the diagnostics (diag/allgs.rs, diag/sigquit.rs, diag/trace.rs): a
//! coarse clock for "waiting since" and `atexit` for flushing a trace when
//! the process exits.

use nix::time::{clock_gettime, ClockId};

/// CLOCK_MONOTONIC_COARSE in nanoseconds: the last timer tick (a few ms of
/// resolution), read from the vDSO without a system call. Async-signal-safe.
pub(crate) fn monotonic_coarse_nanos() -> u64 {
    let Ok(ts) = clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE) else {
        return 0;
    };
    (ts.tv_sec() as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec() as u64)
}

/// Registers `f` to run when the process exits through `exit` (std's
/// `process::exit`, or `main` returning). False if the table is full.
pub(crate) fn atexit(f: extern "C" fn()) -> bool {
    // SAFETY: `f` is a plain function pointer valid for the whole process;
    // the caller's function must not unwind (it is `extern "C"`).
    unsafe { libc::atexit(f) == 0 }
}
