//! The raw pieces of signal preemption (preempt.rs, symtab.rs): reading the
//! interrupted PC and SP from a signal's ucontext (per architecture), sending
//! SIGURG to one thread, unblocking it, and the auxiliary vector. All
//! async-signal-safe: one raw call or a few loads each.

/// The interrupted program counter and stack pointer of a signal frame.
///
/// # Safety
/// `ctx` is the third argument of an `SA_SIGINFO` handler (a `ucontext_t`).
pub(crate) unsafe fn ucontext_pc_sp(ctx: *mut libc::c_void) -> (usize, usize) {
    let uc = ctx.cast::<libc::ucontext_t>();
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: by the caller's contract `uc` points to the kernel-written
        // ucontext; gregs holds the interrupted general registers.
        let g = unsafe { &(*uc).uc_mcontext.gregs };
        (
            g[libc::REG_RIP as usize] as usize,
            g[libc::REG_RSP as usize] as usize,
        )
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: as above; mcontext has pc and sp fields on aarch64.
        let m = unsafe { &(*uc).uc_mcontext };
        (m.pc as usize, m.sp as usize)
    }
}

/// Sends `sig` to thread `t` of this process. Returns false if it failed
/// (the thread is gone). Async-signal-safe.
pub(crate) fn pthread_kill(t: libc::pthread_t, sig: libc::c_int) -> bool {
    // SAFETY: `t` is a thread of this process that never exits (Ms are parked
    // and reused, never ended), so the handle stays valid.
    unsafe { libc::pthread_kill(t, sig) == 0 }
}

/// This thread's pthread handle.
pub(crate) fn pthread_self() -> libc::pthread_t {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() }
}

/// Unblocks `sig` for this thread. Async-signal-safe.
pub(crate) fn unblock_signal(sig: libc::c_int) {
    // SAFETY: sigset_t is a plain C struct; all-zero is a valid value.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is ours; sigemptyset/sigaddset only write it.
    unsafe { libc::sigemptyset(&mut set) };
    // SAFETY: as above.
    unsafe { libc::sigaddset(&mut set, sig) };
    // SAFETY: changes only this thread's mask; `set` is valid.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

/// A value from the auxiliary vector (0 if absent).
pub(crate) fn getauxval(key: libc::c_ulong) -> libc::c_ulong {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(key) }
}

/// This thread's kernel id.
pub(crate) fn gettid() -> i32 {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() }
}
