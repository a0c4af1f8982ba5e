//! handler — the half of `gort::signal` that runs inside the signal
//! handler, and so does almost nothing: it counts the signal and writes one
//! byte to a wake-up pipe. Everything else (who wants it, the channels)
//! happens in the dispatcher goroutine (signal/registry.rs), which reads the
//! pipe through the netpoller. Go's sighandler → sigsend → signal_recv, with
//! a pipe where Go has a note.
//!
//! Async-signal-safe: atomics and one write(2); errno is saved and restored.
//! A full pipe loses the byte but not the signal: the count holds it and a
//! wake-up is pending anyway.

#![allow(unsafe_code)]

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use crate::sys;

/// Signal numbers are below this (Linux: 64 signals, numbered from 1).
pub(crate) const NSIG: usize = 65;

/// Deliveries per signal since the dispatcher last looked.
static COUNTS: [AtomicU32; NSIG] = [const { AtomicU32::new(0) }; NSIG];

/// The wake-up pipe's write end, or -1 before there is one. Relaxed: set
/// once, before any handler is installed, by the thread that installs it.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn handler(sig: libc::c_int) {
    let saved = sys::errno();
    if let Some(c) = usize::try_from(sig).ok().and_then(|s| COUNTS.get(s)) {
        // Release: the dispatcher's Acquire swap sees the count once it
        // has seen the byte written below.
        c.fetch_add(1, Ordering::Release);
    }
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        sys::write_byte(fd, 1);
    }
    sys::set_errno(saved);
}

/// Sets the wake-up pipe's write end (before the first `install`).
pub(crate) fn set_wake_fd(fd: libc::c_int) {
    WAKE_FD.store(fd, Ordering::Relaxed);
}

/// How many times `sig` arrived since the last call.
pub(crate) fn take(sig: usize) -> u32 {
    // Acquire: pairs with the handler's Release.
    COUNTS[sig].swap(0, Ordering::Acquire)
}

/// Routes `sig` to the counting handler; returns the disposition it had.
pub(crate) fn install(sig: libc::c_int) -> io::Result<libc::sigaction> {
    let prev = sys::sigaction_get(sig)?;
    let act = sys::sigaction_new(
        handler as *const () as libc::sighandler_t,
        libc::SA_RESTART | libc::SA_ONSTACK,
    );
    // SAFETY: `handler` has the plain (non-SA_SIGINFO) signature and is
    // async-signal-safe (header).
    unsafe { sys::sigaction_set(sig, &act) }?;
    Ok(prev)
}

/// Gives `sig` back the disposition `install` returned.
pub(crate) fn restore(sig: libc::c_int, prev: &libc::sigaction) -> io::Result<()> {
    // SAFETY: `prev` is a disposition the kernel reported for `sig`, so its
    // handler fits its flags.
    unsafe { sys::sigaction_set(sig, prev) }
}
