//! diag — what the runtime tells its user about its goroutines: the list
//! behind every report behind every report (diag/allgs.rs), the SIGQUIT
//! dump (diag/sigquit.rs, diag/dump.rs), `GODEBUG=schedtrace` (diag/schedtrace.rs), the
//! scheduler counters (diag/stats.rs) and the execution trace (diag/trace.rs, written
//! by trace_export.rs). Public as `gort::debug`, `gort::trace` and
//! `gort::stats`.

pub(crate) mod allgs;
pub mod debug;
mod dump;
mod flight;
pub mod metrics;
mod schedtrace;
pub(crate) mod sigquit;
pub(crate) mod stats;
pub mod trace;
mod trace_buf;
mod trace_clock;
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
