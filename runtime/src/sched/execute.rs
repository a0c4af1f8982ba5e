//! execute — one slice of a goroutine on this M (Go's execute, and what
//! Go's park_m, gosched_m, goexit0 and exitsyscall0 do after the switch
//! back): mark it Running, switch to it, and file it by the reason it gave —
//! requeued after a yield, parked, kept on this M after a preemption, or
//! freed when it finished.

use std::sync::atomic::{compiler_fence, Ordering};

use super::admit;
use super::globrunq::{glob_runq_put_batch, glob_runq_put_urgent};
use super::handoff::{hand_off_next, start_locked_m, stop_locked_m, stop_m};
use super::schedule::runq_pick;
use super::{runq_put_on, sched, wake_p};
use crate::g::{GRef, GRun, GStatus};
use crate::m::{MLocal, M};
use crate::p::{Slot, P};
use crate::switch::{GContext, Switch};
use crate::throw::throw;

/// Go's execute: runs `g` on this M until it switches out, then files it by
/// the reason it gave. `inherit`: it keeps the current time slice. Returns
/// false if this M retires.
pub(super) fn execute(ml: &'static MLocal, g: GRef, inherit: bool) -> bool {
    let me: &'static M = &ml.m;
    if let Some(lm) = g.get().locked_m() {
        if !std::ptr::eq(lm, me) {
            return start_locked_m(ml, g, lm);
        }
    }
    let p =
        ml.p.get()
            .unwrap_or_else(|| throw("runtime: execute without a P"));
    start_slice(ml, p, g, inherit);
    let why = run_until_switch(ml, p, g);
    end_slice(ml, g, why);
    // The P may be gone: taken by sysmon while the G blocked (unannounced,
    // or a blocking call that outlasted sysmon's patience).
    let p = ml.p.get();
    match why {
        Some(why @ (Switch::Yield | Switch::SyscallExit)) => after_yield(ml, p, g, why),
        Some(Switch::Park) => after_park(ml, p, g),
        Some(Switch::Preempted) => after_preempt(ml, p, g),
        None => after_exit(p, g),
    }
    if ml.p.get().is_none() && ml.locked_next.get().is_none() {
        // The P was taken while the G ran: park until given one (Go's
        // exitsyscall0 -> stopm).
        return stop_m(ml);
    }
    true
}

/// Counts the slice and marks `g` Running on this M.
fn start_slice(ml: &MLocal, p: &P, g: GRef, inherit: bool) {
    if g.get().async_locked() {
        admit::resumed(sched());
    }
    // Both counters are written only by this P's holder: a Relaxed load and
    // store (no locked read-modify-write); readers only compare values.
    if !inherit {
        let t = p.schedtick.load(Ordering::Relaxed);
        p.schedtick.store(t.wrapping_add(1), Ordering::Relaxed);
    }
    p.ran
        .store(p.ran.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    g.get().transition(GStatus::Runnable, GStatus::Running);
    ml.cur_g.set(Some(g));
    // Relaxed: snapshot for observers (see M::cur_g).
    ml.m.cur_g.store(g.as_ptr(), Ordering::Relaxed);
    crate::diag::trace::go_start(g, p);
}

/// Back on g0 after a slice: `g` no longer runs here.
fn end_slice(ml: &MLocal, g: GRef, why: Option<Switch>) {
    ml.cur_g.set(None);
    ml.m.cur_g.store(std::ptr::null_mut(), Ordering::Relaxed);
    ml.m.pless.store(false, Ordering::Relaxed);
    crate::diag::trace::go_end(g, why);
}

/// Switches to `g` (giving it a stack on its first run) and returns why it
/// switched back: None when it finished. This M owns `g` (it came from a
/// run queue) until it is requeued, parked or freed by the caller; its run
/// state is touched only before that.
fn run_until_switch(ml: &MLocal, p: &P, g: GRef) -> Option<Switch> {
    // SAFETY: we own `g` (above) and hold no other reference to its run state.
    let run = unsafe { g.get().run_state() };
    if let GRun::Fresh(_) = run {
        let GRun::Fresh(entry) = std::mem::replace(run, GRun::Empty) else {
            unreachable!()
        };
        let stack = p
            .stack_get(g.get().stack_size, sched().cfg.stack_size)
            .unwrap_or_else(|e| {
                crate::throw::warn(&e.to_string());
                throw("runtime: out of memory for goroutine stacks")
            });
        g.get().set_stack_bounds(stack.guard().0, stack.top());
        *run = GRun::Started(GContext::new(g, stack, entry));
    }
    let GRun::Started(ctx) = run else {
        throw("runtime: execute: goroutine has no context")
    };
    // User code now: the signal handler may take the P away if the G gets
    // stuck in a call nobody announced (sched/preempt.rs).
    compiler_fence(Ordering::SeqCst);
    ml.in_runtime.set(0);
    compiler_fence(Ordering::SeqCst);
    let why = ctx.resume();
    compiler_fence(Ordering::SeqCst);
    ml.in_runtime.set(1);
    compiler_fence(Ordering::SeqCst);
    why
}

/// `g` yielded, or came back from a blocking call: requeue it.
fn after_yield(ml: &MLocal, p: Option<&'static P>, g: GRef, why: Switch) {
    // Read before the requeue: from then on another M may run `g`.
    let locked = g.get().locked_m().is_some();
    g.get().transition(GStatus::Running, GStatus::Runnable);
    match p {
        // Its P was handed off while it was in a blocking call: it has
        // waited in the kernel already.
        None if why == Switch::SyscallExit => ready_after_call(g),
        // A yield, on a P or without one (after a stuck M's release: the G
        // may well be CPU-bound, so no head start).
        _ => put_back(p, g, Slot::Tail),
    }
    if locked {
        stop_locked_m(ml);
    }
}

/// `g` parked: finish the park handshake (g.rs); if it was readied while
/// switching out, it is still ours and runs next.
fn after_park(ml: &MLocal, p: Option<&'static P>, g: GRef) {
    // Read before the handshake: from then on another M may run `g`.
    let locked = g.get().locked_m().is_some();
    g.get().transition(GStatus::Running, GStatus::Waiting);
    if park_commit(g) {
        if locked {
            stop_locked_m(ml);
        }
        return;
    }
    g.get().transition(GStatus::Waiting, GStatus::Runnable);
    if locked && p.is_some() {
        ml.locked_next.set(Some(g));
        return;
    }
    put_back(p, g, Slot::Next);
    if locked {
        stop_locked_m(ml);
    }
}

/// The M's half of the park handshake; in a virtual-time bubble it also
/// counts a durable park (testing/bubble.rs), under the bubble's lock.
fn park_commit(g: GRef) -> bool {
    match &g.get().bubble {
        None => g.get().park_commit(),
        Some(b) => {
            // A clone: once the park completes, `g` may run and die (with
            // its reference) before this call returns.
            let b = b.clone();
            b.park_commit(g.get(), g.get().info.wait_reason().durable())
        }
    }
}

/// `g` was preempted by the signal: it keeps this M (it may be inside a
/// `thread_local!` borrow, so it resumes only here) while the P runs
/// someone else.
fn after_preempt(ml: &'static MLocal, p: Option<&'static P>, g: GRef) {
    g.get().transition(GStatus::Running, GStatus::Runnable);
    let me: &'static M = &ml.m;
    g.get().lock_async(me);
    admit::suspended(sched());
    match p {
        Some(p) => preempted_next(ml, p, g),
        None => {
            // No P to hand off: wake one for the G, or nobody would pick it
            // up and this M would wait for ever.
            glob_runq_put_batch([g]);
            wake_p();
            stop_locked_m(ml);
        }
    }
}

/// `g` finished: its stack and its G go back to the free lists. A goroutine
/// that exits locked leaves its M as it is (Go would end the thread; our Ms
/// keep no per-G state).
fn after_exit(p: Option<&'static P>, g: GRef) {
    let s = sched();
    g.get().transition(GStatus::Running, GStatus::Dead);
    g.get().drop_pin();
    if let Some(b) = &g.get().bubble {
        b.exited(g.get().id);
    }
    // SAFETY: we still own the dead G; no other borrow of its run state is live.
    let run = unsafe { g.get().run_state() };
    let GRun::Started(ctx) = std::mem::replace(run, GRun::Empty) else {
        throw("runtime: dead goroutine has no context")
    };
    let mut stack = ctx.into_stack();
    stack.shrink();
    match p {
        Some(p) => p.stack_put(stack, s.cfg.stack_size),
        None => crate::stack::stack_free_batch([stack]),
    }
    // Relaxed: see the field.
    s.ngoroutine.fetch_sub(1, Ordering::Relaxed);
    // SAFETY: the G is Dead and ours; no queue or waiter holds it (a G only
    // dies while Running), and `g` is not used after this.
    let slot = unsafe { g.free() };
    match p {
        Some(p) => {
            if let Some(batch) = p.gfree_put(slot) {
                s.gfree.lock().extend(batch);
            }
        }
        None => s.gfree.lock().push(slot),
    }
}

/// Execute's Preempted arm on a P: `g`, now locked to this M, waits while
/// the P runs whoever `runq_pick` chooses, handed straight to an M that can
/// run it (sched/handoff.rs `hand_off_next`); if nobody may run, `g` gets a
/// new slice at once. Due timers are run first (find_runnable's step 0): a
/// sleeper they ready is someone else to run.
fn preempted_next(ml: &'static MLocal, p: &'static P, g: GRef) {
    // Relaxed: statistics only.
    p.preemptions.fetch_add(1, Ordering::Relaxed);
    crate::time::check_timers();
    match runq_pick(sched(), p) {
        None => ml.locked_next.set(Some(g)),
        Some((next, from_runnext)) => {
            if from_runnext {
                // A G readied during the slice (a timer's sleeper) runs now
                // and `g` right after it, at this P's tail: on the global
                // queue a 61st tick could pick the next CPU-bound G first.
                put_back(Some(p), g, Slot::Tail);
            } else {
                // Go's place for a preempted G: behind those waiting there.
                glob_runq_put_batch([g]);
            }
            hand_off_next(ml, next);
        }
    }
}

/// Queues a G that lost its P while in a blocking call at the head of the
/// global queue, wakes a P, and if none is free asks the longest-running
/// slice to end (kick.rs `kick_longest_slice`). Go queues it at the tail
/// and lets it wait for slices to end; an I/O-bound G back from the kernel
/// needs the CPU briefly and should not wait behind CPU-bound ones (W8).
/// Several returning together run newest first: a small unfairness among
/// Gs that all just woke.
fn ready_after_call(g: GRef) {
    glob_runq_put_urgent(g);
    wake_p();
    let _ = super::kick::kick_longest_slice();
}

/// Requeues a runnable G on `p` (this M's P), or on the global queue when
/// the M has lost its P; wakes a P for it in the latter case.
fn put_back(p: Option<&'static P>, g: GRef, slot: Slot) {
    runq_put_on(p, g, slot);
    if p.is_none() {
        wake_p();
    }
}
