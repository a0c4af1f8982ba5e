//! entry — what `#[gort::main]` and `#[gort::test]` expand to call.
//!
//! `#[gort::main]` runs the body as the main goroutine (goroutine 1 when
//! nothing was spawned before) and, as in Go, the process exits when it
//! returns: the Rust `main` returns its exit code, and Rust ends the process
//! whatever other goroutines are doing. While `main` runs, Go's deadlock
//! detection is on (sched/deadlock.rs). `#[gort::test]` runs a test body as a
//! goroutine and joins it from the test thread; a panic is re-raised there, so
//! `#[should_panic]` works.
//!
//! The body's return value goes through `Termination::report` on the
//! goroutine, so `Result<(), Box<dyn Error>>` (not Send) works too.

#![forbid(unsafe_code)]

use std::process::{ExitCode, Termination};

/// Runs `body` as the main goroutine; returns its exit code.
pub fn run_main<F, T>(body: F) -> ExitCode
where
    F: FnOnce() -> T + Send + 'static,
    T: Termination,
{
    let h = crate::Builder::new()
        .name("main")
        .spawn(move || crate::sched::deadlock::run_as_main(move || body().report()))
        .unwrap_or_else(|e| panic!("gort: cannot start the main goroutine: {e}"));
    match h.join() {
        Ok(code) => code,
        // The panic was reported by the hook; leave as Rust does (status 101).
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Runs a test body as a goroutine; re-raises its panic on the test thread.
pub fn run_test<F, T>(body: F) -> ExitCode
where
    F: FnOnce() -> T + Send + 'static,
    T: Termination,
{
    let h = crate::goroutine::spawn(move || body().report());
    match h.join() {
        Ok(code) => code,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}
