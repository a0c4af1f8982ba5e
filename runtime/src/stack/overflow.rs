//! signal — fatal signals: the goroutine stack overflow report.
//!
//! A goroutine that runs off the end of its stack touches the guard page below
//! it (stack/mod.rs) and the kernel raises SIGSEGV. Without help that is a bare
//! "Segmentation fault"; Go prints which goroutine overflowed. So do we:
//!
//! ```text
//! fatal error: goroutine 7 stack overflow (stack size 262144)
//! goroutine 7 'worker', created at src/main.rs:12:5
//! hint: give it a bigger stack with gort::Builder::stack_size, or raise the default with GORT_STACK_SIZE (e.g. GORT_STACK_SIZE=1M)
//! ```
//! and abort. Any other SIGSEGV/SIGBUS keeps its meaning: it goes to the
//! handler that was installed before ours (Rust's std prints its own "thread
//! has overflowed its stack" for thread stacks) or gets the default action.
//! The guard is one page: Rust code probes every page of a larger frame, so
//! it always lands there; C code with a large `alloca` could step over it into
//! the next stack down, as it could over a thread's guard.
//!
//! # Who calls what
//! sched/handoff.rs `mstart` calls [`minit`] first thing on every M thread (Go's
//! minit): the first call installs the handler process-wide (Go's initsig) —
//! before any goroutine can run, since goroutines run only on Ms — and every
//! call makes sure its M has a guarded signal stack (Go's minitSignalStack):
//! the one std installs on the threads it spawns, or, where there is none,
//! one of ours (`stack::signal_stack_alloc`). One per M, not two: each is a
//! mapping and a guard, and threads × VMAs is what a process runs out of.
//! The handler runs there, with `SA_ONSTACK`, because the overflowing
//! goroutine's own stack has no room left; so does the SIGURG handler on
//! x86_64 (sched/preempt.rs), whose kernel frame must not land on a goroutine
//! stack either.
//!
//! # The handler is async-signal-safe
//! [`sighandler`] touches only:
//! - the const-initialised, destructor-free thread-local `CUR_M` (m.rs), via
//!   `m::current()`, and the M's `cur_g` atomic;
//! - the current G's fields: `stack_guard` (an atomic set before the G first
//!   ran) and `id`, `stack_size`, `name`, `created_by` (immutable);
//! - a byte buffer on its own frame (digits written by hand, no formatting
//!   machinery, no allocation, no locks);
//! - `write(2)`, `abort`, `sigaction`, `raise`, and errno (saved, restored);
//! - the previous dispositions, in `OnceLock`s set before the handler was
//!   installed (`get` is an atomic load).
//!
//! All signals are blocked while it runs (so SIGURG cannot preempt it on the
//! signal stack).

use std::sync::{Once, OnceLock};

use crate::g::G;
use crate::{m, stack, sys};

/// The smallest signal stack [`minit`] keeps: the overflow report's frame
/// (a 1 KiB buffer and a few calls) with room to spare.
const MIN_SIGNAL_STACK: usize = 8 * 1024;

/// The dispositions ours replaced, for faults that are not goroutine overflows.
static PREV_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
static PREV_BUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Per-M signal setup (Go's minit): installs the fatal-signal handler once per
/// process, then this thread's signal stack. Called at the top of `mstart`.
#[doc(alias = "minitSignalStack")]
pub(crate) fn minit() {
    static INIT: Once = Once::new();
    INIT.call_once(init_sig);
    // std gives every thread it spawns a guarded signal stack of its own
    // (for its stack overflow message); one per M is enough: use it.
    if let Ok(Some((_, size))) = sys::sigaltstack_get() {
        if size >= MIN_SIGNAL_STACK {
            return;
        }
    }
    match stack::signal_stack_alloc() {
        Ok((lo, size)) => {
            // SAFETY: the range was mapped for this M alone and is never
            // freed (Ms live for the process), so it outlives the install.
            if let Err(e) = unsafe { sys::sigaltstack_set(lo, size) } {
                crate::throw::warn(&format!("gort: cannot install a signal stack: {e}"));
            }
        }
        Err(e) => crate::throw::warn(&format!("gort: cannot map a signal stack: {e}")),
    }
}

/// Go's initsig for SIGSEGV and SIGBUS: remember the old disposition, then
/// install [`sighandler`] on the signal stack.
#[doc(alias = "initsig")]
fn init_sig() {
    for (sig, prev) in [(libc::SIGSEGV, &PREV_SEGV), (libc::SIGBUS, &PREV_BUS)] {
        match sys::sigaction_get(sig) {
            Ok(old) => {
                let _ = prev.set(old);
            }
            Err(e) => {
                crate::throw::warn(&format!("gort: cannot read signal {sig}'s handler: {e}"));
                continue;
            }
        }
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            sighandler;
        let sa = sys::sigaction_new(
            handler as libc::sighandler_t,
            libc::SA_SIGINFO | libc::SA_ONSTACK,
        );
        // SAFETY: `sighandler` has the SA_SIGINFO signature and is
        // async-signal-safe (module header).
        if let Err(e) = unsafe { sys::sigaction_set(sig, &sa) } {
            crate::throw::warn(&format!("gort: cannot install the overflow handler: {e}"));
        }
    }
}

/// The SIGSEGV/SIGBUS handler: a fault in the running goroutine's guard page
/// is reported and aborts; anything else is passed on (module header).
extern "C" fn sighandler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let saved = sys::errno();
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t.
    let si = unsafe { &*info };
    // SAFETY: si_addr is the union member the kernel fills for SIGSEGV and
    // SIGBUS (the fault address; meaningless but harmless for a sent signal).
    let addr = unsafe { si.si_addr() } as usize;
    if si.si_code > 0 {
        if let Some(g) = overflowing_g(addr) {
            report_overflow(g);
        }
    }
    chain(sig, info, ctx, si.si_code);
    sys::set_errno(saved);
}

/// The G running on this thread, if `addr` lies in its stack's guard page.
fn overflowing_g(addr: usize) -> Option<&'static G> {
    let ml = m::current()?;
    // Relaxed: written by this thread (execute), read by this thread.
    let g = ml.m.cur_g.load(std::sync::atomic::Ordering::Relaxed);
    if g.is_null() {
        return None;
    }
    // SAFETY: cur_g is the G this M is running; only this M frees it, after
    // it has exited, and this M is the thread now in the handler.
    let g: &'static G = unsafe { &*g };
    let lo = g.stack_guard();
    (lo != 0 && (lo..lo + stack::GUARD).contains(&addr)).then_some(g)
}

/// Writes the overflow report for `g` and aborts. No allocation, no locks.
fn report_overflow(g: &G) -> ! {
    let mut b = Buf::new();
    b.push(b"fatal error: goroutine ");
    b.num(g.id);
    b.push(b" stack overflow (stack size ");
    b.num(g.stack_size as u64);
    b.push(b")\ngoroutine ");
    b.num(g.id);
    if let Some(name) = g.name.as_deref() {
        b.push(b" '");
        b.push(name.as_bytes());
        b.push(b"'");
    }
    b.push(b", created at ");
    b.push(g.created_by.file().as_bytes());
    b.push(b":");
    b.num(u64::from(g.created_by.line()));
    b.push(b":");
    b.num(u64::from(g.created_by.column()));
    b.push(
        b"\nhint: give it a bigger stack with gort::Builder::stack_size, or raise the \
          default with GORT_STACK_SIZE (e.g. GORT_STACK_SIZE=1M)\n",
    );
    sys::write_stderr(b.as_bytes());
    sys::abort()
}

/// Hands a fault that is not ours to the previous disposition: call its
/// handler, or restore the default so the fault (re-executed on return) or
/// the re-raised signal takes its default action (a core dump).
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void, code: libc::c_int) {
    let prev = match sig {
        libc::SIGSEGV => PREV_SEGV.get(),
        libc::SIGBUS => PREV_BUS.get(),
        _ => None,
    };
    let (handler, flags) = prev.map_or((libc::SIG_DFL, 0), |p| (p.sa_sigaction, p.sa_flags));
    let sent = code <= 0; // SI_USER, SI_TKILL, ...: sent by kill/raise, not a fault
    if handler == libc::SIG_IGN && sent {
        return;
    }
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        let dfl = sys::sigaction_new(libc::SIG_DFL, 0);
        // SAFETY: SIG_DFL needs no handler contract.
        let _ = unsafe { sys::sigaction_set(sig, &dfl) };
        if sent {
            // Blocked while we run; delivered, with the default action, on return.
            sys::raise(sig);
        }
        return;
    }
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous owner installed this address with SA_SIGINFO,
        // which promises this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO a handler takes only the signal number.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

/// A fixed buffer on the handler's frame; longer text is cut off.
struct Buf {
    bytes: [u8; 1024],
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf {
            bytes: [0; 1024],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    /// Decimal digits of `n`, by hand.
    fn num(&mut self, mut n: u64) {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&d[i..]);
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_by_hand() {
        let mut b = Buf::new();
        b.num(0);
        b.push(b" ");
        b.num(262_144);
        b.push(b" ");
        b.num(u64::MAX);
        assert_eq!(b.as_bytes(), b"0 262144 18446744073709551615");
    }

    #[test]
    fn buffer_cuts_long_text() {
        let mut b = Buf::new();
        b.push(&[b'x'; 2000]);
        b.num(5);
        assert_eq!(b.as_bytes().len(), 1024);
    }
}
