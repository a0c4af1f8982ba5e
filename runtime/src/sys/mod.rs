//! sys — the OS calls behind stacks, signals and preemption, one wrapper
//! each, so that stack/mod.rs, stack/overflow.rs and sched/preempt.rs read as
//! policy and every `libc` call with its safety argument lives in one place.
//!
//! Where `nix` has a safe wrapper for a call (signal masks, raise, errno,
//! write, gettid/getpid, clock_gettime), it is used: none of them allocates
//! or locks, so they stay async-signal-safe. Raw `libc` remains where nix's
//! wrapper is itself `unsafe` (mmap, munmap, madvise, mprotect, sigaction:
//! they change memory or handlers other code relies on) or where nix has
//! none (tgkill, sigaltstack, futex, process_madvise, dl_iterate_phdr,
//! setpriority, atexit). Signals go to a kernel tid with tgkill rather than
//! `pthread_kill`: an M may end its thread, and a stale `pthread_t` would
//! point into freed memory.
//!
//! linux.rs: mmap, madvise, mprotect, the `vm.max_map_count` sysctl,
//! sigaction, sigaltstack, errno, write(2), abort. signal_preempt.rs: the
//! signal frame (PC, SP, mask), tgkill, futexes, where the loader put an
//! object. async_preempt.rs (x86_64): the preemption trampoline. diag.rs:
//! the coarse clock, atexit. cpus.rs: the CPUs the process may use (its
//! affinity mask, its cgroup's CPU limit). Nothing here keeps state except a latch saying
//! whether `process_madvise` works (linux.rs) and the trampoline's save-area
//! size.
//!
//! gort runs on Linux only (lib.rs refuses other targets), so there is one
//! backend.

#[cfg(target_arch = "x86_64")]
pub(crate) mod async_preempt;
pub(crate) mod cpus;
mod diag;
mod linux;
mod signal_preempt;

pub(crate) use diag::*;
pub(crate) use linux::*;
pub(crate) use signal_preempt::*;
