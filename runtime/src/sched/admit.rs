//! admit — why CPU-bound goroutines do not cost a thread each: the budget of
//! goroutines suspended mid-preemption, and the admission queue that keeps
//! to it. A child of sched/mod.rs.
//!
//! # The cost of a preemption
//! A goroutine switched out by SIGURG stays locked to its M until its next
//! cooperative switch (sched/preempt.rs: it may be inside a `thread_local!` borrow
//! or hold a thread-affine lock), and that M runs nothing else meanwhile. So
//! each goroutine *suspended mid-preemption* holds one OS thread. Go's
//! round-robin over N CPU-bound goroutines would suspend all N: N threads.
//!
//! # The rule
//! `Sched::npreempted` counts the suspended ones: execute's Preempted arm
//! adds the G it files, and execute subtracts it when it resumes the G.
//! While that count is at [`PREEMPTED_BUDGET`] the budget is *spent*: a P
//! does not start a goroutine that has never run. One it meets in a run
//! queue is moved to the admission queue (under the sched lock, in spawn
//! order: by goid), and the P looks further. Everything else keeps its usual order:
//! - a suspended G (resuming it frees its thread's wait);
//! - a G woken by a timer, a channel or I/O, or one that yielded (it has run
//!   before: deferring it would cost latency, which gort keeps);
//! - the `runnext` G a running goroutine just spawned (it runs next, as in
//!   Go), also after a wake-up took its slot (p/mod.rs `Slot::Wake`).
//!
//! When a preempted G's P finds nobody else it may run, the G gets a new
//! slice on the spot (sched/execute.rs `execute`). So the excess CPU-bound
//! goroutines run to completion a few at a time rather than in round-robin:
//! the same total work, and a mean completion time no worse (shortest
//! remaining work first is optimal; FIFO run-to-completion never loses to
//! round-robin on equal jobs). The process keeps GOMAXPROCS running Ms, the
//! few suspended ones and the idle Ms.
//!
//! # Leaving the admission queue
//! - While the budget is not spent, `find_runnable` takes its head after
//!   the local and global queues, and on the fairness tick (every 61st)
//!   before them, so neither side can starve the other.
//! - A P that would otherwise go idle takes it whatever the budget: the rule
//!   never leaves a P idle while a G is runnable (work-conserving).
//! - Aging: once [`ADMIT_AGE_SLICES`] time slices × (1 + npreempted) have
//!   passed since the last admission, the head is admitted whatever the
//!   budget. This bounds how long a goroutine that has never run can wait
//!   behind running ones that never finish — a loop that spins until a
//!   goroutine not yet started sets a flag would otherwise spin for ever:
//!   the k-th goroutine in line starts within about
//!   `10 slices × (2 + 3 + … + (k + 1))` (k = 7: 3.5 s at the default
//!   slice) even if nothing ever finishes, and at once when goroutines
//!   finish or park. The growing wait keeps threads near GOMAXPROCS when
//!   goroutines merely run long.
//!
//! The budget bounds threads for goroutines that start CPU-bound (one
//! goroutine per item, Go's everyday shape). Goroutines that have run before
//! and turn CPU-bound together (1,000 workers woken at once) are not
//! deferred: each still holds a thread while suspended, up to the thread
//! limit (`gort::debug::set_max_threads`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::sync::atomic::Ordering;

use super::{Locked, Sched};
use crate::g::GRef;

/// Goroutines suspended mid-preemption beyond which no new goroutine starts.
/// One leaves room to run a woken G (a sleeper) beside the CPU-bound ones:
/// the preempted G waits on its M while the sleeper runs on another.
pub(super) const PREEMPTED_BUDGET: usize = 1;

/// Time slices without an admission after which the head is admitted anyway
/// (times one more than the suspended Gs).
const ADMIT_AGE_SLICES: u32 = 10;

/// State of the admission queue under `Sched::lock`.
#[derive(Default)]
pub(super) struct AdmitQueue {
    /// Gs that have never run, deferred while the budget was spent, oldest
    /// goid first: the order they were spawned in, whatever queues and
    /// steals shuffled them through before.
    q: BinaryHeap<Reverse<ByGoid>>,
}

/// A G ordered by its goid. The caller of `Ord` owns the G (it is queued).
struct ByGoid(GRef);

impl PartialEq for ByGoid {
    fn eq(&self, o: &Self) -> bool {
        self.0.get().id == o.0.get().id
    }
}
impl Eq for ByGoid {}
impl PartialOrd for ByGoid {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByGoid {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.get().id.cmp(&o.0.get().id)
    }
}

/// True while the budget is spent.
#[inline]
pub(super) fn budget_spent(s: &Sched) -> bool {
    // Relaxed: a hint; a stale value defers or admits one G too many.
    s.npreempted.load(Ordering::Relaxed) >= PREEMPTED_BUDGET
}

/// Filters a G just taken from a run queue (not from `runnext`): Some(g) to
/// run it, None if it has never run and the budget is spent, in which case
/// it waits in the admission queue. The caller owns `g`. On every pick: the
/// budget, one load, is looked at first.
#[inline]
pub(super) fn admit(s: &Sched, g: GRef) -> Option<GRef> {
    if !budget_spent(s) || !g.get().deferrable() {
        return Some(g);
    }
    defer(s, g);
    None
}

/// Queues `g`, which has never run, in the admission queue.
#[cold]
fn defer(s: &Sched, g: GRef) {
    let mut l = s.lock.lock();
    if l.admit.q.is_empty() {
        // The age clock starts with the first deferred G.
        s.admit_last
            .store(crate::time::nanotime(), Ordering::Relaxed);
    }
    l.admit.q.push(Reverse(ByGoid(g)));
    s.admit_len.store(l.admit.q.len(), Ordering::SeqCst);
}

/// Takes the admission queue's head if the budget allows it, or if it has
/// aged (header). `force`: whatever the budget (a P about to go idle).
pub(super) fn admit_get(s: &Sched, force: bool) -> Option<GRef> {
    // SeqCst: the spinning protocol reads it like `glob_len`.
    if s.admit_len.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let mut l = s.lock.lock();
    admit_get_locked(s, &mut l, force)
}

/// `admit_get` with the sched lock held.
pub(super) fn admit_get_locked(s: &Sched, l: &mut Locked, force: bool) -> Option<GRef> {
    if l.admit.q.is_empty() {
        return None;
    }
    let now = crate::time::nanotime();
    if !force && budget_spent(s) && !aged_at(s, now) {
        return None;
    }
    let g = l.admit.q.pop().map(|Reverse(ByGoid(g))| g);
    s.admit_len.store(l.admit.q.len(), Ordering::SeqCst);
    // Relaxed: a timestamp for `aged`, a hint.
    s.admit_last.store(now, Ordering::Relaxed);
    g
}

/// True if the admission queue's head has waited past the age limit
/// (header, "Aging"): it goes before the run queues. Lock-free; checked by
/// every pick while the queue is not empty.
#[inline]
pub(super) fn aged(s: &Sched) -> bool {
    // SeqCst: as in `admit_get`.
    s.admit_len.load(Ordering::SeqCst) != 0 && aged_at(s, crate::time::nanotime())
}

/// True once the age limit has passed since the last admission.
fn aged_at(s: &Sched, now: u64) -> bool {
    // Relaxed: a timestamp, a hint.
    let last = s.admit_last.load(Ordering::Relaxed);
    // Relaxed: see `budget_spent`.
    let waiting = s.npreempted.load(Ordering::Relaxed) as u64;
    let slice = s.cfg.timeslice.as_nanos() as u64;
    let limit = slice * u64::from(ADMIT_AGE_SLICES) * (1 + waiting);
    now.saturating_sub(last) >= limit
}

/// Execute's Preempted arm files a suspended G.
pub(super) fn suspended(s: &Sched) {
    // Relaxed: a count read as a hint (`budget_spent`).
    s.npreempted.fetch_add(1, Ordering::Relaxed);
}

/// Execute resumes a G that was suspended mid-preemption.
pub(super) fn resumed(s: &Sched) {
    // Relaxed: as above.
    s.npreempted.fetch_sub(1, Ordering::Relaxed);
}
