//! ticker — [`Ticker`] (Go's `time.Ticker`) and [`tick`] (`time.Tick`):
//! the time arrives every period; a slow receiver misses ticks rather than
//! queueing them; stop and reset leave no stale tick behind, and a ticker
//! whose channel nobody holds is collected (time/runtime_timer.rs).

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::runtime_timer::RuntimeTimer;
use crate::chan::Receiver;

/// Delivers the current `Instant` on [`chan`](Ticker::chan) every period
/// (Go's `time.NewTicker`). Ticks are dropped for a slow receiver, keeping
/// the phase. The ticker runs while the `Ticker` or a clone of its receiver
/// lives, until [`stop`](Ticker::stop).
///
/// ```
/// use std::time::Duration;
/// let t = gort::time::Ticker::new(Duration::from_millis(2));
/// for _ in 0..3 {
///     t.chan().recv().unwrap();
/// }
/// t.stop();
/// ```
pub struct Ticker {
    rt: Arc<RuntimeTimer>,
    rx: Receiver<Instant>,
}

impl Ticker {
    /// A ticker with period `d`; the first tick comes after `d`.
    ///
    /// # Panics
    /// If `d` is zero (Go: "non-positive interval for NewTicker").
    ///
    /// ```
    /// let t = gort::time::Ticker::new(std::time::Duration::from_millis(1));
    /// assert!(t.chan().recv().is_ok());
    /// ```
    pub fn new(d: Duration) -> Ticker {
        assert!(!d.is_zero(), "non-positive interval for Ticker::new");
        let (rt, rx) = RuntimeTimer::with_chan(Some(d));
        rt.reset(d, None, None);
        Ticker { rt, rx }
    }

    /// The channel the ticks arrive on (Go's `t.C`), capacity 1.
    ///
    /// ```
    /// let t = gort::time::Ticker::new(std::time::Duration::from_millis(1));
    /// let first = t.chan().recv().unwrap();
    /// assert!(t.chan().recv().unwrap() > first);
    /// ```
    pub fn chan(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticker: no tick arrives afterwards, not even one sent just
    /// before (it is taken back). `reset` starts it again.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::Ticker::new(Duration::from_millis(1));
    /// t.chan().recv().unwrap();
    /// t.stop();
    /// assert!(t.chan().recv_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn stop(&self) {
        self.rt.stop(Some(&self.rx));
    }

    /// Stops the ticker and restarts it with period `d`: the next tick comes
    /// `d` from now, and no tick of the old period arrives afterwards.
    ///
    /// # Panics
    /// If `d` is zero (Go: "non-positive interval for Ticker.Reset").
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::Ticker::new(Duration::from_secs(3600));
    /// t.reset(Duration::from_millis(1));
    /// assert!(t.chan().recv().is_ok());
    /// ```
    pub fn reset(&self, d: Duration) {
        assert!(!d.is_zero(), "non-positive interval for Ticker::reset");
        self.rt.reset(d, Some(d), Some(&self.rx));
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ticker { .. }")
    }
}

/// A channel that receives the current `Instant` every `d` (Go's
/// `time.Tick`). Ticks are dropped for a slow receiver, as in Go; the ticker
/// stops as soon as the receiver (and every clone of it) is dropped.
///
/// # Panics
/// If `d` is zero (Go: "non-positive interval for NewTicker").
///
/// ```
/// use std::time::Duration;
/// let ticks = gort::time::tick(Duration::from_millis(2));
/// for _ in 0..3 {
///     ticks.recv().unwrap();
/// }
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    let Ticker { rx, .. } = Ticker::new(d);
    rx
}
