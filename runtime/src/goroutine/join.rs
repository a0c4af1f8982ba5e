//! join — [`JoinHandle`]: waiting for a goroutine's result.
//!
//! A goroutine's [`Task`] is its only allocation besides the (recycled) G: it
//! holds the closure, then the result — the value, or the panic payload — and
//! the joiner to wake. The handle holds only the task, never the G, so a
//! finished G is recycled at once.
//! `join` parks a goroutine and blocks a plain thread (wait/waiter.rs).

use std::cell::UnsafeCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;

use atomic_waker::AtomicWaker;

use crate::g::Entry;
use crate::loom::{AtomicU8, UnsafeCell as CheckedUnsafeCell};
use crate::testing::bubble;
use crate::wait::waiter::{self, Waiter};

/// `Task::state` bit: the result is written.
const DONE: u8 = 1;
/// `Task::state` bit: a joiner's waiter is written.
const WAITING: u8 = 2;

/// A goroutine's task: its closure until it starts, then its result, and
/// the joiner waiting for it. One allocation per goroutine, shared by the G
/// (as its [`Entry`]) and the [`JoinHandle`] (as a [`Joinable`]).
///
/// No lock: a oneshot. The goroutine writes `result`, then sets `DONE`; the
/// (only) joiner writes `waiter`, then sets `WAITING`. Each side reads the
/// other's cell only after seeing the other's bit (AcqRel `fetch_or` on
/// both sides, so exactly one of them sees both bits: that one finishes the
/// exchange — the goroutine wakes the waiter, or the joiner takes the result
/// without sleeping).
pub(crate) struct Task<F, T> {
    /// DONE | WAITING, each set once.
    state: AtomicU8,
    /// The closure; taken once, by the goroutine when it starts. Touched by
    /// nobody else (the handle never sees it).
    f: UnsafeCell<Option<F>>,
    /// Written once by the goroutine before DONE; taken by the joiner after
    /// it sees DONE.
    result: CheckedUnsafeCell<Option<thread::Result<T>>>,
    /// Written once by the joiner before WAITING; taken by the goroutine
    /// after it sees WAITING (else dropped with the task).
    waiter: CheckedUnsafeCell<Option<Waiter>>,
}

// SAFETY: the cells are reached under the protocol above: `f` only by the
// goroutine's single run; `result` and `waiter` each by one writer, then one
// reader after an Acquire that sees the writer's Release bit. Values cross
// threads, so F, T and Waiter must be Send (Waiter is).
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(f: F) -> Arc<Task<F, T>> {
        Arc::new(Task {
            state: AtomicU8::new(0),
            f: UnsafeCell::new(Some(f)),
            result: CheckedUnsafeCell::new(None),
            waiter: CheckedUnsafeCell::new(None),
        })
    }

    /// Stores the result and wakes the joiner. Called once. Out of line:
    /// `run` below is instantiated in the user's crate with the user's
    /// closure inlined into it, and counts as user code for preemption
    /// (sched/symtab.rs); waking is runtime work and must not be.
    #[inline(never)]
    fn finish(&self, r: thread::Result<T>) {
        // SAFETY: only this goroutine writes `result`, once, and the joiner
        // reads it only after seeing DONE, which is set below (Release).
        self.result.with_mut(|p| unsafe { *p = Some(r) });
        // AcqRel: Release publishes `result`; Acquire sees the joiner's
        // `waiter` if WAITING was set first.
        let prev = self.state.fetch_or(DONE, Ordering::AcqRel);
        if prev & WAITING != 0 {
            // SAFETY: WAITING was set after the joiner wrote `waiter` and it
            // touches it no more; we are the only reader.
            if let Some(w) = self.waiter.with_mut(|p| unsafe { (*p).take() }) {
                w.wake();
            }
        }
    }
}

impl<F, T> Entry for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// The goroutine's body: run the closure, catching a panic (goroutine/spawn.rs's
    /// policy), then publish the result. In an optimized build the closure
    /// is inlined here, so sched/symtab.rs counts this function as user code; it
    /// takes no lock, and wakes the joiner out of line (`finish`).
    fn run(&self) {
        // SAFETY: `f` is touched only here, and a goroutine's entry runs
        // once (the G's GRun::Fresh is consumed when it starts).
        let f = unsafe { (*self.f.get()).take() };
        let Some(f) = f else {
            crate::throw::throw("runtime: goroutine entry run twice");
        };
        let mut r = panic::catch_unwind(AssertUnwindSafe(f));
        // Goroutine-local values die with the goroutine, before join sees it.
        if let Err(p) = panic::catch_unwind(crate::goroutine::local::drop_all) {
            r = r.and(Err(p));
        }
        self.finish(r);
    }
}

/// The handle's view of a task, independent of the closure's type.
trait Joinable<T>: Send + Sync {
    /// The result if ready, else registers `w` (if none is registered).
    /// Called only by the task's one handle.
    fn take_or_wait(&self, w: &mut Option<Waiter>) -> Option<thread::Result<T>>;
    /// True once finished.
    fn done(&self) -> bool;
}

impl<F, T> Task<F, T> {
    /// Takes the result (the joiner, after seeing DONE with Acquire).
    fn take_result(&self) -> Option<thread::Result<T>> {
        // SAFETY: DONE was seen with Acquire, so the goroutine's write is
        // visible and it writes no more; the one handle is the only reader.
        let r = self.result.with_mut(|p| unsafe { (*p).take() });
        if r.is_none() {
            crate::throw::throw("runtime: goroutine result taken twice");
        }
        r
    }
}

impl<F, T> Joinable<T> for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn take_or_wait(&self, w: &mut Option<Waiter>) -> Option<thread::Result<T>> {
        // Acquire: pairs with `finish`'s Release.
        let s = self.state.load(Ordering::Acquire);
        if s & DONE != 0 {
            return self.take_result();
        }
        if s & WAITING != 0 {
            return None; // registered already (a thread's spurious wake-up)
        }
        let me = w.take()?;
        // SAFETY: before WAITING is set nobody else reads `waiter`; the one
        // handle writes it once.
        self.waiter.with_mut(|p| unsafe { *p = Some(me) });
        // AcqRel: Release publishes `waiter`; Acquire sees `result` if DONE
        // came first (then `finish` did not see WAITING: the waiter stays
        // unread and we do not sleep).
        let prev = self.state.fetch_or(WAITING, Ordering::AcqRel);
        if prev & DONE != 0 {
            return self.take_result();
        }
        None
    }

    fn done(&self) -> bool {
        self.state.load(Ordering::Acquire) & DONE != 0
    }
}

/// An owned permission to join a goroutine (wait for it and take its result),
/// like `std::thread::JoinHandle`. Dropping it detaches the goroutine.
///
/// ```
/// let h = gort::go!(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    packet: Arc<dyn Joinable<T>>,
    id: u64,
    name: Option<Arc<str>>,
    /// Awaited: the waker slot registered as the joiner (bridge/).
    task_waker: Option<Arc<AtomicWaker>>,
    /// Awaited to completion: the result is gone.
    taken: bool,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new<F>(task: Arc<Task<F, T>>, id: u64, name: Option<Arc<str>>) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        JoinHandle {
            packet: task,
            id,
            name,
            task_waker: None,
            taken: false,
        }
    }

    /// Waits for the goroutine to finish and returns its result, or `Err`
    /// with the panic payload if it panicked (as `std::thread::JoinHandle`).
    /// On a goroutine this parks only the goroutine; on a plain thread it
    /// blocks the thread.
    ///
    /// ```
    /// assert_eq!(gort::go!(|| "done").join().unwrap(), "done");
    /// let bad = gort::go!(|| -> u8 { panic!("boom") });
    /// let payload = bad.join().unwrap_err();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn join(self) -> thread::Result<T> {
        if self.task_waker.is_some() {
            // Polled as a future before: its waker slot is the registered
            // joiner, so wait the way a future does.
            return crate::block_on(self);
        }
        let mut me = Some(Waiter::current());
        loop {
            if let Some(r) = self.packet.take_or_wait(&mut me) {
                return r;
            }
            let own = bubble::has_member(self.id);
            waiter::block(crate::sched::WaitReason::Join.bubbled(own));
        }
    }

    /// True once the goroutine has finished (its result is ready).
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<()>(0);
    /// let h = gort::go!(move || rx.recv().unwrap());
    /// assert!(!h.is_finished()); // still waiting for the message
    /// tx.send(()).unwrap();
    /// while !h.is_finished() {
    ///     gort::yield_now();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet.done()
    }

    /// The goroutine's id (as in Go's tracebacks: goroutine 1 is main).
    ///
    /// ```
    /// let (a, b) = (gort::go!(|| ()), gort::go!(|| ()));
    /// assert!(a.id() >= 1);
    /// assert!(b.id() > a.id()); // ids count up, as Go's goids
    /// a.join().unwrap();
    /// b.join().unwrap();
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The goroutine's name, if it was given one with `Builder::name`.
    ///
    /// ```
    /// let named = gort::Builder::new().name("fetcher").spawn(|| ()).unwrap();
    /// assert_eq!(named.name(), Some("fetcher"));
    /// let anon = gort::go!(|| ());
    /// assert_eq!(anon.name(), None);
    /// named.join().unwrap();
    /// anon.join().unwrap();
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Model checks of the join oneshot (runtime/src/loom.rs): the goroutine's
/// `finish` racing the handle's `join` or drop, on the real `Task` with its
/// cells checked by loom and the joiner parking loom's thread.
/// Async code awaits a goroutine: the output is what [`JoinHandle::join`]
/// returns, and the executor's thread is never blocked.
///
/// ```
/// let h = gort::go!(|| 6 * 7);
/// // Any executor; here gort's own.
/// let v = gort::block_on(async move { h.await.unwrap() });
/// assert_eq!(v, 42);
/// ```
impl<T> Future for JoinHandle<T> {
    type Output = thread::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.taken {
            panic!("gort: JoinHandle polled after it completed");
        }
        // Register the waker first, then look: a finish in between wakes it.
        let first = this.task_waker.is_none();
        let slot = this
            .task_waker
            .get_or_insert_with(|| Arc::new(AtomicWaker::new()));
        slot.register(cx.waker());
        let mut me = first.then(|| Waiter::Task(slot.clone()));
        match this.packet.take_or_wait(&mut me) {
            Some(r) => {
                this.taken = true;
                Poll::Ready(r)
            }
            None => Poll::Pending,
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// A value that counts its drops.
    struct Counted(loom::sync::Arc<loom::sync::atomic::AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counted_task() -> (
        Arc<Task<impl FnOnce() -> Counted + Send + 'static, Counted>>,
        loom::sync::Arc<loom::sync::atomic::AtomicUsize>,
    ) {
        let drops = loom::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        // The closure is never run: the model calls `finish` itself.
        let never = |d| move || Counted(d);
        (Task::new(never(drops.clone())), drops)
    }

    /// `JoinHandle::join` on a plain thread (it parks on loom's `park`)
    /// racing `finish`: either the joiner takes the result at once, or it
    /// registered first and `finish` wakes it (no lost wake-up); the result
    /// it gets is the one written, dropped once.
    /// Caught: `finish` skipping the wake when it sees WAITING (loom: the
    /// joiner sleeps forever, a deadlock); `finish`'s `fetch_or` with
    /// Relaxed (the joiner reads the result unordered); the joiner's
    /// `fetch_or` with Relaxed (`finish` reads the waiter unordered): loom
    /// reports both as causality violations.
    #[test]
    fn loom_finish_races_join() {
        loom::model(|| {
            let (task, drops) = counted_task();
            let goroutine = {
                let (task, drops) = (task.clone(), drops.clone());
                loom::thread::spawn(move || task.finish(Ok(Counted(drops))))
            };
            let r = JoinHandle::new(task, 1, None).join();
            assert!(r.is_ok());
            assert_eq!(drops.load(Ordering::Relaxed), 0, "result dropped early");
            drop(r);
            assert_eq!(drops.load(Ordering::Relaxed), 1);
            goroutine.join().unwrap();
        });
    }

    /// The handle dropped (the goroutine detached) while the goroutine
    /// finishes: the result is dropped exactly once, with the task.
    /// Caught: `finish` leaking the result it stored (count 0).
    #[test]
    fn loom_finish_races_handle_drop() {
        loom::model(|| {
            let (task, drops) = counted_task();
            let goroutine = {
                let (task, drops) = (task.clone(), drops.clone());
                loom::thread::spawn(move || task.finish(Ok(Counted(drops))))
            };
            drop(JoinHandle::new(task, 1, None));
            goroutine.join().unwrap();
            assert_eq!(drops.load(Ordering::Relaxed), 1, "result not dropped once");
        });
    }
}
