//! debug — Go's `runtime/debug` for goroutines: [`dump_goroutines`] (what
//! SIGQUIT prints, diag/dump.rs), [`set_max_threads`] (Go's SetMaxThreads),
//! [`remaining_stack`] (the `stacker` crate's question, for goroutines), and
//! the limits the environment knobs obey.

#![forbid(unsafe_code)]

pub use super::dump::dump_goroutines;
pub use crate::config::{DEFAULT_TIMESLICE, MAX_GOMAXPROCS};
pub use crate::sched::set_max_threads;

/// Bytes of stack left below the caller's frame in the running goroutine
/// (down to its guard page), or None on a thread that is not running a
/// goroutine. Goroutine stacks do not grow: deep recursion can check this
/// first, as it would with the `stacker` crate on a thread.
///
/// ```
/// let left = gort::go!(|| gort::debug::remaining_stack()).join().unwrap();
/// assert!(left.is_some_and(|n| n > 32 * 1024)); // of a 256 KiB default
/// assert_eq!(gort::debug::remaining_stack(), None); // not a goroutine
/// ```
#[inline(never)]
pub fn remaining_stack() -> Option<usize> {
    let here = std::hint::black_box(0u8);
    let sp = std::ptr::addr_of!(here) as usize;
    let g = crate::m::current_g()?;
    let lo = g.get().stack_guard();
    (lo != 0 && sp < g.get().stack_hi()).then(|| sp.saturating_sub(lo + crate::stack::GUARD))
}
