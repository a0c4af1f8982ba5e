//! The raw pieces of signal preemption (preempt.rs, symtab.rs): reading the
//! interrupted PC and SP from a signal's ucontext (per architecture), sending
//! SIGURG to one thread (by kernel tid), unblocking it, and the auxiliary vector. All
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

/// Sends `sig` to thread `tid` of this process (`tgkill`). Returns false if
/// it failed (no such thread). Async-signal-safe. By kernel thread id rather
/// than `pthread_kill`: an M may end its thread (idle-M bound), and a stale
/// `pthread_t` would be a dangling pointer into freed thread memory, while a
/// stale tid is at worst another thread of this process, whose handler
/// ignores a SIGURG nobody asked it for.
pub(crate) fn tgkill(tid: i32, sig: libc::c_int) -> bool {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    // SAFETY: the tgkill system call takes plain integers and touches no
    // memory of ours.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) == 0 }
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
