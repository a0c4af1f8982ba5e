//! preempt — asynchronous preemption: sysmon asks, SIGURG interrupts, and the
//! handler switches a long-running goroutine out at a safe point. Go's
//! preemptM / doSigPreempt / isAsyncSafePoint, in the same words.
//!
//! # The handshake
//! 1. sysmon (sched/sysmon.rs) sees a P run the same time slice (schedtick) for
//!    longer than the slice (10 ms, `GORT_TIMESLICE`). `preempt_m` records the
//!    slice in the M's `preempt_tick` and, if no signal is in flight
//!    (`signal_pending` false -> true), sends SIGURG to that M's thread.
//! 2. The handler always acknowledges (clears `signal_pending`), then
//!    preempts only if [`wants_async_preempt`] (the thread is an M running a
//!    G, in the slice sysmon asked about, outside `no_preempt`, holding no
//!    runtime lock (lock.rs, Go's m.locks) and outside runtime code that
//!    uses the P) and [`is_async_safe_point`]: the PC is user code
//!    (sched/symtab.rs; never the program's allocator); no signal handler runs on
//!    top of the goroutine — the interrupted context blocks no signal its M
//!    does not (a handler blocks its own signal while it runs), so the
//!    scheduler never runs inside a user's handler, which may have
//!    interrupted malloc; and the stack has room below SP for the switch
//!    ([`stack_needed`]). Otherwise it returns; sysmon asks again within a
//!    millisecond.
//! 3. (Release.) For an M that sysmon found blocked in the kernel after 2 ms
//!    in one slice — a call nobody announced (std::thread::sleep, a std
//!    Mutex) — sysmon sets `release_tick` instead; if the handler cannot
//!    preempt and the M is not inside runtime code that uses its P
//!    (`in_runtime`, m.rs), it detaches the P and leaves it in
//!    `released_p` for sysmon to hand off (sched/sysmon.rs `watch_ms`). The G runs on without
//!    a P until it next enters the scheduler.
//! 4. To preempt on x86_64 (Go's design), the handler — on the M's signal
//!    stack (`SA_ONSTACK`) — edits the signal frame so that, on return, the
//!    interrupted code calls the trampoline (sys/async_preempt.rs). The
//!    trampoline saves every register, the vector state included, on the
//!    goroutine's stack and calls [`async_preempt_callback`], which asks the
//!    allocator probe whether the goroutine may hold the program's
//!    allocator (sched/alloc_probe.rs; if so it returns and the goroutine runs on)
//!    and switches to the M's scheduler with `Switch::Preempted`. The
//!    scheduler locks the G to this M, requeues it and runs other work
//!    (sched/mod.rs). When the G is resumed — on this same M — the trampoline
//!    restores everything and returns to the interrupted instruction.
//!
//! # Why the switch happens outside the handler
//! The kernel's signal frame holds the full register file and vector state:
//! up to 3.5 KiB with AVX-512. Pushed on the goroutine's stack, it would not
//! fit near the stack's end, and the kernel turns a frame it cannot push
//! into a SIGSEGV (the request lost, and the default action restored by
//! std's handler). On the signal stack it always fits; the handler then
//! only decides, and checks that the trampoline's own, smaller, frame fits.
//! Switching from ordinary code also leaves no signal context behind: the
//! M's scheduler runs with the signal mask it always has.
//!
//! aarch64 still switches inside the handler, whose frame (not on the
//! signal stack there) holds every register; it keeps an 8 KiB margin, and
//! a goroutine closer than the frame's size to its guard is not protected.
//!
//! The thread pointer (TLS base) is not saved by either: that is why the G
//! must resume on the same M — safe code may be inside a `thread_local!`
//! `with` closure when the signal lands (sched/handoff.rs "Locked Ms").
//!
//! # Async-signal-safety of the handler
//! The handler touches only: errno (saved and restored); the const,
//! destructor-free thread-locals `CUR_M` (m.rs) and `LOCKS` (lock.rs) and
//! the MLocal/M/P/G `CUR_M` points to, through atomics and Cells this
//! thread owns (it writes only atomics); the symbol table (sched/symtab.rs, built
//! before any request is sent, read-only); the ucontext; and, on aarch64,
//! `pthread_sigmask` and corosensei's suspend. No allocation, no lock, no
//! panic (every lookup is an Option).

use std::sync::atomic::{compiler_fence, AtomicBool, Ordering};
use std::sync::OnceLock;

use super::symtab;
use crate::config::Config;
use crate::g::{GRef, G};
use crate::m::{self, MLocal, M};
use crate::switch::{self, Switch};
use crate::sys;

/// aarch64: stack bytes that must remain below the interrupted SP for the
/// handler to switch away (the signal frame is already there; this covers
/// the switch and a nested signal frame later).
#[cfg(target_arch = "aarch64")]
const SAFE_STACK_MARGIN: usize = 8 * 1024;

/// x86_64 runs the handler on the M's signal stack and switches in the
/// trampoline; aarch64 switches inside the handler, on the G's stack.
#[cfg(target_arch = "x86_64")]
const ONSTACK: libc::c_int = libc::SA_ONSTACK;
#[cfg(target_arch = "aarch64")]
const ONSTACK: libc::c_int = 0;

/// True once the handler is installed and sysmon may send SIGURG. Relaxed:
/// a latch read by sysmon, which tolerates a late view.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// The SIGURG disposition before ours, for chaining foreign signals.
static PREV: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the SIGURG handler (also under `GODEBUG=asyncpreemptoff=1`: the
/// release of stuck Ms needs it), after saying whether preemption can work
/// ([`check_symbols`]). The user-code table is built later by sysmon
/// ([`enable`]); until then the handler finds no safe point.
pub(crate) fn init(cfg: &Config) {
    if !cfg.async_preempt_off {
        check_symbols();
    }
    let prev = match sys::sigaction_get(libc::SIGURG) {
        Ok(p) => p,
        Err(e) => {
            crate::throw::warn(&format!("gort: signal preemption off: sigaction: {e}"));
            return;
        }
    };
    let _ = PREV.set(prev);
    #[cfg(target_arch = "x86_64")]
    sys::async_preempt::init();
    let mut act = sys::sigaction_new(
        sigurg_handler as *const () as libc::sighandler_t,
        libc::SA_SIGINFO | libc::SA_RESTART | ONSTACK,
    );
    // SAFETY: sigset_t is ours; an empty mask: only SIGURG itself is blocked
    // while the handler runs (the kernel adds it).
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: `sigurg_handler` has the SA_SIGINFO signature and is
    // async-signal-safe (header).
    if let Err(e) = unsafe { sys::sigaction_set(libc::SIGURG, &act) } {
        crate::throw::warn(&format!("gort: signal preemption off: sigaction: {e}"));
    }
}

/// Builds the user-code table on a short-lived thread (reading and
/// demangling the symbol table can take a while in a large binary, and
/// sysmon must not wait for it), starts the allocator probe for a program
/// with its own allocator, then lets sysmon send preemption requests.
pub(crate) fn enable(cfg: &Config) {
    if cfg.async_preempt_off || PREV.get().is_none() || !symtab::locate().has_symtab {
        return;
    }
    let r = std::thread::Builder::new()
        .name("gort-symtab".into())
        .spawn(|| {
            if symtab::init() == 0 {
                return;
            }
            if symtab::custom_alloc() {
                crate::sched::alloc_probe::start();
            }
            ENABLED.store(true, Ordering::Relaxed);
        });
    if let Err(e) = r {
        crate::throw::warn(&format!("gort: signal preemption off: {e}"));
    }
}

/// Says once, at start, when signal preemption cannot work: the runtime's
/// object has no symbol table; or covers only part of the program: the
/// runtime is in a shared object.
fn check_symbols() {
    let o = symtab::locate();
    if !o.has_symtab {
        crate::throw::warn(&format!(
            "gort: no symbol table in {} (stripped? keep it with `strip = \"debuginfo\"`, \
             not `strip = true`): signal preemption is off",
            o.path
        ));
    } else if o.shared {
        crate::throw::warn(&format!(
            "gort: the runtime is in the shared object {}: only code in that object \
             is preempted by signal",
            o.path
        ));
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
/// stop in this very slice, outside any `no_preempt` section, holding no
/// runtime lock (lock.rs, Go's m.locks) and outside runtime code that uses
/// the P.
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
    // Runtime code inlined into user code (LTO, generics) may hold one of
    // the scheduler's locks or use this M's P: never switch out there.
    if crate::lock::held() != 0 || ml.in_runtime.get() != 0 {
        return None;
    }
    Some(g)
}

/// Go's isAsyncSafePoint, conditions 3 to 5 of the header: the PC is in the
/// program's own code (sched/symtab.rs: not libc, ld.so, the vDSO, std, the
/// allocator or gort); no signal handler is running on top of the goroutine
/// (the interrupted context blocks no signal its M does not); and the stack
/// has room below SP for the switch.
#[doc(alias = "isAsyncSafePoint")]
fn is_async_safe_point(ml: &MLocal, g: &G, ctx: *mut libc::c_void, pc: usize, sp: usize) -> bool {
    if !symtab::is_user_pc(pc) {
        return false;
    }
    // SAFETY: `ctx` is this SA_SIGINFO handler's ucontext (caller).
    let mask = unsafe { sys::ucontext_sigmask(ctx) };
    if mask & !ml.sigmask != 0 {
        return false;
    }

    let (lo, hi) = (g.stack_guard(), g.stack_hi());
    lo != 0 && sp < hi && sp >= lo + crate::stack::GUARD + stack_needed()
}

/// Bytes of goroutine stack a preemption needs below the interrupted SP.
fn stack_needed() -> usize {
    #[cfg(target_arch = "x86_64")]
    return sys::async_preempt::frame_bytes();
    #[cfg(target_arch = "aarch64")]
    return SAFE_STACK_MARGIN;
}

/// The SIGURG handler (header: what it touches). Decides, and on x86_64
/// only edits the frame: the switch happens after it returns.
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
                if is_async_safe_point(ml, g.get(), ctx, pc, sp) {
                    // SAFETY: as above; `sp` has stack_needed() bytes below it.
                    unsafe { inject(ml, ctx, pc, sp) };
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

/// Go's doSigPreempt on x86_64: make the interrupted code call the
/// trampoline (sys/async_preempt.rs), which switches the G out.
///
/// # Safety
/// `ctx` is this handler's ucontext, interrupted at `pc`/`sp` on the
/// running G's stack with `stack_needed()` bytes free below `sp`.
#[cfg(target_arch = "x86_64")]
#[doc(alias = "doSigPreempt")]
unsafe fn inject(_ml: &MLocal, ctx: *mut libc::c_void, pc: usize, sp: usize) {
    // SAFETY: the caller's contract is push_return's.
    let at = unsafe { sys::async_preempt::push_return(pc, sp) };
    // SAFETY: the trampoline returns to `pc` with SP back at `sp`.
    unsafe { sys::ucontext_set_pc_sp(ctx, sys::async_preempt::trampoline(), at) };
}

/// The trampoline's callback: switch the G out; returns when it is resumed
/// (on this M). Runs on the G's stack in ordinary context.
#[cfg(target_arch = "x86_64")]
pub(crate) extern "C" fn async_preempt_callback() {
    if let Some(g) = m::current_g() {
        switch_out(g, || {});
    }
}

/// Go's doSigPreempt on aarch64: switch the G out from inside the handler,
/// whose frame (on the G's stack: no SA_ONSTACK here) holds every register.
/// Returns when it is resumed.
///
/// # Safety
/// As the x86_64 `inject`.
#[cfg(target_arch = "aarch64")]
#[doc(alias = "doSigPreempt")]
unsafe fn inject(ml: &MLocal, _ctx: *mut libc::c_void, _pc: usize, _sp: usize) {
    if let Some(g) = ml.cur_g.get() {
        switch_out(g, || sys::unblock_signal(libc::SIGURG));
    }
}

/// Switches `g` out with `Switch::Preempted` (after `before`), unless it
/// may hold the program's allocator's lock (sched/alloc_probe.rs): then it is
/// left alone this time. Returns when it runs again.
fn switch_out(g: GRef, before: impl FnOnce()) {
    if !crate::sched::alloc_probe::allocator_free() {
        return;
    }
    before();
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
