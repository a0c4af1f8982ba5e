//! syscall — blocking calls that do not hold the other goroutines hostage:
//! Go's entersyscall / exitsyscall, behind [`blocking`].
//!
//! # Protocol
//! `enter_syscall`: the M detaches its P and leaves it in `Syscall` status
//! (p/mod.rs), remembering it as `old_p`. The call runs with no P, so a goroutine
//! spawned inside it goes to the global queue. sysmon (sched/sysmon.rs `retake`)
//! takes a P that stays in `Syscall` past one of its ticks (20 µs or more)
//! when there is work for it, or nobody else is looking for work, or the call
//! has lasted 10 ms, by CAS
//! `Syscall -> Idle`, and hands it off (sched/handoff.rs `handoff_p`).
//!
//! `exit_syscall`: fast path, CAS `Syscall -> Running` on `old_p` — the P was
//! not taken, and the call cost two atomics. Else take an idle P if there is
//! one. Else the G switches to its M's scheduler, which finds the M without a
//! P, puts the G on the global queue and parks the M on the idle list, to be
//! reused by the next hand-off (sched/execute.rs `execute`).
//!
//! Calls nobody announced (std::thread::sleep, a std Mutex, a blocking read)
//! are caught by sysmon instead, through the SIGURG handler (sched/preempt.rs
//! "release"); the end state is the same: the G runs on without a P and gives
//! itself up at its next runtime entry.

#![forbid(unsafe_code)]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use crate::m::{self, RuntimeSection};
use crate::p::PStatus;
use crate::sched::{self, sched};
use crate::switch::{self, Switch};

/// Runs `f`, a call that may block its thread (a system call, a C library
/// call, a std blocking API), without stalling other goroutines: if it lasts
/// longer than a sysmon tick, this goroutine's P is handed to another thread
/// (Go's entersyscall/exitsyscall). Returns `f`'s result untouched; a panic
/// in `f` propagates to the caller after the bookkeeping is undone. On a plain
/// thread it just calls `f`.
///
/// ```
/// let n = gort::go!(|| {
///     gort::syscall::blocking(|| std::thread::sleep(std::time::Duration::from_millis(1)));
///     7
/// })
/// .join()
/// .unwrap();
/// assert_eq!(n, 7);
/// ```
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    if m::current_g().is_none() {
        return f();
    }
    enter_syscall();
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    exit_syscall();
    match r {
        Ok(v) => v,
        Err(p) => panic::resume_unwind(p),
    }
}

/// Go's entersyscall: leave the P in Syscall status for sysmon to take.
#[doc(alias = "entersyscall")]
#[inline(never)]
fn enter_syscall() {
    let Some(rs) = RuntimeSection::enter() else {
        return;
    };
    let ml = rs.ml();
    if let Some(g) = ml.cur_g.get() {
        crate::diag::trace::syscall_enter(g);
        // A blocking call is a cooperative point: an async lock ends here
        // (a panicking G stays locked: sched/mod.rs `switch_point`).
        sched::switch_point(g);
    }
    let Some(p) = ml.p.take() else {
        return; // already without a P
    };
    // Relaxed: statistics and sysmon's comparison.
    let t = p.syscalltick.load(Ordering::Relaxed);
    p.syscalltick.store(t.wrapping_add(1), Ordering::Relaxed);
    sched().syscalls.fetch_add(1, Ordering::Relaxed);
    ml.old_p.set(Some(p));
    // Release (in set_status): everything this M did with the P happens
    // before sysmon's CAS that takes it.
    p.set_status(PStatus::Syscall);
}

/// Go's exitsyscall: get a P back, or give the G up to the global queue.
#[doc(alias = "exitsyscall")]
#[inline(never)]
fn exit_syscall() {
    {
        let Some(rs) = RuntimeSection::enter() else {
            return;
        };
        let ml = rs.ml();
        crate::diag::trace::syscall_exit(ml.cur_g.get());
        if let Some(p) = ml.old_p.take() {
            if p.cas_status(PStatus::Syscall, PStatus::Running) {
                ml.p.set(Some(p));
                return;
            }
        }
        if ml.p.get().is_some() || sched::acquire_idle_p(ml) {
            return;
        }
    }
    // No P: let the scheduler queue this G and park the M.
    if let Some(g) = m::current_g() {
        switch::switch_to_m(g, Switch::SyscallExit);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn blocking_on_a_plain_thread_just_calls() {
        assert_eq!(super::blocking(|| 41 + 1), 42);
        let r = std::panic::catch_unwind(|| super::blocking(|| panic!("inside")));
        assert!(r.is_err());
    }
}
