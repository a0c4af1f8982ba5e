//! M — a machine: an OS thread that runs goroutines while it holds a P.
//!
//! The thread's own stack is the M's scheduler stack (Go's g0): `schedule()`
//! runs there and resumes goroutines on their own stacks (switch.rs). Ms are
//! made on demand by `start_m` (sched/handoff.rs) and, when they find no work, park on
//! the idle-M list (`stop_m`) to be reused — never one thread per goroutine or
//! per call.
//!
//! # Two halves
//! - [`M`], shared (`Arc`): the wake-up slot through which `start_m` hands a
//!   parked M its next P, plus atomics other threads read (stats, sysmon).
//! - [`MLocal`], this thread's own state, reached through a const thread-local
//!   pointer by [`current`]: the P held, the running G, the spinning flag, the
//!   steal RNG. Cells, so `&MLocal` is !Send: it cannot leak to another thread.
//!   Code on a goroutine stack must call [`current`] again after any switch,
//!   because the G may resume on another M.
//!
//! MLocal is leaked (one per M, Ms are reused and few), so `current()` can hand
//! out `&'static MLocal` soundly.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

use crate::loom::{AtomicBool as CheckedAtomicBool, Condvar, Mutex};

use crate::g::{GRef, G};
use crate::p::P;

/// Relaxed: ids only need to be unique.
static NEXT_MID: AtomicU64 = AtomicU64::new(0);

/// What `start_m` hands an M: the P to run with, whether it starts as a
/// spinning M (already counted in `nmspinning`), and, for an M that waits for
/// its locked G (`stop_locked_m`), that G.
#[derive(Default)]
pub(crate) struct MWake {
    pub(crate) p: Option<&'static P>,
    pub(crate) spinning: bool,
    pub(crate) g: Option<GRef>,
    pub(crate) woken: bool,
}

/// How long an M with nothing to do spins before it sleeps on its condvar
/// (`M::wait_for_p`).
#[cfg(not(loom))]
const IDLE_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The shared half of an M.
pub(crate) struct M {
    /// Unique id (Go's m.id). Immutable.
    pub(crate) id: u64,
    /// Set by `start_m` under this lock; consumed by the M in `wait_for_p`.
    wake: Mutex<MWake>,
    cv: Condvar,
    /// Mirrors `wake.woken` for `wait_for_p`'s spin, which reads it without
    /// the lock. Release store in `wake` (under the lock), Acquire load.
    woken_hint: CheckedAtomicBool,
    /// The G running here, or null. Written by this M; read by others for
    /// stats and dumps. Relaxed: a snapshot, never dereferenced by readers
    /// that do not own the G.
    pub(crate) cur_g: AtomicPtr<G>,
    /// True while a SIGURG sent by `preempt_m` has not been handled yet, so
    /// repeated requests send one signal. Set by sysmon (swap), cleared by the
    /// handler. AcqRel/Release: see sched/preempt.rs.
    pub(crate) signal_pending: AtomicBool,
    /// The time slice sysmon asked to stop: the P's schedtick + 1, or 0.
    /// Written by sysmon, read by the handler, which preempts only if the
    /// running slice is still that one (a stale or foreign signal is ignored).
    pub(crate) preempt_tick: AtomicU64,
    /// Kernel thread id: where sched/preempt.rs sends SIGURG (tgkill), and where
    /// sysmon looks in /proc/self/task/<tid>/stat (is this M blocked in the
    /// kernel?). Written once by the M's own thread before it first holds a
    /// P; 0 before. Relaxed: sysmon learns of the M through the P it holds,
    /// published under the sched lock after this store.
    pub(crate) tid: AtomicI32,
    /// Set by sysmon for an M stuck in a call nobody announced: the slice
    /// (schedtick + 1) whose P the handler should give up. Read by the
    /// handler (sched/preempt.rs). Release/Acquire as `preempt_tick`.
    pub(crate) release_tick: AtomicU64,
    /// The P this M's signal handler gave up for sysmon to hand off; null
    /// otherwise. Written by the handler (Release), taken by sysmon (swap).
    pub(crate) released_p: AtomicPtr<P>,
    /// True while this M runs a G without a P (after such a release, until
    /// the G enters the scheduler). Set by the handler, cleared by the M's
    /// scheduler; read by sysmon to preempt it. Relaxed: a hint.
    pub(crate) pless: AtomicBool,
}

impl M {
    pub(crate) fn new() -> Arc<M> {
        Arc::new(M {
            id: NEXT_MID.fetch_add(1, Ordering::Relaxed),
            wake: Mutex::new(MWake::default()),
            cv: Condvar::new(),
            woken_hint: CheckedAtomicBool::new(false),
            cur_g: AtomicPtr::new(std::ptr::null_mut()),
            signal_pending: AtomicBool::new(false),
            preempt_tick: AtomicU64::new(0),
            tid: AtomicI32::new(0),
            release_tick: AtomicU64::new(0),
            released_p: AtomicPtr::new(std::ptr::null_mut()),
            pless: AtomicBool::new(false),
        })
    }

    /// Hands this M its next P (and, for a locked M, its G) and wakes it:
    /// the other half of `wait_for_p`.
    pub(crate) fn wake(&self, p: &'static P, spinning: bool, g: Option<GRef>) {
        let mut w = self.wake.lock();
        if w.woken {
            crate::throw::throw("runtime: M woken twice");
        }
        *w = MWake {
            p: Some(p),
            spinning,
            g,
            woken: true,
        };
        self.woken_hint.store(true, Ordering::Release);
        drop(w);
        // No syscall if the M is still spinning in `wait_for_p` (parking_lot
        // skips the futex wake when nobody is parked on the condvar).
        self.cv.notify_one();
    }

    /// Watches the hint for up to `IDLE_SPIN`.
    #[cfg(not(loom))]
    fn spin_until_woken(&self) {
        let start = std::time::Instant::now();
        while start.elapsed() < IDLE_SPIN {
            for _ in 0..64 {
                if self.woken_hint.load(Ordering::Acquire) {
                    return;
                }
                std::hint::spin_loop();
            }
        }
    }

    /// In a model, one look at the hint: loom explores orders, not time.
    #[cfg(loom)]
    fn spin_until_woken(&self) {
        let _ = self.woken_hint.load(Ordering::Acquire);
    }

    /// Takes the P this M's handler released, if any (sysmon).
    pub(crate) fn released_p_take(&self) -> Option<&'static P> {
        // Acquire: pairs with the handler's Release store.
        let p = self
            .released_p
            .swap(std::ptr::null_mut(), Ordering::Acquire);
        crate::p::p_from_ptr(p)
    }

    /// Blocks this thread until `wake` hands it a P. The flag makes an early
    /// wake (before we wait) impossible to lose.
    pub(crate) fn wait_for_p(&self, spin: bool) -> (&'static P, bool, Option<GRef>) {
        // Spin a little before sleeping (`spin`: an idle M, not a locked M
        // waiting for its G, which comes back a slice later at best): an M
        // that just ran out of work is often handed a P again within
        // microseconds (a spawner's `wake_p`), and a futex sleep plus wake
        // costs both sides a syscall each (W1 at P=2: half its futex calls
        // were this pair).
        if spin {
            self.spin_until_woken();
        }
        let mut w = self.wake.lock();
        while !w.woken {
            self.cv.wait(&mut w);
        }
        let MWake { p, spinning, g, .. } = std::mem::take(&mut *w);
        self.woken_hint.store(false, Ordering::Relaxed);
        (p.expect("woken M is given a P"), spinning, g)
    }
}

/// The P an M holds. Only the M's thread touches it, but also from its
/// signal handler: Relaxed atomics (plain loads and stores on every target),
/// so the handler's write is not a data race with the code it interrupted.
/// Not a read-modify-write: the handler runs to completion between two of
/// the interrupted code's instructions.
pub(crate) struct PSlot(AtomicPtr<P>);

impl PSlot {
    pub(crate) fn get(&self) -> Option<&'static P> {
        crate::p::p_from_ptr(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, p: Option<&'static P>) {
        let ptr = p.map_or(std::ptr::null_mut(), |p| p as *const P as *mut P);
        self.0.store(ptr, Ordering::Relaxed);
    }

    pub(crate) fn take(&self) -> Option<&'static P> {
        let p = self.get();
        self.set(None);
        p
    }
}

/// This thread's own M state. Only this thread touches it.
pub(crate) struct MLocal {
    pub(crate) m: Arc<M>,
    /// The P held, if any. Atomic because the SIGURG handler may take it
    /// (sched/preempt.rs `release_p`) between two instructions of code that reads it.
    pub(crate) p: PSlot,
    /// The signal mask this M runs goroutines with (signals 1-64), read at
    /// start. The handler compares the interrupted mask with it: a signal
    /// handler running on top of a goroutine blocks its own signal.
    pub(crate) sigmask: u64,
    /// The G running on this M (set by execute, cleared after it switches out).
    pub(crate) cur_g: Cell<Option<GRef>>,
    /// True while this M is spinning (counted in sched's nmspinning).
    pub(crate) spinning: Cell<bool>,
    /// The G to run next without looking at any queue: this M's locked G,
    /// handed back by `start_locked_m` or kept after a preemption, or the G
    /// a preempted M chose for the P it handed over (`hand_off_next`).
    pub(crate) locked_next: Cell<Option<GRef>>,
    /// Non-zero while runtime code on this thread uses `p` (the scheduler on g0
    /// always; a G inside runq_put_here/gfget): the SIGURG handler must not
    /// take the P away then. A Cell: only this thread and its own signal
    /// handler touch it (compiler fences order them; see `RuntimeSection`).
    pub(crate) in_runtime: Cell<u32>,
    /// The P this M left in Syscall status while in a blocking call
    /// (sched/syscall.rs; Go's m.oldp).
    pub(crate) old_p: Cell<Option<&'static P>>,
    /// xorshift64 state for the random steal order.
    rng: Cell<u64>,
}

impl MLocal {
    /// The next pseudo-random number (xorshift64).
    pub(crate) fn fastrand(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }
}

thread_local! {
    /// This thread's MLocal, or None on a thread that is not an M.
    static CUR_M: Cell<Option<&'static MLocal>> = const { Cell::new(None) };
}

/// Makes this thread an M. Called once at the top of the M's thread.
pub(crate) fn bind(m: Arc<M>) -> &'static MLocal {
    let seed =
        0x9E37_79B9_7F4A_7C15u64 ^ (m.id.wrapping_add(1)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let ml: &'static MLocal = Box::leak(Box::new(MLocal {
        m,
        p: PSlot(AtomicPtr::new(std::ptr::null_mut())),
        sigmask: crate::sys::thread_sigmask(),
        cur_g: Cell::new(None),
        spinning: Cell::new(false),
        locked_next: Cell::new(None),
        in_runtime: Cell::new(1),
        old_p: Cell::new(None),
        rng: Cell::new(seed | 1),
    }));
    // Relaxed: see M::tid.
    ml.m.tid.store(crate::sys::gettid(), Ordering::Relaxed);
    CUR_M.with(|c| c.set(Some(ml)));
    ml
}

/// This thread's M, or None on a plain thread. Never inlined, and must be
/// called again after any switch (module header).
#[inline(never)]
pub(crate) fn current() -> Option<&'static MLocal> {
    CUR_M.with(|c| c.get())
}

/// Marks runtime code that uses this M's P from a goroutine's stack, so the
/// SIGURG handler will not take the P away in the middle (sched/preempt.rs).
pub(crate) struct RuntimeSection(&'static MLocal);

impl RuntimeSection {
    /// Enters a section on this thread's M, if it is one.
    pub(crate) fn enter() -> Option<RuntimeSection> {
        let ml = current()?;
        ml.in_runtime.set(ml.in_runtime.get() + 1);
        // The handler runs on this thread: a compiler fence is the whole
        // ordering it needs.
        compiler_fence(Ordering::SeqCst);
        Some(RuntimeSection(ml))
    }

    /// The M this section is on.
    pub(crate) fn ml(&self) -> &'static MLocal {
        self.0
    }
}

impl Drop for RuntimeSection {
    fn drop(&mut self) {
        compiler_fence(Ordering::SeqCst);
        self.0.in_runtime.set(self.0.in_runtime.get() - 1);
    }
}

/// The G running on this thread, if this thread is an M running one.
pub(crate) fn current_g() -> Option<GRef> {
    current().and_then(|ml| ml.cur_g.get())
}

/// Model check of an idle M's wake-up (runtime/src/loom.rs): `wake` racing
/// `wait_for_p`, on the real M with its lock, condvar and hint on loom's.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// Whether the wake comes before the M's look at the hint, between the
    /// look and the sleep, or during the sleep, the M gets the P it was
    /// handed, with its spinning flag.
    /// Caught: `wait_for_p` sleeping on the condvar without first looking
    /// at `woken` (a wake before the sleep is lost: loom reports the
    /// deadlock).
    #[test]
    fn loom_wake_races_wait_for_p() {
        loom::model(|| {
            // Leaked: `wake` takes a `&'static P`; one small P per run.
            let p: &'static P = Box::leak(Box::new(P::new(0)));
            let m = M::new();
            let waker = {
                let m = m.clone();
                loom::thread::spawn(move || m.wake(p, true, None))
            };
            let (got, spinning, g) = m.wait_for_p(true);
            assert!(std::ptr::eq(got, p), "woken with another P");
            assert!(spinning && g.is_none(), "woken with another hand-off");
            waker.join().unwrap();
        });
    }
}
