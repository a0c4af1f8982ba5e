//! scope — [`scope`]: goroutines that borrow the caller's locals, shaped
//! like `std::thread::scope`. Go needs no such thing (its garbage collector
//! keeps borrowed data alive); Rust's borrows need a place where every
//! goroutine that borrows is known to have finished, and `scope` is that
//! place: it returns (or unwinds) only after every goroutine spawned with
//! [`Scope::go`] has finished. Meanwhile the caller parks if it is a
//! goroutine, and blocks if it is a plain thread.
//!
//! # How a child runs
//! `Scope::go` boxes the closure with its result [`Packet`] as a
//! `ScopedMain` (a `dyn ScopedBody`), erases the box's lifetime to
//! `'static`, and spawns it through the ordinary path (goroutine/spawn.rs),
//! so a scoped goroutine is a goroutine like any other: same G, stack,
//! scheduling, panic hook. Its body catches the closure's panic (as the
//! goroutine entry does), stores the result in the packet, lets go of the
//! packet and only then counts itself finished in the scope's
//! [`WaitGroup`]. `scope` waits on that WaitGroup. `<ScopedMain as
//! ScopedBody>::run`, where an optimized build inlines the closure, counts
//! as user code for signal preemption, like the goroutine entry
//! (sched/symtab.rs), so `s.go(|| loop {..})` is preempted too.
//!
//! # Panics
//! As std's scoped threads: a child's panic is caught and handed to
//! [`ScopedJoinHandle::join`] as `Err(payload)`. A panicking child whose
//! handle was dropped without `join` is recorded in the scope (when the
//! last of the child and its handle lets go of the packet), and `scope`
//! re-raises the first one recorded with `resume_unwind` after every child
//! finished (std panics with "a scoped thread panicked" instead; we keep the
//! payload). If `f` itself panics, `scope` still waits for every child, then
//! resumes `f`'s panic. A child's `go!`-style panic never touches the
//! process otherwise: gort's policy (goroutine/spawn.rs) is to catch and
//! keep every goroutine's panic for its joiner.
//!
//! # Why erasing the lifetime is sound
//! A child's closure may borrow anything that outlives `'scope`, typically
//! locals in the frames of `scope`'s caller. `scope` does not return, and
//! does not unwind (`f`'s panic is caught and resumed only after the wait),
//! before the WaitGroup reaches zero, and a child counts itself done only
//! after its last use of borrowed data: the closure has run and been
//! dropped, the result is in the packet or was dropped with it. Handles
//! cannot escape `f` (`'scope` is bound inside `f`'s higher-ranked type),
//! so a packet still held by a handle is dropped before `scope` returns.
//! What a child touches after `done` is `'static`: its `Arc<ScopeData>`
//! and the runtime's own goroutine exit (goroutine-local values are
//! `'static`).
//!
//! The borrowed frames stay put while the caller waits. A goroutine's
//! stack is carved from an mmap'd slab and never moves (Rust cannot move
//! stacks: stack/mod.rs). Checked in stack/mod.rs and sched/execute.rs:
//! pages of a stack are given back to the kernel (`MADV_DONTNEED`) only by
//! `GStack::shrink`, called in `after_exit` once its G is Dead, and by the
//! scavenger's `trim_once`, which only touches stacks sitting free in the
//! global pool; a stack goes back to a pool (`P::stack_put`,
//! `stack_free_batch`) only at its G's exit. A parked or preempted G keeps
//! its stack, frames and all, in its `GRun::Started` context. So the
//! parked parent's live frames are never released or handed to another G,
//! and a preemption suspends the parent (or a child) on its own stack, on
//! its own thread, without copying anything. A plain-thread caller's stack
//! is a thread stack that stays while the thread blocks.

#![allow(unsafe_code)]

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use crate::goroutine::join::JoinHandle;
use crate::goroutine::spawn::Builder;
use crate::sync::WaitGroup;

/// A panic payload.
type Payload = Box<dyn Any + Send + 'static>;

/// Creates a scope for spawning goroutines that borrow from the caller:
/// `std::thread::scope`'s shape, with [`Scope::go`] for `spawn`. Returns
/// `f`'s result once every goroutine spawned in the scope has finished
/// (the caller parks meanwhile, or blocks if it is a plain thread).
///
/// # Panics
/// If `f` panics, its panic is resumed once every goroutine has finished.
/// Otherwise, if a goroutine that was not joined panicked, the first such
/// payload is resumed (`std::panic::resume_unwind`) once every goroutine
/// has finished. A goroutine joined with [`ScopedJoinHandle::join`] hands
/// its panic to the joiner instead.
///
/// ```
/// let mut counts = vec![0u64; 4];
/// let data: Vec<u64> = (1..=100).collect();
/// gort::scope(|s| {
///     for (i, c) in counts.iter_mut().enumerate() {
///         let data = &data;
///         s.go(move || *c = data.iter().filter(|&&x| x % 4 == i as u64).count() as u64);
///     }
/// });
/// assert_eq!(counts, [25, 25, 25, 25]);
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData::default()),
        scope: PhantomData,
        env: PhantomData,
    };
    // Caught so that we wait for the children before unwinding (header).
    let r = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.running.wait();
    match r {
        Err(p) => panic::resume_unwind(p),
        Ok(v) => match scope.data.take_panic() {
            Some(p) => panic::resume_unwind(p),
            None => v,
        },
    }
}

/// A scope to spawn goroutines in; see [`scope`].
///
/// ```
/// let v = vec![1, 2, 3];
/// let sum = gort::scope(|s| {
///     let h = s.go(|| v.iter().sum::<i32>());
///     h.join().unwrap()
/// });
/// assert_eq!(sum, 6);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariant in `'scope` and `'env` (std's markers): the compiler may
    /// neither shrink `'scope` below what the children borrow nor stretch
    /// it past `scope`'s return.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// What a scope's children share with it.
///
/// Invariant: `running` counts the children spawned and not yet finished
/// (a child is finished once it let go of everything it borrowed);
/// `panic` holds the first panic of a child that nobody joined.
#[derive(Default)]
struct ScopeData {
    running: WaitGroup,
    panic: crate::lock::Mutex<Option<Payload>>,
}

impl ScopeData {
    /// Keeps `p` if it is the first unjoined panic; a later one is dropped
    /// (outside the lock: a payload's destructor is user code).
    #[inline(never)]
    fn record_panic(&self, p: Payload) {
        let mut slot = self.panic.lock();
        let later = match *slot {
            None => {
                *slot = Some(p);
                None
            }
            Some(_) => Some(p),
        };
        drop(slot);
        drop(later);
    }

    /// The recorded panic, if any.
    #[inline(never)]
    fn take_panic(&self) -> Option<Payload> {
        self.panic.lock().take()
    }
}

/// A child's result, shared by the child and its handle.
///
/// Invariant: `result` is written once, by the child, before it drops its
/// `Arc`; afterwards it is touched only through `&mut` (`Arc::get_mut` in
/// `join`, or `Drop` of the last `Arc`).
struct Packet<T> {
    scope: Arc<ScopeData>,
    result: UnsafeCell<Option<thread::Result<T>>>,
}

// SAFETY: the one shared access to `result` is the child's single write
// (which moves a `T` across threads: `T: Send`); every other access is
// through `&mut` after the child let go (struct invariant). `ScopeData` is
// Sync. std's scoped-thread packet has the same bound.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Drop for Packet<T> {
    fn drop(&mut self) {
        // Nobody joined: a panic goes to the scope; a value is dropped here.
        match self.result.get_mut().take() {
            Some(Err(p)) => self.scope.record_panic(p),
            other => drop(other),
        }
    }
}

/// A scoped goroutine's body, type-erased: run once, at the root of its
/// goroutine. Named by `goroutine::entry_symbol_names` (user code).
pub(crate) trait ScopedBody {
    /// Runs the closure and finishes the child (module header).
    fn run(self: Box<Self>);
}

/// A scoped goroutine's closure and where its result goes.
pub(crate) struct ScopedMain<F, T> {
    f: F,
    packet: Arc<Packet<T>>,
    data: Arc<ScopeData>,
}

impl<F, T> ScopedBody for ScopedMain<F, T>
where
    F: FnOnce() -> T,
{
    /// The closure runs here (inlined in an optimized build: this method
    /// counts as user code, sched/symtab.rs); the runtime work is out of
    /// line, in `child_finish`.
    fn run(self: Box<Self>) {
        let ScopedMain { f, packet, data } = *self;
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        child_finish(packet, r, data);
    }
}

/// A child's last steps: publish the result, let go of the packet (which
/// may drop the result, if the handle is gone), then count the child
/// finished. Nothing after `done` touches data borrowed from the scope.
#[inline(never)]
fn child_finish<T>(packet: Arc<Packet<T>>, r: thread::Result<T>, data: Arc<ScopeData>) {
    // SAFETY: the child is the one writer, writing once, before it drops
    // its Arc (Packet's invariant); the handle reads only after that.
    unsafe { *packet.result.get() = Some(r) };
    // A destructor run by this drop (the result's, a payload's) must not
    // skip `done`: its panic becomes the scope's.
    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(move || drop(packet))) {
        data.record_panic(p);
    }
    data.running.done();
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a goroutine that may borrow anything that outlives the scope
    /// (Go's `go f()`, std's `Scope::spawn`). Returns a handle to join it;
    /// dropping the handle does not detach it from the scope, which still
    /// waits for it (and re-raises its panic).
    ///
    /// # Panics
    /// If the goroutine cannot be spawned (its stack cannot be guarded:
    /// see [`Builder::spawn`]), as `gort::spawn` does.
    ///
    /// ```
    /// let mut log = Vec::new();
    /// let n = 10;
    /// gort::scope(|s| {
    ///     let h = s.go(|| (0..n).sum::<u32>()); // borrows `n`
    ///     s.go(|| log.push("side job")); // borrows `log` mutably
    ///     assert_eq!(h.join().unwrap(), 45);
    /// });
    /// assert_eq!(log, ["side job"]);
    /// ```
    #[track_caller]
    pub fn go<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            scope: self.data.clone(),
            result: UnsafeCell::new(None),
        });
        let main = ScopedMain {
            f,
            packet: packet.clone(),
            data: self.data.clone(),
        };
        let body: Box<dyn ScopedBody + Send + 'scope> = Box::new(main);
        // SAFETY: only the lifetime changes (same vtable, same layout). The
        // body's borrows live for 'scope, and `scope` neither returns nor
        // unwinds before this child has counted itself done, which it does
        // after its last use of them (module header); the count is taken
        // before the spawn, so the wait cannot miss it.
        let body: Box<dyn ScopedBody + Send + 'static> = unsafe { std::mem::transmute(body) };
        self.data.running.add(1);
        match Builder::new().spawn(move || body.run()) {
            Ok(inner) => ScopedJoinHandle {
                inner,
                packet,
                _scope: PhantomData,
            },
            Err(e) => {
                // The body was dropped unrun inside `spawn`.
                self.data.running.done();
                panic!("gort: failed to spawn a goroutine: {e}");
            }
        }
    }
}

/// An owned permission to join a goroutine spawned in a [`scope`]:
/// `std::thread::ScopedJoinHandle`.
///
/// ```
/// let words = ["a", "bb", "ccc"];
/// let total = gort::scope(|s| {
///     let hs: Vec<_> = words.iter().map(|w| s.go(move || w.len())).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
/// });
/// assert_eq!(total, 6);
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    /// The goroutine (its own result is `()`; ours is in `packet`).
    inner: JoinHandle<()>,
    packet: Arc<Packet<T>>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine to finish and returns its result, or `Err`
    /// with its panic payload (which then does not reach [`scope`]). Parks
    /// a goroutine; blocks a plain thread.
    ///
    /// ```
    /// let r = gort::scope(|s| s.go(|| -> u8 { panic!("caught") }).join());
    /// let payload = r.unwrap_err(); // scope itself did not panic
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"caught"));
    /// ```
    pub fn join(mut self) -> thread::Result<T> {
        // The goroutine's own result is Err only if a goroutine-local
        // value's destructor panicked after the closure (goroutine/join.rs).
        let exit = self.inner.join();
        // The child dropped its Arc before its goroutine finished.
        let packet = Arc::get_mut(&mut self.packet);
        let packet = packet.expect("gort: a finished scoped goroutine still holds its result");
        let r = packet.result.get_mut().take();
        let r = r.expect("gort: a finished scoped goroutine left no result");
        exit.and(r)
    }

    /// True once the goroutine's closure has returned or panicked (its
    /// result is ready).
    ///
    /// ```
    /// gort::scope(|s| {
    ///     let h = s.go(|| 1);
    ///     while !h.is_finished() {
    ///         gort::yield_now();
    ///     }
    ///     assert_eq!(h.join().unwrap(), 1);
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        // The child drops its reference once the result is stored.
        Arc::strong_count(&self.packet) == 1
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.inner.id())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running)
            .finish_non_exhaustive()
    }
}
