//! waiter — "who is waiting": a parked goroutine or a blocked OS thread.
//!
//! Everything in gort that can wait (join, channels, select, sync, timers) works
//! both on a goroutine, where waiting parks the G and frees the M for other
//! work, and on a plain thread, where it blocks the thread; joins and
//! channels also wake futures (bridge/), whose task is woken instead. A [`Waiter`] is
//! registered under the waited-on object's lock; whoever takes it out of there
//! wakes it exactly once.
//!
//! Protocol for callers: register under your lock, unlock, [`block`], then
//! re-check your condition under the lock and loop. A goroutine wakes only when
//! its waiter is taken and woken (g.rs handshake); a thread may also wake
//! spuriously (std's `park`), so the loop re-checks and, if its waiter is still
//! registered, blocks again without registering twice.

#![forbid(unsafe_code)]

use std::sync::Arc;

use atomic_waker::AtomicWaker;

use crate::loom::thread::{self, Thread};

use crate::g::GRef;
use crate::{m, sched};

/// A goroutine or a thread that waits.
#[derive(Clone, Debug)]
pub(crate) enum Waiter {
    /// A parked goroutine; woken with `ready`.
    G(GRef),
    /// A blocked plain thread; woken with `unpark`.
    Thread(Thread),
    /// A future (bridge/): its task is woken through the slot, which holds
    /// the waker of its latest poll.
    Task(Arc<AtomicWaker>),
}

impl Waiter {
    /// The caller, as a waiter.
    pub(crate) fn current() -> Waiter {
        match m::current_g() {
            Some(g) => Waiter::G(g),
            None => Waiter::Thread(thread::current()),
        }
    }

    /// Wakes the waiter. Call once per registration, after taking it out.
    pub(crate) fn wake(self) {
        match self {
            Waiter::G(g) => sched::ready(g),
            Waiter::Thread(t) => t.unpark(),
            Waiter::Task(w) => w.wake(),
        }
    }
}

/// Blocks the caller until its registered waiter is woken (a thread may wake
/// spuriously: see the header). `reason` is a goroutine's wait reason in
/// dumps (diag/allgs.rs).
pub(crate) fn block(reason: sched::WaitReason) {
    if m::current_g().is_some() {
        sched::park(reason);
    } else {
        thread::park();
    }
}
