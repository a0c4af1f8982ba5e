//! gort-runtime — Go's runtime model for Rust: goroutines (stackful
//! coroutines on mmap'd stacks) scheduled by the G/M/P model over a few OS
//! threads. Most users depend on the facade crate `gort`, which re-exports
//! this crate and the `#[gort::main]` / `#[gort::test]` macros.
//!
//! ```
//! let (a, b) = (gort::go!(|| 20), gort::go!(|| 22));
//! assert_eq!(a.join().unwrap() + b.join().unwrap(), 42);
//! ```
//!
//! Where each concept lives (docs/ARCHITECTURE.md tells the whole story):
//! the nouns at the top — a goroutine `g.rs` with its context switch
//! `switch.rs` and stack `stack/`, a thread `m.rs`, a processor `p/` with
//! its run queue; the scheduler in `sched/` (the loop, hand-offs, blocking
//! calls, sysmon, preemption); waiting in `wait/`, channels and `select!`
//! in `chan/`, `sync/` and `time/` on top of it; sockets, files and the
//! netpoller in `io/`; the program's side of a goroutine (spawn, join, scope,
//! goroutine-locals, `#[gort::main]`) in `goroutine/`; reports and traces
//! in `diag/`; virtual time for tests in `testing/`; the environment knobs in `config.rs`; raw OS calls in `sys/`.

#![warn(missing_docs)]

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!("gort supports Linux on x86_64 and aarch64 only");

mod bridge;
pub mod chan;
mod config;
pub mod context;
mod diag;
mod g;
mod goroutine;
pub mod io;
mod lock;
mod loom;
mod m;
mod p;
pub mod process;
mod sched;
pub mod signal;
mod slab;
mod stack;
mod switch;
pub mod sync;
mod sys;
pub mod testing;
mod throw;
pub mod time;
mod wait;

pub use diag::{debug, metrics, trace};
pub use io::{fs, net};
pub use sched::syscall;

pub use bridge::block_on::block_on;

/// Compatibility with other runtimes (feature `tokio`).
#[cfg(feature = "tokio")]
pub mod compat {
    pub use crate::bridge::tokio::set_tokio_handle;
}
pub use config::MAX_GOMAXPROCS;
pub use diag::stats::{stats, Stats};
pub use goroutine::{
    scope, spawn, AccessError, Builder, JoinHandle, LocalKey, Scope, ScopedJoinHandle,
};
pub use sched::no_preempt;
pub use stack::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE};

/// Spawns a goroutine: Go's `go f()`. Returns a [`JoinHandle`].
///
/// ```
/// let h = gort::go!(move || "hello from a goroutine");
/// assert_eq!(h.join().unwrap(), "hello from a goroutine");
/// ```
#[macro_export]
macro_rules! go {
    ($f:expr) => {
        $crate::spawn($f)
    };
}

/// Yields the processor: the calling goroutine goes to the back of its P's
/// run queue and others run (Go's `runtime.Gosched`). On a plain thread it is
/// `std::thread::yield_now`.
///
/// ```
/// gort::go!(|| gort::yield_now()).join().unwrap();
/// ```
pub fn yield_now() {
    sched::gosched();
}

/// The number of live goroutines (Go's `runtime.NumGoroutine`).
///
/// ```
/// let n = gort::num_goroutine();
/// assert!(n < 1_000_000);
/// ```
pub fn num_goroutine() -> usize {
    sched::sched().ngoroutine()
}

/// The current GOMAXPROCS: the number of Ps, i.e. goroutines running user code
/// at once. Set by the `GOMAXPROCS` environment variable (a bad value gets a
/// warning and the default), else automatic as in Go 1.25: the CPUs in the
/// affinity mask, lowered to the container's (cgroup's) CPU limit rounded
/// up, and followed while the program runs ([`set_default_gomaxprocs`]).
///
/// ```
/// assert!(gort::gomaxprocs() >= 1);
/// ```
pub fn gomaxprocs() -> usize {
    sched::sched().gomaxprocs()
}

/// Sets GOMAXPROCS and returns the previous value (Go's `runtime.GOMAXPROCS(n)`).
/// `0` only queries; values above [`MAX_GOMAXPROCS`] are clamped to it. A
/// shrink takes effect as running goroutines reach the scheduler.
///
/// ```
/// let old = gort::set_gomaxprocs(0); // query
/// assert_eq!(old, gort::gomaxprocs());
/// ```
pub fn set_gomaxprocs(n: usize) -> usize {
    if n > 0 {
        sched::maxprocs::set_custom(true);
    }
    sched::set_gomaxprocs(n)
}

/// Goes back to the automatic GOMAXPROCS (Go 1.25's
/// `runtime.SetDefaultGOMAXPROCS`): the CPUs this process may use, lowered
/// to its cgroup's CPU limit rounded up, re-checked about once a second
/// (unless `GODEBUG=updatemaxprocs=0`). Undoes a `GOMAXPROCS` environment
/// variable or a [`set_gomaxprocs`] call. Returns the new value.
///
/// ```
/// let n = gort::set_default_gomaxprocs();
/// assert_eq!(n, gort::gomaxprocs());
/// ```
pub fn set_default_gomaxprocs() -> usize {
    let s = sched::sched();
    sched::maxprocs::set_custom(false);
    let n = config::default_gomaxprocs(s.cfg.container_maxprocs);
    sched::set_gomaxprocs(n);
    n
}

/// Wires the calling goroutine to its current OS thread (Go's
/// `runtime.LockOSThread`): until a matching [`unlock_os_thread`], it runs
/// only on this thread and no other goroutine runs there. Use it around
/// thread-affine state (thread-locals that must stay put across yields, FFI
/// that needs one thread). Calls nest. On a plain thread it does nothing.
///
/// ```
/// gort::go!(|| {
///     gort::lock_os_thread();
///     let before = std::thread::current().id();
///     gort::yield_now();
///     assert_eq!(std::thread::current().id(), before);
///     gort::unlock_os_thread();
/// })
/// .join()
/// .unwrap();
/// ```
pub fn lock_os_thread() {
    sched::lock_os_thread();
}

/// Undoes one [`lock_os_thread`] (Go's `runtime.UnlockOSThread`).
///
/// ```
/// gort::go!(|| {
///     gort::lock_os_thread();
///     gort::lock_os_thread(); // calls nest
///     gort::unlock_os_thread(); // still locked once
///     let before = std::thread::current().id();
///     gort::yield_now();
///     assert_eq!(std::thread::current().id(), before);
///     gort::unlock_os_thread(); // now free to move
/// })
/// .join()
/// .unwrap();
/// ```
pub fn unlock_os_thread() {
    sched::unlock_os_thread();
}

/// Support for the `gort-macros` expansions. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::chan::select::{select, RecvCase, SelectCase, SelectMode, SendCase};
    pub use crate::goroutine::{run_main, run_test};
    pub use crate::io::resolve::set_lookup_delay;
}
