//! tokio — futures that need tokio's reactor or timers (tokio::net,
//! tokio::time, and what is built on them: reqwest, hyper, tonic) run inside
//! `block_on` unchanged (feature `tokio`). While it polls, `block_on` enters
//! a tokio runtime's context, so such a future registers its socket or timer
//! with that runtime; the runtime's own threads drive the reactor and the
//! timers, and their wake-ups reach the goroutine through its waker
//! (bridge/waker.rs). The runtime is a small one gort starts on first use
//! (one worker thread), or the program's own, given with
//! [`set_tokio_handle`].
//!
//! The context is entered for one poll at a time, and the goroutine is
//! locked to its thread meanwhile (`lock_os_thread`): tokio keeps it in a
//! thread-local, so an `EnterGuard` never lives across a goroutine switch to
//! another thread, even when the future itself calls `block_on`.

use std::sync::OnceLock;

use tokio::runtime::{Builder, EnterGuard, Handle};

/// The runtime `block_on` enters (module header).
static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Makes `handle` the tokio runtime whose reactor and timers the futures
/// run by [`block_on`](crate::block_on) use. Call it before the first such
/// future runs; false (and nothing changes) if a runtime was already chosen.
/// Use a multi-thread runtime: its worker threads drive the reactor while
/// goroutines wait. Without a call, gort starts a one-thread runtime of its
/// own on first use.
///
/// ```
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// assert!(gort::compat::set_tokio_handle(rt.handle().clone()));
/// let t = gort::go!(|| {
///     gort::block_on(async {
///         tokio::time::sleep(std::time::Duration::from_millis(1)).await;
///         7
///     })
/// });
/// assert_eq!(t.join().unwrap(), 7);
/// ```
pub fn set_tokio_handle(handle: Handle) -> bool {
    HANDLE.set(handle).is_ok()
}

/// The chosen runtime's handle, starting gort's own on first use.
fn handle() -> &'static Handle {
    HANDLE.get_or_init(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("gort-tokio")
            .enable_all()
            .build()
            .unwrap_or_else(|e| {
                crate::throw::warn(&format!("gort: cannot start a tokio runtime: {e}"));
                crate::throw::throw("gort: block_on needs a tokio runtime")
            });
        // It serves the whole process: never shut down.
        let h = rt.handle().clone();
        std::mem::forget(rt);
        h
    })
}

/// The tokio context for one poll: entered unless the thread is in one
/// already (a tokio worker or `spawn_blocking` thread calling `block_on`).
pub(crate) struct Context {
    guard: Option<EnterGuard<'static>>,
}

impl Context {
    pub(crate) fn enter() -> Context {
        if Handle::try_current().is_ok() {
            return Context { guard: None };
        }
        crate::lock_os_thread();
        Context {
            guard: Some(handle().enter()),
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            drop(g);
            crate::unlock_os_thread();
        }
    }
}
