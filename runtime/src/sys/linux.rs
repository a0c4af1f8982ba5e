//! sys/linux — the Linux calls behind goroutine stacks (mmap, madvise,
//! process_madvise, mprotect, `vm.max_map_count`) and behind the fatal-signal
//! report (sigaction, sigaltstack, errno, write(2), abort), and the few
//! descriptors std does not make: non-blocking pipes, pidfds, O_NONBLOCK.
//!
//! Each wrapper holds exactly one `libc` call. Those that change memory other
//! code might use (`madvise`, `mprotect`) are `unsafe fn`: the caller owns the
//! range. The signal-side wrappers marked "async-signal-safe" make only the
//! raw call and touch no lock, allocator or lazily initialised state.
//!
//! # Batching
//! A madvise costs about 1 µs on the reference machine (a 2-core VM), mostly
//! per call, not per page. `process_madvise(2)` with the calling-thread pidfd
//! sentinel (Linux >= 6.13 accepts any advice for the caller; >= 6.15 the
//! sentinel) applies one advice to up to 1,024 ranges in one call: 0.6-0.9 µs
//! per range measured. Where the kernel refuses it we remember that and loop
//! over plain `madvise`. The sentinel, not a pidfd from `pidfd_open`, keeps a
//! forked child from advising its parent's memory through an inherited fd.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// `MADV_GUARD_INSTALL` (Linux 6.13): accesses to the pages fault, without a
/// VMA of their own. Not yet in the libc crate.
pub(crate) const MADV_GUARD_INSTALL: libc::c_int = 102;
/// `PIDFD_SELF_THREAD` (Linux 6.15): "the calling thread" for pidfd calls;
/// its mm is the process's.
const PIDFD_SELF_THREAD: libc::c_int = -10000;
/// The kernel's UIO_MAXIOV: most ranges one process_madvise takes.
const IOV_MAX: usize = 1024;

/// Whether process_madvise works here; learnt at the first batch.
const BATCH_UNKNOWN: u8 = 0;
const BATCH_YES: u8 = 1;
const BATCH_NO: u8 = 2;
/// Relaxed: a one-way latch; both answers give correct results.
static BATCH: AtomicU8 = AtomicU8::new(BATCH_UNKNOWN);

/// Reserves `bytes` of address space, read-write, private, `MAP_NORESERVE`:
/// no commit charge, and the kernel backs a page only when it is touched.
pub(crate) fn mmap_reserve(bytes: usize) -> io::Result<usize> {
    mmap_anon(bytes, libc::MAP_NORESERVE)
}

/// Maps `bytes` of fresh read-write memory, its pages faulted in now
/// (`MAP_POPULATE`: one call instead of a fault per page).
pub(crate) fn mmap_populated(bytes: usize) -> io::Result<usize> {
    mmap_anon(bytes, libc::MAP_POPULATE)
}

/// A private anonymous read-write mapping with `flags` added.
fn mmap_anon(bytes: usize, flags: libc::c_int) -> io::Result<usize> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags;
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choice
    // overlaps nothing that exists.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), bytes, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p as usize)
}

/// Unmaps a range from [`mmap_reserve`].
///
/// # Safety
/// The caller owns `[addr, addr+len)` and nothing refers to it any more.
pub(crate) unsafe fn munmap(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: by the caller's contract the range is ours and unused.
    let r = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `madvise(addr, len, advice)`.
///
/// # Safety
/// The caller owns the page-aligned range, and the advice's effect on it
/// (zeroing with `MADV_DONTNEED`, faulting with `MADV_GUARD_INSTALL`) breaks
/// no live reference.
pub(crate) unsafe fn madvise(addr: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
    // SAFETY: by the caller's contract.
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Applies `advice` to every `(addr, len)` range: batched through
/// process_madvise where the kernel takes it, else one madvise per range.
///
/// # Safety
/// As [`madvise`], for every range.
pub(crate) unsafe fn madvise_ranges(
    ranges: &[(usize, usize)],
    advice: libc::c_int,
) -> io::Result<()> {
    for chunk in ranges.chunks(IOV_MAX) {
        // Relaxed: see BATCH.
        if chunk.len() > 1 && BATCH.load(Ordering::Relaxed) != BATCH_NO {
            let iov: Vec<libc::iovec> = chunk
                .iter()
                .map(|&(a, l)| libc::iovec {
                    iov_base: a as *mut libc::c_void,
                    iov_len: l,
                })
                .collect();
            let want: usize = chunk.iter().map(|&(_, l)| l).sum();
            // SAFETY: `iov` describes ranges the caller owns (contract); the
            // kernel only reads the iovec array, which outlives the call.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_process_madvise,
                    PIDFD_SELF_THREAD,
                    iov.as_ptr(),
                    iov.len(),
                    advice,
                    0u32,
                )
            };
            if r >= 0 && r as usize == want {
                BATCH.store(BATCH_YES, Ordering::Relaxed);
                continue;
            }
            if r < 0 && BATCH.load(Ordering::Relaxed) == BATCH_UNKNOWN {
                // Refused outright (old kernel, seccomp, unknown sentinel):
                // never try again. A partial result falls through to the loop,
                // which is harmless: every advice we use is idempotent.
                BATCH.store(BATCH_NO, Ordering::Relaxed);
            }
        }
        for &(a, l) in chunk {
            // SAFETY: by the caller's contract.
            unsafe { madvise(a, l, advice)? };
        }
    }
    Ok(())
}

/// `mprotect(addr, len, PROT_NONE)`.
///
/// # Safety
/// The caller owns the range and nothing may access it afterwards.
pub(crate) unsafe fn mprotect_none(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: by the caller's contract.
    let r = unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The `vm.max_map_count` sysctl: how many mappings (VMAs) a process may
/// have. None if /proc is unreadable.
pub(crate) fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------
// Signals.

/// The current disposition of `sig`.
pub(crate) fn sigaction_get(sig: libc::c_int) -> io::Result<libc::sigaction> {
    // SAFETY: sigaction is a plain C struct; all-zero is a valid value.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null `act` only reads the disposition into `old`, ours.
    let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

/// Installs `act` for `sig`. Async-signal-safe (one raw call).
///
/// # Safety
/// `act.sa_sigaction` must be `SIG_DFL`, `SIG_IGN`, or a handler with the
/// signature its `SA_SIGINFO` flag announces, safe to run at any instruction.
pub(crate) unsafe fn sigaction_set(sig: libc::c_int, act: &libc::sigaction) -> io::Result<()> {
    // SAFETY: by the caller's contract on the handler.
    let r = unsafe { libc::sigaction(sig, act, std::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `[base, base+size)` this thread's signal stack.
///
/// # Safety
/// The range is mapped read-write, owned by this thread for as long as the
/// signal stack stays installed (for an M: forever), and used for nothing else.
pub(crate) unsafe fn sigaltstack_set(base: usize, size: usize) -> io::Result<()> {
    let ss = libc::stack_t {
        ss_sp: base as *mut libc::c_void,
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: by the caller's contract on the range.
    let r = unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// This thread's signal stack `(base, size)`, if one is installed.
pub(crate) fn sigaltstack_get() -> io::Result<Option<(usize, usize)>> {
    // SAFETY: a zeroed stack_t is a valid out-parameter; no new stack is set.
    let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: null for the new stack only reads the current one into `old`.
    let r = unsafe { libc::sigaltstack(std::ptr::null(), &mut old) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((old.ss_flags & libc::SS_DISABLE == 0).then_some((old.ss_sp as usize, old.ss_size)))
}

/// This thread's errno. Async-signal-safe.
pub(crate) fn errno() -> libc::c_int {
    Errno::last_raw()
}

/// Sets this thread's errno. Async-signal-safe.
pub(crate) fn set_errno(e: libc::c_int) {
    Errno::set_raw(e);
}

/// Writes all of `buf` to stderr, retrying on EINTR and short writes; gives
/// up silently on any other error. Async-signal-safe.
pub(crate) fn write_stderr(mut buf: &[u8]) {
    // `stderr()` is a handle to fd 2: taking it locks and allocates nothing.
    while !buf.is_empty() {
        match nix::unistd::write(std::io::stderr(), buf) {
            Ok(n) if n > 0 => buf = &buf[n..],
            Err(Errno::EINTR) => continue,
            _ => return,
        }
    }
}

/// Sends `sig` to this thread. Async-signal-safe.
pub(crate) fn raise(sig: libc::c_int) {
    if let Ok(sig) = Signal::try_from(sig) {
        let _ = nix::sys::signal::raise(sig);
    }
}

/// Ends the process with SIGABRT (a core dump where enabled). Async-signal-safe.
pub(crate) fn abort() -> ! {
    std::process::abort()
}

/// Lowers the calling thread's priority to nice 19 (Linux's nice value is
/// per thread), for background work such as the stack scavenger. Best effort.
pub(crate) fn lower_thread_priority() {
    let tid = nix::unistd::gettid().as_raw();
    // SAFETY: setpriority on our own thread id changes only its scheduling.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) };
}

/// A disposition running `handler` (an address, or `SIG_DFL`/`SIG_IGN`) with
/// `flags`, every signal blocked while it runs.
pub(crate) fn sigaction_new(handler: libc::sighandler_t, flags: libc::c_int) -> libc::sigaction {
    // SAFETY: sigaction is a plain C struct; all-zero is a valid value.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    sa.sa_flags = flags;
    // SAFETY: `sa.sa_mask` is a sigset_t we own; sigfillset only writes it.
    unsafe { libc::sigfillset(&mut sa.sa_mask) };
    sa
}

// ---------------------------------------------------------------------------
// Descriptors.

/// Writes the byte `b` to `fd`, ignoring any error (for a wake-up pipe: when
/// it is full, the reader has a wake-up pending already). Async-signal-safe:
/// one raw call.
pub(crate) fn write_byte(fd: RawFd, b: u8) {
    // SAFETY: `b` is a valid one-byte buffer; a stale fd only fails the call.
    let _ = unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// A pipe (read end, write end), both non-blocking and close-on-exec.
pub(crate) fn pipe_nonblocking() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    let r = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // SAFETY: as above, the other one.
    let w = unsafe { OwnedFd::from_raw_fd(fds[1]) };
    Ok((r, w))
}

/// pidfd_open(2): a descriptor that polls readable once process `pid` has
/// exited (Linux >= 5.3; `ENOSYS` before).
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: a raw system call taking two integers.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(r).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pidfd_send_signal(2): sends `sig` to the process of `pidfd` (an exited
/// one: `ESRCH`; never another process that reused its pid).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: a raw system call with a descriptor the borrow keeps open, a
    // signal number, a null siginfo and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets or clears `O_NONBLOCK` on `fd` (its open file description).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: F_GETFL on a descriptor the borrow keeps open reads its flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL with the same flags but O_NONBLOCK changes only that.
    if new != flags && unsafe { libc::fcntl(fd, libc::F_SETFL, new) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// True if `fd` is a pipe or FIFO.
pub(crate) fn is_fifo(fd: BorrowedFd<'_>) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO)
}

/// splice(2) up to `len` bytes from `from` to `to` (one must be a pipe),
/// without blocking on the pipe: `WouldBlock` when nothing can move now.
pub(crate) fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MOVE;
    // SAFETY: two descriptors the borrows keep open, null offsets (use and
    // move the file positions); no memory of ours is passed.
    let r = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    usize::try_from(r).map_err(|_| io::Error::last_os_error())
}
