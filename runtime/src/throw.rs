//! throw — the runtime's two ways to speak up when something is wrong:
//! [`throw`] for a broken invariant (Go's `throw`: print and abort, nothing
//! unwinds through the scheduler) and [`warn`] for a bad setting or a
//! failed optional service (one line on stderr, the program goes on).
//! Everything below the scheduler may call them: this file imports nothing
//! of the runtime.

#![forbid(unsafe_code)]

use std::io::Write;

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
