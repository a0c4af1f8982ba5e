//! diag — what the runtime tells its user: the fatal error (`throw`) and
//! warnings, the goroutine list behind every report (diag/allgs.rs), the SIGQUIT
//! dump (diag/sigquit.rs, diag/dump.rs), `GODEBUG=schedtrace` (diag/schedtrace.rs), the
//! scheduler counters (diag/stats.rs) and the execution trace (diag/trace.rs, written
//! by trace_export.rs). Public as `gort::debug`, `gort::trace` and
//! `gort::stats`.

use std::io::Write;

pub(crate) mod allgs;
pub mod debug;
mod dump;
mod schedtrace;
pub(crate) mod sigquit;
pub(crate) mod stats;
pub mod trace;
mod trace_export;

/// Starts the diagnostics: the SIGQUIT goroutine dump (diag/sigquit.rs), and
/// what the environment asks for — `GODEBUG=schedtrace=N` (diag/schedtrace.rs),
/// `GORT_TRACE=path` (diag/trace.rs). Called once, at runtime start (sched/mod.rs).
pub(crate) fn init_diagnostics() {
    sigquit::install();
    let godebug = std::env::var("GODEBUG").unwrap_or_default();
    schedtrace::start(schedtrace::SchedTrace::parse(&godebug));
    trace::start_from_env();
}

/// Writes one warning line to stderr, ignoring write errors.
pub(crate) fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A broken runtime invariant: write the message without allocating, abort.
/// Go's `throw`. Never returns and never unwinds through scheduler frames.
pub(crate) fn throw(msg: &str) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"fatal error: ");
    let _ = err.write_all(msg.as_bytes());
    let _ = err.write_all(b"\n");
    drop(err);
    std::process::abort()
}
