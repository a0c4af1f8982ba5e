//! switch — the only user of corosensei: the goroutine's context and the two
//! switches, M (g0, the thread's own stack) -> G ([`GContext::resume`]) and
//! G -> M ([`switch_to_m`]).
//!
//! (stack/mod.rs implements corosensei's `Stack` trait for our stacks.)
//!
//! A G's coroutine is built at its first run, on a stack taken from the P's
//! cache (lazy binding, docs/ARCHITECTURE.md "Stacks"). Its body records
//! the yielder in the G, runs the entry (which never unwinds: goroutine/join.rs
//! `Task::run` catches panics, under goroutine/spawn.rs's policy) and returns; the M
//! then takes the stack back with `into_stack`.
//!
//! The value a G passes when it switches out tells its M what to do with it
//! ([`Switch`]). The M interprets it in sched/execute.rs `execute`.

use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::g::{Entry, GRef};
use crate::stack::GStack;

/// Why a G switched back to its M.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Switch {
    /// `yield_now`: requeue at the tail of the local run queue.
    Yield,
    /// Back from a blocking call whose P was handed off (sched/syscall.rs): queue
    /// it first (sched/execute.rs `ready_after_call`).
    SyscallExit,
    /// `park`: complete the park handshake (g.rs).
    Park,
    /// Asynchronous preemption from the SIGURG handler (sched/preempt.rs): requeue,
    /// locked to this M until its next cooperative switch.
    Preempted,
}

/// The corosensei yielder type of a goroutine.
pub(crate) type GYielder = Yielder<(), Switch>;

/// A started goroutine's suspended (or running) execution context.
pub(crate) struct GContext(Coroutine<(), Switch, (), GStack>);

// SAFETY: corosensei's Coroutine is !Send because code on its stack may hold
// thread-affine values (thread_local! borrows, a MutexGuard) across a suspend.
// Goroutines migrate between Ms only at cooperative yield points; the user rule
// that nothing thread-affine is held across one (docs/CAVEATS.md) is
// the same rule as for async tasks on a work-stealing executor. Everything the
// runtime itself keeps on a G's stack across a switch is Send.
unsafe impl Send for GContext {}

impl GContext {
    /// Builds the coroutine for `g` on `stack`; `entry` runs when first resumed.
    pub(crate) fn new(g: GRef, stack: GStack, entry: std::sync::Arc<dyn Entry>) -> GContext {
        GContext(Coroutine::with_stack(stack, move |y: &GYielder, ()| {
            g.get().set_yielder(y);
            entry.run();
        }))
    }

    /// Runs the G on the current thread until it switches out (`Some(why)`)
    /// or its entry closure returns (`None`; take the stack with `into_stack`).
    pub(crate) fn resume(&mut self) -> Option<Switch> {
        match self.0.resume(()) {
            CoroutineResult::Yield(why) => Some(why),
            CoroutineResult::Return(()) => None,
        }
    }

    /// The stack of a finished G, for reuse.
    pub(crate) fn into_stack(self) -> GStack {
        self.0.into_stack()
    }
}

/// Switches from the running G (on its own stack) back to its M.
/// Returns when an M resumes the G — possibly another M (module header).
pub(crate) fn switch_to_m(g: GRef, why: Switch) {
    // Go's "schedule: holding locks": a runtime lock held across a switch
    // would stay counted on this thread (lock.rs) after the G moves on.
    if cfg!(debug_assertions) && crate::lock::held() != 0 {
        crate::throw::throw("runtime: switch with runtime locks held");
    }
    let y = g.get().yielder();
    if y.is_null() {
        crate::throw::throw("runtime: switch_to_m outside a started goroutine");
    }
    // SAFETY: the yielder lives in the coroutine's root frame on this G's
    // stack, which is alive while the G runs, and we are on that stack (the
    // caller is the running G, found through this M's cur_g).
    let y = unsafe { &*y };
    y.suspend(why);
}
