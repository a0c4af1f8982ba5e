//! time — Go's `time` package for goroutines: [`sleep`] and [`sleep_until`]
//! park the goroutine; [`Timer`] and [`Ticker`] deliver on channels that
//! work in `select!`, with Go 1.23's rules (no stale value after `stop` or
//! `reset`; a timer nobody can receive from is collected); [`after`],
//! [`tick`] and [`after_func`] are their one-line forms.
//!
//! The story underneath, in three files: time/timers.rs is the runtime's
//! heap of deadlines, run by the scheduler itself (no timer thread);
//! time/runtime_timer.rs is the timer a `Timer` or `Ticker` owns (Go's
//! runtime `timer` with `isChan`: a heap timer, re-armed by period, whose
//! sequence number makes stop and reset exact); time/timer.rs and
//! time/ticker.rs are the public types.
//!
//! ```
//! use std::time::Duration;
//! use gort::time::{Ticker, Timer};
//!
//! let ticker = Ticker::new(Duration::from_millis(2));
//! let timeout = Timer::new(Duration::from_millis(50));
//! let mut ticks = 0;
//! loop {
//!     gort::select! {
//!         recv(ticker.chan()) -> _ => ticks += 1,
//!         recv(timeout.chan()) -> _ => break,
//!     }
//! }
//! assert!(ticks >= 1);
//! ```

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use crate::m;
use crate::sched;
use crate::testing::bubble::Bubble;

mod runtime_timer;
mod ticker;
mod timer;
mod timers;

pub use ticker::{tick, Ticker};
pub use timer::{after, after_func, Timer};
pub(crate) use timers::{
    add_real_timer, add_timer, add_timer_ready, cancel_timer, check_timers, instant_at,
    live_timers, nanos, nanotime, next_when, pending, TimerFn, TimerId, Timers,
};

/// The current time on gort's clock: `Instant::now()`, except inside
/// [`run_virtual`](crate::testing::run_virtual), where it is the bubble's
/// virtual clock (it moves only when every goroutine of the bubble is
/// blocked). Deadlines given to gort's timers, sleeps, channel timeouts and
/// contexts are compared with this clock.
///
/// ```
/// use std::time::Duration;
/// let t = gort::testing::run_virtual(|| {
///     let t0 = gort::time::now();
///     gort::time::sleep(Duration::from_secs(3600));
///     gort::time::now() - t0
/// });
/// assert_eq!(t, Duration::from_secs(3600));
/// ```
pub fn now() -> Instant {
    now_in(crate::testing::bubble::current().as_deref())
}

/// The time on `bubble`'s clock, or the real time for None.
pub(crate) fn now_in(bubble: Option<&Bubble>) -> Instant {
    match bubble {
        Some(b) => b.now(),
        None => Instant::now(),
    }
}

/// The deadline `d` from [`now`]; far in the future if that overflows.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    add_saturating(now(), d)
}

/// The deadline `d` from [`now_in`]`(bubble)`.
pub(crate) fn deadline_after_in(bubble: Option<&Bubble>, d: Duration) -> Instant {
    add_saturating(now_in(bubble), d)
}

/// The deadline `d` from the real clock, for I/O deadlines, which the
/// kernel's time governs even inside a bubble.
pub(crate) fn real_deadline_after(d: Duration) -> Instant {
    add_saturating(Instant::now(), d)
}

fn add_saturating(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Pauses the calling goroutine for at least `d` (Go's `time.Sleep`). The
/// goroutine parks and its M runs others; on a plain thread this is
/// `std::thread::sleep`. A zero duration returns at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// gort::go!(|| gort::time::sleep(Duration::from_millis(5))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(d: Duration) {
    if d.is_zero() {
        return;
    }
    sleep_until(deadline_after(d));
}

/// Pauses the calling goroutine until `deadline` (returns at once if it has
/// passed). On a plain thread it blocks the thread.
///
/// ```
/// use std::time::{Duration, Instant};
/// let at = Instant::now() + Duration::from_millis(3);
/// gort::go!(move || gort::time::sleep_until(at)).join().unwrap();
/// assert!(Instant::now() >= at);
/// ```
pub fn sleep_until(deadline: Instant) {
    let Some(g) = m::current_g() else {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    };
    if deadline <= now() {
        return;
    }
    add_timer_ready(deadline, g);
    // Exactly one ready comes: the timer's.
    sched::park(sched::WaitReason::Sleep);
}
