//! The raw calls behind the diagnostics (diag/allgs.rs, diag/sigquit.rs, diag/trace.rs): a
//! coarse clock for "waiting since", the CPU's tick counter for trace
//! timestamps, and `atexit` for flushing a trace when the process exits.

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

/// The CPU's tick counter (Go's cputicks): `rdtsc` on x86_64, the virtual
/// counter `CNTVCT_EL0` on aarch64. A few nanoseconds, about a third of a
/// `clock_gettime` through the vDSO; steady only where the CPU says so
/// (diag/trace_clock.rs checks). Async-signal-safe.
#[inline(always)]
pub(crate) fn cputicks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc reads a counter; every x86_64 CPU has it, and it
        // touches no memory.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let v: u64;
        // SAFETY: Linux lets EL0 read CNTVCT_EL0 (it is what the vDSO's
        // clock reads); the instruction touches no memory.
        unsafe {
            core::arch::asm!("mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack, preserves_flags))
        };
        v
    }
}

/// Registers `f` to run when the process exits through `exit` (std's
/// `process::exit`, or `main` returning). False if the table is full.
pub(crate) fn atexit(f: extern "C" fn()) -> bool {
    // SAFETY: `f` is a plain function pointer valid for the whole process;
    // the caller's function must not unwind (it is `extern "C"`).
    unsafe { libc::atexit(f) == 0 }
}
