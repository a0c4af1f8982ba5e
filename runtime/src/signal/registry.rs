//! registry — who wants which signal, and the dispatcher goroutine that
//! hands each arrival to them. Go's signal.Notify bookkeeping (handlers,
//! ref counts) and its `loop` goroutine over signal_recv.
//!
//! A signal is routed to gort's handler (signal/handler.rs) while at least
//! one receiver wants it, and gets its previous disposition back when the
//! last one goes (Go's Stop/Reset "restores the default"). The dispatcher
//! parks on the wake-up pipe in the netpoller; woken, it takes each
//! signal's count and sends that many values to every receiver that wants
//! it, without blocking: a full channel drops the rest, as Go documents
//! ("the caller must ensure that c has sufficient buffer space").
//!
//! Delivery and unregistering both happen under the registry lock, so once
//! `stop` returns, nothing more is sent to that receiver.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, IntoRawFd};

use nix::sys::signal::Signal;

use super::handler::{self, NSIG};
use crate::chan::Sender;
use crate::io::fd::{Mode, NetFd};
use crate::lock::Mutex;

/// Everything under the registry lock.
struct Registry {
    entries: Vec<Entry>,
    /// Receivers per signal number.
    wanted: [u32; NSIG],
    /// The disposition each routed signal had before.
    prev: [Option<libc::sigaction>; NSIG],
    /// The wake-up pipe exists and the dispatcher runs.
    started: bool,
}

/// One `notify` receiver.
struct Entry {
    /// Its channel's identity (`Receiver::chan_addr`).
    chan: usize,
    /// Bit n: signal n.
    mask: u64,
    tx: Sender<Signal>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    wanted: [0; NSIG],
    prev: [None; NSIG],
    started: false,
});

/// Registers `tx` (whose receiver is `chan`) for the signals in `mask`,
/// routing each one to gort's handler if it is not yet.
#[inline(never)]
pub(crate) fn add(chan: usize, mask: u64, tx: Sender<Signal>) -> io::Result<()> {
    let mut r = REGISTRY.lock();
    if !r.started {
        start_dispatcher()?;
        r.started = true;
    }
    for sig in signals_in(mask) {
        if r.wanted[sig] == 0 {
            r.prev[sig] = Some(handler::install(sig as libc::c_int)?);
        }
        r.wanted[sig] += 1;
    }
    r.entries.push(Entry { chan, mask, tx });
    Ok(())
}

/// Unregisters the receiver `chan`; signals nobody wants any more get
/// their previous disposition back. False if it was not registered.
#[inline(never)]
pub(crate) fn remove(chan: usize) -> bool {
    let mut r = REGISTRY.lock();
    let Some(i) = r.entries.iter().position(|e| e.chan == chan) else {
        return false;
    };
    let e = r.entries.swap_remove(i);
    for sig in signals_in(e.mask) {
        r.wanted[sig] -= 1;
        if r.wanted[sig] == 0 {
            if let Some(prev) = r.prev[sig].take() {
                let _ = handler::restore(sig as libc::c_int, &prev);
            }
        }
    }
    true
}

/// The signal numbers whose bits are set in `mask`.
fn signals_in(mask: u64) -> impl Iterator<Item = usize> {
    (1..NSIG.min(64)).filter(move |s| mask & (1 << s) != 0)
}

/// Makes the wake-up pipe and starts the dispatcher on its read end.
fn start_dispatcher() -> io::Result<()> {
    let (r, w) = crate::sys::pipe_nonblocking()?;
    // The write end lives as long as the process: handlers may run at any
    // time.
    handler::set_wake_fd(w.into_raw_fd());
    let reader = NetFd::new(std::fs::File::from(r));
    crate::goroutine::Builder::new()
        .name("gort-signal")
        // It serves the process, not a virtual-time bubble it was started in.
        .spawn_in(None, move || dispatch(reader))?;
    Ok(())
}

/// The dispatcher: wait for a wake-up, then deliver every counted signal.
fn dispatch(reader: NetFd<std::fs::File>) {
    let mut buf = [0u8; 64];
    loop {
        if let Err(e) = reader.io(Mode::Read, |f| (&*f).read(&mut buf)) {
            let fd = reader.sock().as_raw_fd();
            crate::throw::warn(&format!("gort: signal delivery stops: pipe fd {fd}: {e}"));
            return;
        }
        for sig in 1..NSIG {
            let n = handler::take(sig);
            if n > 0 {
                deliver(sig, n);
            }
        }
    }
}

/// Sends `sig` up to `n` times to every receiver that wants it.
#[inline(never)]
fn deliver(sig: usize, n: u32) {
    let Ok(value) = Signal::try_from(sig as libc::c_int) else {
        return;
    };
    let r = REGISTRY.lock();
    for e in r.entries.iter().filter(|e| e.mask & (1 << sig) != 0) {
        for _ in 0..n {
            if e.tx.try_send(value).is_err() {
                break;
            }
        }
    }
}
