//! The raw pieces of signal preemption (sched/preempt.rs, sched/symtab.rs): reading the
//! interrupted PC and SP from a signal's ucontext (per architecture), sending
//! SIGURG to one thread (by kernel tid), unblocking it, and where the loader put
//! an object. The signal-frame pieces are async-signal-safe: one raw call or a few loads each.

use nix::sys::signal::SigSet;

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

/// Signals 1-64 blocked in the interrupted context of a signal frame (the
/// mask sigreturn restores).
///
/// # Safety
/// As [`ucontext_pc_sp`].
pub(crate) unsafe fn ucontext_sigmask(ctx: *mut libc::c_void) -> u64 {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: by the caller's contract `uc` is the kernel-written ucontext;
    // the kernel's sigset is its first 64 bits.
    let set = unsafe { &(*uc).uc_sigmask };
    // SAFETY: sigset_t is at least 8 bytes of plain data.
    unsafe { std::ptr::read_unaligned((set as *const libc::sigset_t).cast::<u64>()) }
}

/// Makes a signal frame return to `pc` with stack pointer `sp` instead of
/// the interrupted ones (every other register is restored as it was).
///
/// # Safety
/// As [`ucontext_pc_sp`]; `pc` and `sp` must make a valid continuation.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn ucontext_set_pc_sp(ctx: *mut libc::c_void, pc: usize, sp: usize) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: as in `ucontext_pc_sp`; the frame is ours to edit until the
    // handler returns.
    let g = unsafe { &mut (*uc).uc_mcontext.gregs };
    g[libc::REG_RIP as usize] = pc as i64;
    g[libc::REG_RSP as usize] = sp as i64;
}

/// This thread's blocked signals 1-64.
pub(crate) fn thread_sigmask() -> u64 {
    let Ok(set) = SigSet::thread_get_mask() else {
        return 0;
    };
    let raw: &libc::sigset_t = set.as_ref();
    // SAFETY: sigset_t is at least 8 bytes of plain data.
    unsafe { std::ptr::read_unaligned((raw as *const libc::sigset_t).cast::<u64>()) }
}

/// Sends `sig` to thread `tid` of this process (`tgkill`). Returns false if
/// it failed (no such thread). Async-signal-safe. By kernel thread id rather
/// than `pthread_kill`: an M may end its thread (idle-M bound), and a stale
/// `pthread_t` would be a dangling pointer into freed thread memory, while a
/// stale tid is at worst another thread of this process, whose handler
/// ignores a SIGURG nobody asked it for.
pub(crate) fn tgkill(tid: i32, sig: libc::c_int) -> bool {
    let pid = nix::unistd::getpid().as_raw();
    // SAFETY: the tgkill system call takes plain integers and touches no
    // memory of ours.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) == 0 }
}

/// Unblocks `sig` for this thread. Async-signal-safe.
#[cfg(target_arch = "aarch64")]
pub(crate) fn unblock_signal(sig: libc::c_int) {
    let Ok(sig) = nix::sys::signal::Signal::try_from(sig) else {
        return;
    };
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = set.thread_unblock();
}

/// A loaded object (the executable or a shared object) as the dynamic
/// loader reports it.
pub(crate) struct LoadedObject {
    /// Its file: the loader's name, or /proc/self/exe for the executable.
    pub(crate) path: String,
    /// Load bias: runtime address minus the address in the file.
    pub(crate) bias: usize,
    /// True for the executable itself.
    pub(crate) main: bool,
}

/// The loaded object whose segments contain `addr` (dl_iterate_phdr: the
/// loader's own record of every object, where it is and its bias).
pub(crate) fn object_containing(addr: usize) -> Option<LoadedObject> {
    struct Search {
        addr: usize,
        index: usize,
        found: Option<LoadedObject>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the Search passed below, alive for the call.
        let s = unsafe { &mut *data.cast::<Search>() };
        // SAFETY: `info` is the loader's record, valid during the callback.
        let info = unsafe { &*info };
        let index = s.index;
        s.index += 1;
        let bias = info.dlpi_addr as usize;
        // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        let inside = phdrs.iter().any(|ph| {
            let lo = bias.wrapping_add(ph.p_vaddr as usize);
            ph.p_type == libc::PT_LOAD && (lo..lo + ph.p_memsz as usize).contains(&s.addr)
        });
        if !inside {
            return 0;
        }
        let name = if info.dlpi_name.is_null() {
            String::new()
        } else {
            // SAFETY: a non-null dlpi_name is a NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }
                .to_string_lossy()
                .into_owned()
        };
        // The executable comes first, and has an empty name.
        let main = index == 0 || name.is_empty();
        s.found = Some(LoadedObject {
            path: if main { "/proc/self/exe".into() } else { name },
            bias,
            main,
        });
        1
    }
    let mut s = Search {
        addr,
        index: 0,
        found: None,
    };
    // SAFETY: `visit` has the callback signature and only reads the
    // records; `s` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut s as *mut Search).cast()) };
    s.found
}

/// Sleeps while `word` holds `expected` (futex wait; spurious wake-ups
/// happen: callers re-check).
pub(crate) fn futex_wait(word: &std::sync::atomic::AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT reads the aligned u32 behind `word`, which lives
    // for the call; a null timeout waits without limit.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

/// Wakes one thread sleeping in [`futex_wait`] on `word`. Async-signal-safe.
pub(crate) fn futex_wake(word: &std::sync::atomic::AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        )
    };
}

/// This thread's kernel id.
pub(crate) fn gettid() -> i32 {
    nix::unistd::gettid().as_raw()
}
