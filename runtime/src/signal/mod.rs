//! signal — Go's os/signal: [`notify`] turns signals into values on a
//! channel, so a goroutine handles SIGTERM in a `select!` like any other
//! event. No user code ever runs inside a signal handler: the handler only
//! counts and writes a byte to a pipe (signal/handler.rs); a dispatcher
//! goroutine, parked on that pipe in the netpoller, does the sending
//! (signal/registry.rs).
//!
//! ```no_run
//! use gort::signal::{self, Signal};
//!
//! let sigs = signal::notify(&[Signal::SIGINT, Signal::SIGTERM]);
//! let (_tx, work) = gort::chan::bounded::<u32>(0);
//! gort::select! {
//!     recv(sigs) -> s => println!("got {:?}, shutting down", s.unwrap()),
//!     recv(work) -> _ => {}
//! }
//! ```
//!
//! # Rules
//! - Several receivers may want one signal: each gets it.
//! - Delivery never blocks: when a receiver's channel (capacity
//!   [`BUFFER`]) is full, further arrivals for it are dropped, and the kernel
//!   merges repeats of one signal that arrive before the handler ran (as in
//!   Go). A receiver that keeps up gets every signal.
//! - Dropping the receiver (every clone of it), or [`stop`], ends delivery;
//!   a signal nobody wants any more gets back the disposition it had before
//!   the first `notify` for it (default, ignored, or a handler of its own).
//! - gort's own signals cannot be asked for: SIGURG (preemption), SIGSEGV
//!   and SIGBUS (stack overflow reports), SIGILL, SIGFPE, and the
//!   uncatchable SIGKILL and SIGSTOP; `notify` panics on them. SIGQUIT may
//!   be: while someone wants it, it no longer dumps goroutines.
//! - A program that installs its own handler (sigaction, signal-hook) for a
//!   signal it also passes to `notify`: whichever was installed last wins.
//!   Install yours before `notify`, and it is restored when the last
//!   receiver goes; or after, and `notify` receives nothing for it.

// `unsafe` only in handler.rs: the two sigaction calls.
#![deny(unsafe_code)]

mod handler;
mod registry;

pub use nix::sys::signal::Signal;

use crate::chan::{self, Receiver};

/// Capacity of each `notify` channel: arrivals beyond it, not yet received,
/// are dropped.
pub const BUFFER: usize = 16;

/// Signals gort needs for itself, or that cannot be caught.
const RESERVED: [Signal; 7] = [
    Signal::SIGURG,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGILL,
    Signal::SIGFPE,
    Signal::SIGKILL,
    Signal::SIGSTOP,
];

/// A channel that receives each of `signals` as it arrives (Go's
/// `signal.Notify`). An empty list means every signal that may be asked
/// for (see the module docs), as in Go.
///
/// # Panics
/// If `signals` holds one of gort's own or an uncatchable signal (module
/// docs), or if the runtime cannot make its wake-up pipe or install the
/// handler.
///
/// ```
/// use gort::signal::{self, Signal};
///
/// let rx = signal::notify(&[Signal::SIGUSR1]);
/// nix::sys::signal::raise(Signal::SIGUSR1).unwrap();
/// assert_eq!(rx.recv(), Ok(Signal::SIGUSR1));
/// ```
pub fn notify(signals: &[Signal]) -> Receiver<Signal> {
    let mask = mask_of(signals);
    // Outside every virtual-time bubble, wherever it is made: signals come
    // from outside, so waiting for one is never durable (testing/bubble.rs).
    let (tx, rx) = chan::bounded_in(BUFFER, 0);
    let id = rx.chan_addr();
    if let Err(e) = registry::add(id, mask, tx) {
        panic!("gort::signal::notify: {e}");
    }
    chan::on_receivers_gone(&rx, move || {
        registry::remove(id);
    });
    rx
}

/// Stops delivery to `rx` (Go's `signal.Stop`): once it returns, no more
/// signals are sent to it. Dropping every clone of `rx` does the same. A
/// receiver not made by [`notify`], or stopped already, is left alone.
///
/// ```
/// use gort::signal::{self, Signal};
///
/// let rx = signal::notify(&[Signal::SIGUSR2]);
/// signal::stop(&rx);
/// assert!(rx.try_recv().is_err());
/// ```
pub fn stop(rx: &Receiver<Signal>) {
    registry::remove(rx.chan_addr());
}

/// The bit set of `signals`; every askable signal for an empty list.
fn mask_of(signals: &[Signal]) -> u64 {
    if signals.is_empty() {
        return Signal::iterator()
            .filter(|s| !RESERVED.contains(s))
            .fold(0, |m, s| m | 1 << (s as i32));
    }
    signals.iter().fold(0, |m, &s| {
        assert!(
            !RESERVED.contains(&s),
            "gort::signal::notify: {s} is gort's own (preemption, crash reports) or cannot be caught"
        );
        m | 1 << (s as i32)
    })
}
