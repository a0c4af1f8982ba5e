//! kick — wake-up preemption: when a goroutine becomes runnable and no P is
//! free to take it (it came back from a blocking call, or a timer is
//! overdue), ask the P whose goroutine has run longest to end its slice now,
//! as a kernel preempts on wake-up, instead of letting the newcomer wait up
//! to a whole time slice as Go does. Runs on whichever thread readied the
//! goroutine, or on sysmon; the request itself is `preempt::preempt_m`.
//!
//! A slice's age comes from sysmon's clock (`P::seen`, written each time
//! sysmon sees a new slice): a slice sysmon has not seen yet counts as young.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{preempt, sched};
use crate::p::{PStatus, P};

/// A slice at least this old by sysmon's clock (which sees a slice start
/// up to a sysmon delay late) may be cut short for a G back from a blocking
/// call (`kick_longest_slice`): at most one such signal per P per 0.5 ms.
const KICK_MIN: Duration = Duration::from_micros(500);

/// A G back from a blocking call found no P and waits at the head of the
/// global queue (execute.rs `ready_after_call`). Go leaves it there until some
/// P's slice ends, up to a whole time slice per call (docs/PERFORMANCE.md,
/// W8). Like a kernel's wake-up preemption, ask the P whose G has run longest — at least `KICK_MIN`, by
/// sysmon's clock — to end its slice now. At most one signal per returning
/// G, and only when every P is busy. True if it asked an M to stop.
pub(crate) fn kick_longest_slice() -> bool {
    kick_slice_older_than(KICK_MIN)
}

/// For a timer overdue while every P is busy (io/netpoll.rs `sysmon_tick`): as
/// `kick_longest_slice`, for a slice that has run at least a tenth of the
/// time slice, so a long `GORT_TIMESLICE` still means few preemptions.
pub(crate) fn kick_slice_for_timers() -> bool {
    let slice = sched().cfg.timeslice;
    kick_slice_older_than(KICK_MIN.max(slice / 10))
}

/// Ends the longest slice of at least `min_age`, if every P is busy.
fn kick_slice_older_than(min_age: Duration) -> bool {
    let s = sched();
    if s.has_idle_or_spinning() {
        return false; // a P will take it without anyone stopping
    }
    let now_us = (crate::time::nanotime() / 1000) as u32;
    // (P, its slice's tick, that slice's age in µs), the oldest slice.
    let mut best: Option<(&'static P, u32, u32)> = None;
    for p in s.all_ps() {
        if p.status() != PStatus::Running {
            continue;
        }
        // Relaxed: hints (P::seen); compared only.
        let tick = p.schedtick.load(Ordering::Relaxed);
        let seen = p.seen.load(Ordering::Relaxed);
        if (seen >> 32) as u32 != tick {
            continue; // a slice sysmon has not seen yet: young
        }
        let age = now_us.wrapping_sub(seen as u32);
        let old = u128::from(age) >= min_age.as_micros();
        if old && best.is_none_or(|(_, _, b)| age > b) {
            best = Some((p, tick, age));
        }
    }
    if let Some((p, tick, _)) = best {
        if let Some(m) = p.holder() {
            if !m.cur_g.load(Ordering::Relaxed).is_null() {
                // Relaxed: a hint (P::kick_tick).
                p.kick_tick.store(u64::from(tick) + 1, Ordering::Relaxed);
                return preempt::preempt_m(m, tick);
            }
        }
    }
    false
}
