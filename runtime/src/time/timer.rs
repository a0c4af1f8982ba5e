//! timer — [`Timer`] (Go's `time.Timer`), [`after`] (`time.After`) and
//! [`after_func`] (`time.AfterFunc`), with Go 1.23's semantics: after
//! `stop` or `reset` returns, no value of the old arming is ever received,
//! and a timer whose channel nobody holds is collected at once
//! (time/runtime_timer.rs tells how).

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::runtime_timer::RuntimeTimer;
use crate::chan::{self, Receiver, Sender};

/// A single event: the current `Instant` arrives on [`chan`](Timer::chan)
/// once, after the duration (Go's `time.NewTimer`). Use it in `select!`
/// beside other channels; stop it or reset it at any time.
///
/// The timer lives while the `Timer` or a clone of its receiver does: when
/// the last of them is dropped it stops and frees its resources (Go 1.23).
///
/// ```
/// use std::time::Duration;
/// use gort::time::Timer;
///
/// let t = Timer::new(Duration::from_millis(5));
/// let (_tx, never) = gort::chan::bounded::<()>(0);
/// let fired = gort::select! {
///     recv(never) -> _ => false,
///     recv(t.chan()) -> _ => true,
/// };
/// assert!(fired);
/// ```
pub struct Timer {
    rt: Arc<RuntimeTimer>,
    rx: Receiver<Instant>,
    /// Only for an [`after_func`] timer: the sender that keeps its channel
    /// open and empty (Go's nil `C`: a receive waits forever).
    _keep_open: Option<Sender<Instant>>,
}

impl Timer {
    /// A timer that fires once, `d` from now (at once for a zero `d`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let start = Instant::now();
    /// let t = gort::time::Timer::new(Duration::from_millis(3));
    /// let at = t.chan().recv().unwrap();
    /// assert!(at >= start + Duration::from_millis(3));
    /// ```
    pub fn new(d: Duration) -> Timer {
        let (rt, rx) = RuntimeTimer::with_chan(None);
        rt.reset(d, None, None);
        Timer {
            rt,
            rx,
            _keep_open: None,
        }
    }

    /// The channel the time arrives on (Go's `t.C`). Capacity 1: a value
    /// not yet received waits there, and `stop`/`reset` take it back.
    ///
    /// ```
    /// let t = gort::time::Timer::new(std::time::Duration::ZERO);
    /// assert!(t.chan().recv().is_ok());
    /// ```
    pub fn chan(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the timer. True if this call stopped it before its value was
    /// received (it was pending, or fired with the value still unreceived,
    /// which is taken back); false if it had already been received or
    /// stopped. Either way, no value arrives on the channel afterwards
    /// (until a `reset`). For an [`after_func`] timer: true if it stopped
    /// `f` from being started.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::Timer::new(Duration::from_secs(3600));
    /// assert!(t.stop());
    /// assert!(!t.stop());
    /// assert!(t.chan().try_recv().is_err());
    /// ```
    pub fn stop(&self) -> bool {
        self.rt.stop(self.drain())
    }

    /// Re-arms the timer to fire `d` from now, after stopping it as
    /// [`stop`](Timer::stop) does (and returning what `stop` would): no
    /// value of the previous arming is received afterwards.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::Timer::new(Duration::ZERO);
    /// // Pending, or fired with its value unreceived: either way reset
    /// // stops it and says so, and the old value never arrives.
    /// assert!(t.reset(Duration::from_secs(3600)));
    /// assert!(t.chan().try_recv().is_err());
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        self.rt.reset(d, None, self.drain())
    }

    /// The receiver to drain on stop and reset (none for an `after_func`
    /// timer, whose channel never gets a value).
    fn drain(&self) -> Option<&Receiver<Instant>> {
        self._keep_open.is_none().then_some(&self.rx)
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Timer { .. }")
    }
}

/// A channel that receives the current `Instant` once, after `d` (Go's
/// `time.After`). Use it in `select!` for a timeout; dropping the receiver
/// (as a `select!` that took another case does) frees the timer at once.
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = gort::chan::bounded::<u32>(0);
/// let timed_out = gort::select! {
///     recv(rx) -> _ => false,
///     recv(gort::time::after(Duration::from_millis(10))) -> _ => true,
/// };
/// assert!(timed_out);
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let Timer { rx, .. } = Timer::new(d);
    rx
}

/// Starts `f` in its own goroutine after `d` (Go's `time.AfterFunc`), unless
/// the returned timer is stopped first; `reset` arms it again. The timer runs
/// even if the returned `Timer` is dropped. Its [`chan`](Timer::chan) never
/// receives (Go's `C` is nil for these).
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = gort::chan::bounded(1);
/// gort::time::after_func(Duration::from_millis(2), move || {
///     let _ = tx.try_send("ran");
/// });
/// assert_eq!(rx.recv(), Ok("ran"));
///
/// let t = gort::time::after_func(Duration::from_secs(3600), || unreachable!());
/// assert!(t.stop()); // f will not run
/// ```
pub fn after_func(d: Duration, f: impl Fn() + Send + Sync + 'static) -> Timer {
    let rt = RuntimeTimer::with_func(Arc::new(f));
    rt.reset(d, None, None);
    let (tx, rx) = chan::bounded(0);
    Timer {
        rt,
        rx,
        _keep_open: Some(tx),
    }
}
