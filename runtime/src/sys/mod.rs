//! sys — the raw OS calls behind stacks and fatal signals, one wrapper each,
//! so that stack.rs and signal.rs read as policy and every `libc` call with
//! its safety argument lives in one place.
//!
//! Callers: stack.rs (mmap, madvise, mprotect, the `vm.max_map_count` sysctl)
//! and signal.rs (sigaction, sigaltstack, errno, write(2), abort). Nothing here
//! keeps state except a latch saying whether `process_madvise` works (linux.rs).
//!
//! gort runs on Linux only (lib.rs refuses other targets), so there is one
//! backend. The overflow check needs no register access: it uses only the
//! fault address from `siginfo_t`.

mod diag;
mod linux;
mod signal_preempt;

pub(crate) use diag::*;
pub(crate) use linux::*;
pub(crate) use signal_preempt::*;
