//! block_on — runs a future to completion on the calling goroutine (or
//! thread): polls it there and, while it is pending, parks the goroutine,
//! not the thread, so the M runs other goroutines meanwhile. The future's
//! wakers ready the goroutine (bridge/waker.rs).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use super::waker::{LocalWaker, Owner};
use crate::sched::{self, WaitReason};

/// Runs `fut` to completion and returns its output: Go's model meets async
/// Rust. On a goroutine, while the future is pending the goroutine parks and
/// its M runs other goroutines; a wake from any thread (a plain thread,
/// another runtime's worker, a goroutine) readies it. On a plain thread it
/// blocks the thread. Calls nest.
///
/// Futures that need tokio's reactor or timers run here with the `tokio`
/// feature of the `gort` crate (docs/ASYNC.md).
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel::<u32>();
/// let h = gort::go!(move || {
///     let fut = std::future::poll_fn(|cx| match rx.try_recv() {
///         Ok(v) => std::task::Poll::Ready(v),
///         Err(_) => {
///             let w = cx.waker().clone();
///             std::thread::spawn(move || w.wake());
///             std::task::Poll::Pending
///         }
///     });
///     gort::block_on(fut)
/// });
/// tx.send(7).unwrap();
/// assert_eq!(h.join().unwrap(), 7);
/// assert_eq!(gort::block_on(async { 40 + 2 }), 42);
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let local = LocalWaker::new(Owner::current());
    let waker = local.as_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = poll_once(fut.as_mut(), &mut cx) {
            return v;
        }
        if local.take_woken() {
            continue;
        }
        match local.shared() {
            Some(signal) => signal.wait(),
            // Pending, and it kept no waker: nothing can ever wake it.
            None => wait_forever(),
        }
    }
}

/// One poll, inside tokio's context with the `tokio` feature.
#[inline]
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    #[cfg(feature = "tokio")]
    let _tokio = super::tokio::Context::enter();
    fut.poll(cx)
}

/// A future that returned pending and kept no waker never completes: the
/// goroutine parks for good (the deadlock check sees it), a thread sleeps.
fn wait_forever() -> ! {
    loop {
        if crate::m::current_g().is_some() {
            sched::park(WaitReason::BlockOn);
        } else {
            std::thread::park();
        }
    }
}
