//! schedule — the loop every M runs on its own thread stack (Go's g0):
//! `schedule` finds a G (`find_runnable`, the steps in sched/mod.rs's
//! header) and runs it (`execute`, execute.rs) until the M retires. Go's
//! schedule, findRunnable, stealWork, in proc.go.

use std::sync::atomic::{fence, Ordering};

use super::admit::{self, admit, admit_get, admit_get_locked};
use super::execute::execute;
use super::globrunq::{glob_runq_get, glob_runq_get_locked};
use super::handoff::{acquire_p, pidle_get, pidle_put, stop_m};
use super::{reset_spinning, sched, stop_spinning, wake_p, Sched, GLOBAL_RUNQ_FAIRNESS_TICK};
use crate::g::GRef;
use crate::io::netpoll;
use crate::m::MLocal;
use crate::p::{PStatus, P};
use crate::throw::throw;

/// Go's stealTries: rounds over all Ps before a spinning M gives up.
const STEAL_TRIES: usize = 4;

/// Go's schedule: find a G, run it, until this M retires.
pub(super) fn schedule(ml: &'static MLocal) {
    loop {
        let (g, inherit) = match ml.locked_next.take() {
            Some(g) => (g, false),
            None => match find_runnable(ml) {
                Some(x) => x,
                None => return, // this M retires (sched/handoff.rs stop_m)
            },
        };
        if ml.spinning.get() {
            reset_spinning(ml);
        }
        if !execute(ml, g, inherit) {
            return;
        }
    }
}

/// Go's findRunnable (steps in the header). Returns holding a P, or None if
/// this M should retire.
#[doc(alias = "findRunnable")]
pub(super) fn find_runnable(ml: &'static MLocal) -> Option<(GRef, bool)> {
    let s = sched();
    loop {
        // Woken from `stop_m` with a G to run (sched/handoff.rs `hand_off_next`):
        // it goes first, as in `schedule`.
        if let Some(g) = ml.locked_next.take() {
            return Some((g, false));
        }
        let p =
            ml.p.get()
                .unwrap_or_else(|| throw("runtime: find_runnable without a P"));
        if p.id >= s.gomaxprocs() && retire_p(ml) {
            if !stop_m(ml) {
                return None;
            }
            continue;
        }
        // 0. a due timer (time/timers.rs; a sleeper it readies runs next)
        crate::time::check_timers();
        // 1-3. this P's queues and the global ones
        if let Some(x) = runq_pick(s, p) {
            return Some(x);
        }
        // 3b. netpoll without blocking (io/netpoll.rs); what it readies is
        // queued here (and globally for idle Ps): look again from the top.
        if netpoll::poll_ready() {
            continue;
        }
        // 4. steal
        match steal_if_few_spin(ml, s, p) {
            Loot::Run(g) => return Some((g, false)),
            Loot::LookAgain => continue,
            Loot::Nothing => {}
        }
        // 5. give up the P, unless a queue has a G
        if let Some(g) = release_p(ml, s, p) {
            return Some((g, false));
        }
        if stop_spinning_and_recheck(ml, s) {
            continue;
        }
        // 6. become the poller until I/O or the next timer
        if poll_until_ready(ml, s) {
            continue;
        }
        // 7. park this M
        if !stop_m(ml) {
            return None;
        }
    }
}

/// What step 4 of `find_runnable` came back with.
enum Loot {
    /// A stolen G, admitted: run it.
    Run(GRef),
    /// A stolen G held back by the preemption budget: the rest of the loot
    /// is in the local queue now.
    LookAgain,
    Nothing,
}

/// Step 4: steal, if this M already spins or fewer than half the busy Ps
/// have a spinning M (Go's limit: spinners must not burn more CPU than the
/// work they look for); this M spins from then on.
fn steal_if_few_spin(ml: &MLocal, s: &Sched, p: &P) -> Loot {
    let busy = s
        .gomaxprocs()
        .saturating_sub(s.npidle.load(Ordering::SeqCst));
    if !ml.spinning.get() && 2 * s.nmspinning.load(Ordering::SeqCst) >= busy {
        return Loot::Nothing;
    }
    if !ml.spinning.replace(true) {
        s.nmspinning.fetch_add(1, Ordering::SeqCst);
    }
    match steal_work(ml, p) {
        Some(g) => admit(s, g).map_or(Loot::LookAgain, Loot::Run),
        None => Loot::Nothing,
    }
}

/// Step 5: under the sched lock, take a G from the global or admission
/// queue if there is one (whatever the budget, a P does not idle beside a
/// runnable G), else put the P on the idle list.
fn release_p(ml: &MLocal, s: &Sched, p: &P) -> Option<GRef> {
    let mut l = s.lock.lock();
    if let Some(g) = glob_runq_get_locked(s, &mut l, p, 0) {
        return Some(g);
    }
    if let Some(g) = admit_get_locked(s, &mut l, true) {
        return Some(g);
    }
    pidle_put(s, &mut l, ml);
    None
}

/// Step 5, the spinner's half of the StoreLoad pair (header): stop spinning
/// (SeqCst decrement), then re-check every queue; if work appeared, take an
/// idle P back and spin again. True if this M has a P again.
fn stop_spinning_and_recheck(ml: &MLocal, s: &Sched) -> bool {
    if !stop_spinning(ml) {
        return false;
    }
    fence(Ordering::SeqCst);
    if !work_anywhere(s) {
        return false;
    }
    let Some(p) = pidle_get(s, &mut s.lock.lock()) else {
        return false;
    };
    acquire_p(ml, p);
    ml.spinning.set(true);
    s.nmspinning.fetch_add(1, Ordering::SeqCst);
    true
}

/// Step 6: with no P, block in the poller until I/O, the next timer or a
/// break (io/netpoll.rs), then take an idle P if there is one. True if
/// this M has a P again.
fn poll_until_ready(ml: &MLocal, s: &Sched) -> bool {
    netpoll::poll_blocking(|| {
        let p = pidle_get(s, &mut s.lock.lock());
        p.map(|p| acquire_p(ml, p)).is_some()
    })
}

/// find_runnable's steps 1-3, also execute's choice after a preemption:
/// the next G for `p` from its own queues and the global ones, or None. The
/// bool is true for `runnext` (it inherits the slice). A G that has never
/// run is held back while the preemption budget is spent (sched/admit.rs).
/// Inlined: it is most of every switch's look for work.
#[inline(always)]
pub(super) fn runq_pick(s: &Sched, p: &P) -> Option<(GRef, bool)> {
    // 1. fairness (the global queue, then Gs held back by the budget, when
    // it allows), and Gs back from a blocking call (ready_after_call)
    let fair = p
        .schedtick
        .load(Ordering::Relaxed)
        .is_multiple_of(GLOBAL_RUNQ_FAIRNESS_TICK);
    if fair || s.glob_urgent.load(Ordering::Relaxed) != 0 {
        if let Some(g) = glob_runq_get(p, 1).and_then(|g| admit(s, g)) {
            return Some((g, false));
        }
    }
    if fair {
        if let Some(g) = admit_get(s, false) {
            return Some((g, false));
        }
    }
    // 2. runnext: just readied or spawned by the G that ran here
    if let Some(g) = p.runnext_take() {
        return Some((g, true));
    }
    // 2a. a G held back by the budget for too long (sched/admit.rs "Aging")
    if admit::aged(s) {
        if let Some(g) = admit_get(s, false) {
            return Some((g, false));
        }
    }
    // 2b. local, then 3. global (a batch into the local queue)
    loop {
        while let Some(g) = p.runq_pop() {
            if let Some(g) = admit(s, g) {
                return Some((g, false));
            }
        }
        let Some(g) = glob_runq_get(p, 0) else { break };
        if let Some(g) = admit(s, g) {
            return Some((g, false));
        }
    }
    // 3b. Gs held back by the budget, when it allows (sched/admit.rs)
    admit_get(s, false).map(|g| (g, false))
}

/// True if any queue holds a G (a snapshot, after a SeqCst fence).
pub(super) fn work_anywhere(s: &Sched) -> bool {
    if s.glob_len.load(Ordering::SeqCst) != 0 || s.admit_len.load(Ordering::SeqCst) != 0 {
        return true;
    }
    let len = s.allp_len.load(Ordering::SeqCst);
    (0..len).any(|id| s.allp[id].get().is_some_and(|p| !p.runq_empty()))
}

/// Go's stealWork: up to STEAL_TRIES rounds over every other P in a random
/// order (random start, random stride coprime with the count).
#[doc(alias = "stealWork")]
fn steal_work(ml: &MLocal, me: &P) -> Option<GRef> {
    let s = sched();
    let n = s.gomaxprocs().min(s.allp_len.load(Ordering::SeqCst));
    if n <= 1 {
        return None;
    }
    for round in 0..STEAL_TRIES {
        let last = round == STEAL_TRIES - 1;
        let start = (ml.fastrand() % n as u64) as usize;
        let stride = coprime_stride(n, ml.fastrand());
        for i in 0..n {
            let id = (start + i * stride) % n;
            if id == me.id {
                continue;
            }
            let Some(victim) = s.allp[id].get() else {
                continue;
            };
            if let Some(g) = me.runq_steal(victim, last) {
                // Relaxed: statistics only.
                s.steals.fetch_add(1, Ordering::Relaxed);
                crate::diag::trace::steal(id, g, me);
                return Some(g);
            }
        }
        if s.glob_len.load(Ordering::SeqCst) != 0 {
            if let Some(g) = glob_runq_get(me, 0) {
                return Some(g);
            }
        }
    }
    None
}

/// A stride in 1..n coprime with n, chosen by `r` (Go's randomOrder).
fn coprime_stride(n: usize, r: u64) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let mut k = (r % n as u64) as usize;
    for _ in 0..n {
        k = k % (n - 1) + 1;
        if gcd(k, n) == 1 {
            return k;
        }
        k += 1;
    }
    1
}

/// A P beyond GOMAXPROCS after a shrink: move its Gs to the global queue and
/// mark it Dead, under the sched lock so a concurrent grow sees either a
/// Running P (and leaves it to us) or a Dead one (and revives it). Returns
/// false, keeping the P, if a grow made its id valid again.
fn retire_p(ml: &MLocal) -> bool {
    let s = sched();
    let p = ml.p.get().expect("retire_p with a P");
    let mut l = s.lock.lock();
    if p.id < s.gomaxprocs() {
        return false;
    }
    ml.p.set(None);
    let mut gs = Vec::new();
    p.drain_all(&mut gs);
    let moved = !gs.is_empty();
    l.glob_edit(s, |q| q.extend(gs));
    p.set_status(PStatus::Dead);
    drop(l);
    let was_spinning = stop_spinning(ml);
    // A spinner that leaves must not strand work it was expected to find
    // (the spinning protocol of the header): re-check and hand it on.
    fence(Ordering::SeqCst);
    if moved || (was_spinning && work_anywhere(s)) {
        wake_p();
    }
    true
}
