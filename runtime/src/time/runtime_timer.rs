//! runtime_timer — what a [`Timer`](super::Timer), a [`Ticker`](super::Ticker),
//! `after`, `tick` and `after_func` are underneath: Go's runtime `timer`
//! (time.go) for the `time` package. A heap timer (time/timers.rs) that
//! sends the time on a channel or starts a goroutine, re-armed by its
//! period, stopped and reset exactly.
//!
//! # No stale value after stop or reset (Go 1.23)
//! Each arming carries the current `seq`. The heap callback takes the state
//! lock and delivers only if its `seq` is still current; `stop` and `reset`
//! bump `seq` under the same lock, cancel the heap timer, and drain the
//! channel before they unlock. A callback that got the lock first delivered
//! before the stop, and the drain takes its value back; one that comes later
//! sees a newer `seq` and does nothing. So once `stop` or `reset` returns, a
//! receive gets only values of the new arming.
//!
//! # Collection (Go 1.23: unreferenced timers are collected)
//! A channel timer stops as soon as the last receiver of its channel is
//! dropped (the channel's receivers-gone hook, chan/hchan.rs), which holds
//! it weakly. So the `after(1h)` a `select!` loop abandons every round frees
//! its heap slot, its closure and its channel at once, not an hour later.
//! While armed, the heap's callback holds the timer strongly; `Timer` and
//! `Ticker` hold it too. `after_func` timers have no receiver to lose: they
//! run unless stopped, as Go's do.
//!
//! # Its clock
//! A timer keeps the clock it was made on: made inside a virtual-time
//! bubble, every arming (a reset from anywhere, a ticker's next tick) goes
//! on that bubble's heap and clock, like its channel, which belongs to the
//! bubble too (testing/bubble.rs); made outside, on the real ones. Once the
//! bubble has ended its clock is stopped for good, and the timer falls
//! back to the real clock.
//!
//! # Locks
//! Order: this timer's state, then the heap (`add_timer`, `cancel_timer`)
//! or the channel (`try_send`, `try_recv`). The heap's callback runs outside
//! the heap lock; the channel's hook runs outside the channel lock.

#![forbid(unsafe_code)]

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::timers::{add_timer_in, cancel_timer, TimerId};
use super::{deadline_after_in, now_in};
use crate::chan::{self, Receiver, Sender, TrySendError};
use crate::lock::Mutex;
use crate::testing::bubble::{self, Bubble};

/// A timer of the `time` package. Invariant: `state.id` is Some exactly
/// while a heap timer armed with `state.seq` is pending.
pub(crate) struct RuntimeTimer {
    state: Mutex<State>,
    action: Action,
    /// The virtual-time bubble it was made in (module header, "Its clock").
    bubble: Option<Arc<Bubble>>,
}

/// Everything under the timer's lock.
struct State {
    /// Bumped by every stop and reset; a callback of an older arming is
    /// stale.
    seq: u64,
    /// The pending heap timer, if armed.
    id: Option<TimerId>,
    /// A ticker's period; None for a one-shot timer.
    period: Option<Duration>,
}

/// What the timer does when it fires.
enum Action {
    /// Send the time (a full buffer drops it: a slow receiver misses ticks,
    /// as in Go).
    Send(Sender<Instant>),
    /// Start a goroutine running the function (Go's AfterFunc).
    Call(Arc<dyn Fn() + Send + Sync>),
}

impl RuntimeTimer {
    /// A stopped timer that sends on a new channel of capacity 1, stopped
    /// for good when the channel's last receiver goes.
    pub(crate) fn with_chan(period: Option<Duration>) -> (Arc<RuntimeTimer>, Receiver<Instant>) {
        let (tx, rx) = chan::bounded(1);
        let t = RuntimeTimer::new(Action::Send(tx), period);
        let weak: Weak<RuntimeTimer> = Arc::downgrade(&t);
        chan::on_receivers_gone(&rx, move || {
            if let Some(t) = weak.upgrade() {
                t.stop(None);
            }
        });
        (t, rx)
    }

    /// A stopped timer that starts `f` in a goroutine when it fires.
    pub(crate) fn with_func(f: Arc<dyn Fn() + Send + Sync>) -> Arc<RuntimeTimer> {
        RuntimeTimer::new(Action::Call(f), None)
    }

    fn new(action: Action, period: Option<Duration>) -> Arc<RuntimeTimer> {
        Arc::new(RuntimeTimer {
            state: Mutex::new(State {
                seq: 0,
                id: None,
                period,
            }),
            action,
            bubble: bubble::current(),
        })
    }

    /// The bubble whose clock it runs on, None for the real clock.
    fn clock(&self) -> Option<&Arc<Bubble>> {
        self.bubble.as_ref().filter(|b| !b.ended())
    }

    /// Disarms (draining `rx`, when given, of values already delivered) and
    /// arms for `d` from now, with a new period if `period` is Some. True if
    /// it was armed or a value was drained (Go 1.23's Reset and Stop).
    #[inline(never)]
    pub(crate) fn reset(
        self: &Arc<Self>,
        d: Duration,
        period: Option<Duration>,
        rx: Option<&Receiver<Instant>>,
    ) -> bool {
        let mut st = self.state.lock();
        let pending = disarm(&mut st, rx);
        if period.is_some() {
            st.period = period;
        }
        let when = deadline_after_in(self.clock().map(|b| &**b), d);
        self.arm(&mut st, when);
        pending
    }

    /// Disarms, draining `rx` when given. True if it was armed or a value
    /// was drained.
    #[inline(never)]
    pub(crate) fn stop(&self, rx: Option<&Receiver<Instant>>) -> bool {
        disarm(&mut self.state.lock(), rx)
    }

    /// Arms a heap timer for `when` with the current `seq`.
    fn arm(self: &Arc<Self>, st: &mut State, when: Instant) {
        let (seq, me) = (st.seq, self.clone());
        let clock = self.clock().cloned();
        st.id = Some(add_timer_in(clock, when, move || me.fire(seq, when)));
    }

    /// The heap callback (on whichever thread runs timers; it must not
    /// block): deliver unless stale, and re-arm a ticker.
    #[inline(never)]
    fn fire(self: &Arc<Self>, seq: u64, when: Instant) {
        let mut st = self.state.lock();
        if st.seq != seq {
            return;
        }
        st.id = None;
        let now = now_in(self.clock().map(|b| &**b));
        let call = match &self.action {
            Action::Send(tx) => {
                if let Err(TrySendError::Disconnected(_)) = tx.try_send(now) {
                    return;
                }
                None
            }
            Action::Call(f) => Some(f.clone()),
        };
        if let Some(period) = st.period {
            self.arm(&mut st, next_tick(when, now, period));
        }
        drop(st);
        if let Some(f) = call {
            crate::goroutine::spawn(move || f());
        }
    }
}

/// Makes stale every arming so far, cancels the pending one, and drains
/// `rx`. True if a heap timer was pending or a value was drained.
fn disarm(st: &mut State, rx: Option<&Receiver<Instant>>) -> bool {
    st.seq = st.seq.wrapping_add(1);
    // Armed means pending even if the heap has just handed the callback
    // out: it has not taken this lock yet (it clears `id` under it), so it
    // will find its `seq` stale and send nothing (Go's stop returns true
    // for a send it prevented).
    let armed = st.id.take();
    let mut pending = armed.is_some();
    if let Some(id) = armed {
        cancel_timer(id);
    }
    if let Some(rx) = rx {
        while rx.try_recv().is_ok() {
            pending = true;
        }
    }
    pending
}

/// The tick after the one due at `when`, skipping those a late wake-up
/// missed but keeping the phase (as Go's ticker does).
fn next_tick(when: Instant, now: Instant, period: Duration) -> Instant {
    let next = when + period;
    if next > now {
        return next;
    }
    let behind = (now - when).as_nanos() / period.as_nanos().max(1);
    when + period * u32::try_from(behind + 1).unwrap_or(u32::MAX)
}
