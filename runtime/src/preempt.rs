//! preempt — asynchronous preemption: sysmon asks, SIGURG interrupts, and the
//! handler switches a long-running goroutine out at a safe point. Go's
//! preemptM / doSigPreempt / isAsyncSafePoint, in the same words.
//!
//! # The handshake
//! 1. sysmon (sysmon.rs) sees a P run the same time slice (schedtick) for
//!    longer than the slice (10 ms, `GORT_TIMESLICE`). `preempt_m` records the
//!    slice in the M's `preempt_tick` and, if no signal is in flight
//!    (`signal_pending` false -> true), sends SIGURG to that M's thread.
//! 2. The handler always acknowledges (clears `signal_pending`), then
//!    preempts only if [`wants_async_preempt`] (the thread is an M running a
//!    G, in the slice sysmon asked about, outside `no_preempt`) and
//!    [`is_async_safe_point`] (the PC is user code and there is stack to
//!    spare). Otherwise it returns; sysmon asks again within a millisecond.
//! 3. (Release.) For an M that sysmon found blocked in the kernel after 2 ms
//!    in one slice — a call nobody announced (std::thread::sleep, a std
//!    Mutex) — sysmon sets `release_tick` instead; if the handler cannot
//!    preempt and the M is not inside runtime code that uses its P
//!    (`in_runtime`, m.rs), it detaches the P and leaves it in
//!    `released_p` for sysmon to hand off (sysmon.rs `watch_ms`). The G runs on without
//!    a P until it next enters the scheduler.
//! 4. To preempt, it unblocks SIGURG (so the M can be signalled again while
//!    the G is out) and switches to the M's scheduler with
//!    `Switch::Preempted`. The scheduler locks the G to this M, requeues it
//!    and runs other work (sched.rs). When the G is resumed — on this same M
//!    — the switch returns into the handler, which restores errno and
//!    returns; sigreturn restores every register and the signal mask.
//!
//! # Why switching inside a signal handler is sound
//! The handler is installed without `SA_ONSTACK`, so the kernel builds its
//! frame — the full register file, FPU/SIMD state and signal mask — on the
//! goroutine's own stack, below the interrupted code's red zone. Switching
//! away leaves that frame untouched on a stack nobody else uses; resuming
//! returns through it exactly as if the signal had just been handled. Go
//! instead injects a call to an assembly `asyncPreempt` from an altstack
//! handler; we need not, because the kernel's frame already holds everything.
//! The thread pointer (TLS base) is not in that frame: that is why the G must
//! resume on the same M — safe code may be inside a `thread_local!` `with`
//! closure when the signal lands (issue 4 point 5, sched/handoff.rs "Locked Ms").
//!
//! # Async-signal-safety of the handler
//! The handler touches only: errno (saved and restored); the const,
//! destructor-free thread-local `CUR_M` (m.rs) and the MLocal/M/P/G it points
//! to, through atomics and Cells this thread owns; the symbol table
//! (symtab.rs, built before any request is sent, read-only); the ucontext;
//! `pthread_sigmask`; and corosensei's suspend (a register save and a stack
//! switch). No allocation, no lock, no panic (every lookup is an Option).

use std::sync::atomic::{compiler_fence, AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::debug::Config;
use crate::g::{GRef, G};
use crate::m::{self, MLocal, M};
use crate::switch::{self, Switch};
use crate::{symtab, sys};

/// Stack bytes that must remain below the interrupted SP for the handler to
/// switch away (the signal frame is already there; this covers the switch
/// and a nested signal frame later).
const SAFE_STACK_MARGIN: usize = 8 * 1024;

/// True once the handler is installed and sysmon may send SIGURG. Relaxed:
/// a latch read by sysmon, which tolerates a late view.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// The SIGURG disposition before ours, for chaining foreign signals.
static PREV: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the SIGURG handler (also under `GODEBUG=asyncpreemptoff=1`: the
/// release of stuck Ms needs it). The user-code table is built later by
/// sysmon ([`enable`]); until then the handler finds no safe point.
pub(crate) fn init(_cfg: &Config) {
    let prev = match sys::sigaction_get(libc::SIGURG) {
        Ok(p) => p,
        Err(e) => {
            crate::debug::warn(&format!("gort: signal preemption off: sigaction: {e}"));
            return;
        }
    };
    let _ = PREV.set(prev);
    let mut act = sys::sigaction_new(
        sigurg_handler as *const () as libc::sighandler_t,
        libc::SA_SIGINFO | libc::SA_RESTART,
    );
    // SAFETY: sigset_t is ours; an empty mask: only SIGURG itself is blocked
    // while the handler runs (the kernel adds it).
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: `sigurg_handler` has the SA_SIGINFO signature and is
    // async-signal-safe (header).
    if let Err(e) = unsafe { sys::sigaction_set(libc::SIGURG, &act) } {
        crate::debug::warn(&format!("gort: signal preemption off: sigaction: {e}"));
    }
}

/// Builds the user-code table on a short-lived thread (reading and
/// demangling the symbol table can take a while in a large binary, and
/// sysmon must not wait for it), then lets sysmon send preemption requests.
/// Warns once if the binary has no symbol table.
pub(crate) fn enable(cfg: &Config) {
    if cfg.async_preempt_off || PREV.get().is_none() {
        return;
    }
    let r = std::thread::Builder::new()
        .name("gort-symtab".into())
        .spawn(|| {
            if symtab::init() == 0 {
                crate::debug::warn(
                    "gort: no symbol table in the executable (stripped?): signal preemption is off",
                );
                return;
            }
            ENABLED.store(true, Ordering::Relaxed);
        });
    if let Err(e) = r {
        crate::debug::warn(&format!("gort: signal preemption off: {e}"));
    }
}

/// The `preempt_tick` value that asks an M running a G without a P (after a
/// release) to stop, whatever its slice.
const PLESS_TICK: u64 = u64::MAX;

/// Go's preemptM: asks `m` to stop the time slice `tick` of its P. Sends at
/// most one signal at a time; returns true if a signal was sent.
#[doc(alias = "preemptM")]
pub(crate) fn preempt_m(m: &M, tick: u32) -> bool {
    if !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    // Release: pairs with the handler's Acquire load.
    m.preempt_tick.store(u64::from(tick) + 1, Ordering::Release);
    signal_m(m)
}

/// Asks `m`, which runs a G without a P, to stop it.
pub(crate) fn preempt_pless_m(m: &M) -> bool {
    if !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    m.preempt_tick.store(PLESS_TICK, Ordering::Release);
    signal_m(m)
}

/// Asks `m`, stuck in a call nobody announced during slice `tick`, to give
/// its P up (the handler "releases" it; sysmon hands it off). Works with
/// asynchronous preemption off too: only the handler must be installed.
pub(crate) fn release_m(m: &M, tick: u32) -> bool {
    if PREV.get().is_none() {
        return false;
    }
    // Release: pairs with the handler's Acquire load.
    m.release_tick.store(u64::from(tick) + 1, Ordering::Release);
    signal_m(m)
}

/// Sends SIGURG to `m` unless one is already in flight.
fn signal_m(m: &M) -> bool {
    if m.signal_pending.swap(true, Ordering::AcqRel) {
        return false; // one already in flight
    }
    // Relaxed: see M::tid.
    let tid = m.tid.load(Ordering::Relaxed);
    if tid == 0 || !sys::tgkill(tid, libc::SIGURG) {
        m.signal_pending.store(false, Ordering::Release);
        return false;
    }
    true
}

/// The release condition: sysmon asked this M, in this slice, to give its
/// P up; the M runs a G and is not inside runtime code that uses the P.
fn wants_release(ml: &MLocal) -> bool {
    let (Some(p), Some(_)) = (ml.p.get(), ml.cur_g.get()) else {
        return false;
    };
    // Acquire: pairs with release_m's Release.
    let want = ml.m.release_tick.load(Ordering::Acquire);
    want == u64::from(p.schedtick.load(Ordering::Relaxed)) + 1 && ml.in_runtime.get() == 0
}

/// Gives this M's P up for sysmon to hand off; the G runs on without a P.
/// Runs in the handler: only Cells of this thread and atomics.
fn release_p(ml: &MLocal) {
    let Some(p) = ml.p.take() else { return };
    ml.m.pless.store(true, Ordering::Relaxed);
    // Release: the P (and our last writes to it) goes to sysmon's swap.
    ml.m.released_p.store(
        p as *const crate::p::P as *mut crate::p::P,
        Ordering::Release,
    );
}

/// Condition 1 and 2 of the header: an M running a G that sysmon asked to
/// stop in this very slice, outside any `no_preempt` section and outside
/// runtime code that uses the P.
fn wants_async_preempt(ml: &MLocal) -> Option<GRef> {
    let g = ml.cur_g.get()?;
    // Acquire: pairs with preempt_m's Release.
    let want = ml.m.preempt_tick.load(Ordering::Acquire);
    let tick = match ml.p.get() {
        Some(p) => u64::from(p.schedtick.load(Ordering::Relaxed)) + 1,
        None => PLESS_TICK,
    };
    if want != tick {
        return None; // stale, or a foreign SIGURG
    }
    if g.get().no_preempt.load(Ordering::Relaxed) != 0 {
        return None;
    }
    // Runtime code that uses this M's P (m.rs `RuntimeSection`) may have
    // been inlined into user code: never switch out in the middle of it.
    if ml.in_runtime.get() != 0 {
        return None;
    }
    Some(g)
}

/// Go's isAsyncSafePoint, conditions 3 and 4 of the header: the PC is in
/// the program's own code (symtab.rs: not libc, ld.so, the vDSO, std, the
/// allocator or gort), and the stack has room below SP.
#[doc(alias = "isAsyncSafePoint")]
fn is_async_safe_point(g: &G, pc: usize, sp: usize) -> bool {
    if !symtab::is_user_pc(pc) {
        return false;
    }
    let lo = g.stack_guard();
    lo != 0 && sp > lo + crate::stack::PAGE + SAFE_STACK_MARGIN
}

/// The SIGURG handler (header: what it touches).
extern "C" fn sigurg_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let saved_errno = sys::errno();
    match m::current() {
        Some(ml) => {
            // Always acknowledge, so sysmon can ask again.
            ml.m.signal_pending.store(false, Ordering::Release);
            let mut preempted = false;
            if let Some(g) = wants_async_preempt(ml) {
                // SAFETY: `ctx` is this SA_SIGINFO handler's ucontext.
                let (pc, sp) = unsafe { sys::ucontext_pc_sp(ctx) };
                if is_async_safe_point(g.get(), pc, sp) {
                    do_sig_preempt(ml);
                    preempted = true;
                }
            }
            if !preempted && wants_release(ml) {
                release_p(ml);
            }
        }
        None => chain(sig, info, ctx),
    }
    sys::set_errno(saved_errno);
}

/// Go's doSigPreempt: switch the G out. Returns when it is resumed.
#[doc(alias = "doSigPreempt")]
fn do_sig_preempt(ml: &MLocal) {
    let Some(g) = ml.cur_g.get() else { return };
    sys::unblock_signal(libc::SIGURG);
    compiler_fence(Ordering::SeqCst);
    switch::switch_to_m(g, Switch::Preempted);
    compiler_fence(Ordering::SeqCst);
}

/// A SIGURG on a thread that is not an M: pass it to whoever had SIGURG
/// before us (the default action for SIGURG is to ignore it).
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(prev) = PREV.get() else { return };
    let h = prev.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous owner installed this address with SA_SIGINFO,
        // so it has the three-argument signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO a handler takes only the signal number.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

/// Runs `f` with asynchronous preemption off for the calling goroutine (it
/// may still yield at cooperative points inside `f`). On a plain thread it
/// just runs `f`.
///
/// ```
/// let sum = gort::go!(|| gort::no_preempt(|| (0..1000u64).sum::<u64>()))
///     .join()
///     .unwrap();
/// assert_eq!(sum, 499_500);
/// ```
pub fn no_preempt<R>(f: impl FnOnce() -> R) -> R {
    /// The G is alive while the guard is: it lives on the G's own stack.
    struct Guard(GRef);
    impl Drop for Guard {
        fn drop(&mut self) {
            compiler_fence(Ordering::SeqCst);
            self.0.get().no_preempt.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _guard = m::current_g().map(|g| {
        // Relaxed + fences: the only other reader is this thread's handler.
        g.get().no_preempt.fetch_add(1, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        Guard(g)
    });
    f()
}
