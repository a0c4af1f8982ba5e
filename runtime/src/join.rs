//! join — [`JoinHandle`]: waiting for a goroutine's result.
//!
//! A goroutine's [`Task`] is its only allocation besides the (recycled) G: it
//! holds the closure, then the result — the value, or the panic payload — and
//! the joiner to wake. The handle holds only the task, never the G, so a
//! finished G is recycled at once.
//! `join` parks a goroutine and blocks a plain thread (waiter.rs).

#![forbid(unsafe_code)]

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use parking_lot::Mutex;

use crate::g::Entry;
use crate::waiter::{self, Waiter};

/// A goroutine's task: its closure until it starts, then its result, and
/// the joiner waiting for it. One allocation per goroutine, shared by the G
/// (as its [`Entry`]) and the [`JoinHandle`] (as a [`Joinable`]).
pub(crate) struct Task<F, T> {
    state: Mutex<TaskState<F, T>>,
}

struct TaskState<F, T> {
    /// The closure; taken when the goroutine starts.
    f: Option<F>,
    /// Set once, by the goroutine, when it finishes.
    result: Option<thread::Result<T>>,
    /// True once `result` was set (it may have been taken since).
    done: bool,
    /// The joiner, if one waits.
    waiter: Option<Waiter>,
}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(f: F) -> Arc<Task<F, T>> {
        Arc::new(Task {
            state: Mutex::new(TaskState {
                f: Some(f),
                result: None,
                done: false,
                waiter: None,
            }),
        })
    }

    /// Takes the closure to run. Out of line, as `finish`: `run` below is
    /// instantiated in the user's crate with the user's closure inlined into
    /// it, and counts as user code for preemption (symtab.rs), so it must
    /// not itself hold the task's lock.
    #[inline(never)]
    fn take_f(&self) -> Option<F> {
        self.state.lock().f.take()
    }

    /// Stores the result and wakes the joiner. Called once. Out of line
    /// (see `take_f`).
    #[inline(never)]
    fn finish(&self, r: thread::Result<T>) {
        let mut st = self.state.lock();
        st.result = Some(r);
        st.done = true;
        let w = st.waiter.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<F, T> Entry for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// The goroutine's body: run the closure, catching a panic (spawn.rs's
    /// policy), then publish the result. In an optimized build the closure
    /// is inlined here, so symtab.rs counts this function as user code; it
    /// holds no lock of its own (`take_f`, `finish`).
    fn run(&self) {
        let f = self.take_f();
        let Some(f) = f else {
            crate::debug::throw("runtime: goroutine entry run twice");
        };
        let mut r = panic::catch_unwind(AssertUnwindSafe(f));
        // Goroutine-local values die with the goroutine, before join sees it.
        if let Err(p) = panic::catch_unwind(crate::local::drop_all) {
            r = r.and(Err(p));
        }
        self.finish(r);
    }
}

/// The handle's view of a task, independent of the closure's type.
trait Joinable<T>: Send + Sync {
    /// The result if ready, else registers `w` (if none is registered).
    fn take_or_wait(&self, w: &mut Option<Waiter>) -> Option<thread::Result<T>>;
    /// True once finished.
    fn done(&self) -> bool;
}

impl<F, T> Joinable<T> for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn take_or_wait(&self, w: &mut Option<Waiter>) -> Option<thread::Result<T>> {
        let mut st = self.state.lock();
        if let Some(r) = st.result.take() {
            return Some(r);
        }
        if st.waiter.is_none() {
            st.waiter = w.take();
        }
        None
    }

    fn done(&self) -> bool {
        self.state.lock().done
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
        }
    }

    /// Waits for the goroutine to finish and returns its result, or `Err`
    /// with the panic payload if it panicked (as `std::thread::JoinHandle`).
    /// On a goroutine this parks only the goroutine; on a plain thread it
    /// blocks the thread.
    pub fn join(self) -> thread::Result<T> {
        let mut me = Some(Waiter::current());
        loop {
            if let Some(r) = self.packet.take_or_wait(&mut me) {
                return r;
            }
            waiter::block(crate::sched::WaitReason::Join);
        }
    }

    /// True once the goroutine has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.packet.done()
    }

    /// The goroutine's id (as in Go's tracebacks: goroutine 1 is main).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The goroutine's name, if it was given one with `Builder::name`.
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
