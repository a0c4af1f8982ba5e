//! spawn — making goroutines: [`spawn`], [`Builder`], the `go!` macro's
//! target, and the one policy for a goroutine that panics.
//!
//! Spawning allocates the G (a closure and a few words: no stack until it first
//! runs) and queues it in the spawning P's `runnext`, like Go's `newproc`; from
//! a plain thread it goes to the global queue. Either way `wake_p` starts an
//! idle P if nobody is looking for work.
//!
//! # Panic policy
//! The entry wrapper catches a panic at the goroutine's root (so nothing ever
//! unwinds into the scheduler), stores the payload for `join` (which returns
//! `Err(payload)`, as `std::thread` does) and the runtime keeps going. The
//! message is printed by gort's panic hook, installed when the runtime starts
//! and chained to the previous hook for panics outside goroutines:
//! `goroutine 7 'name' panicked at src/main.rs:3:5:` then the message.

#![forbid(unsafe_code)]

use std::io;
use std::panic::{self, Location, PanicHookInfo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::g::G;
use crate::goroutine::join::{JoinHandle, Task};
use crate::sched::{self, sched};
use crate::stack::{check_stack_size, stack_admit};
use crate::testing::bubble::{self, Bubble};

/// Goroutine factory with options, like `std::thread::Builder`.
///
/// ```
/// let h = gort::Builder::new()
///     .name("worker")
///     .stack_size(1 << 20)
///     .spawn(|| 1 + 1)
///     .unwrap();
/// assert_eq!(h.name(), Some("worker"));
/// assert_eq!(h.join().unwrap(), 2);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with the defaults (no name, the default stack size).
    ///
    /// ```
    /// let h = gort::Builder::new().spawn(|| 40 + 2).unwrap();
    /// assert_eq!(h.name(), None);
    /// assert_eq!(h.join().unwrap(), 42);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine (shown in panic reports).
    ///
    /// ```
    /// let h = gort::Builder::new()
    ///     .name(format!("worker-{}", 3))
    ///     .spawn(|| ())
    ///     .unwrap();
    /// assert_eq!(h.name(), Some("worker-3"));
    /// h.join().unwrap();
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Sets the stack size in bytes (virtual; committed as touched). Sizes
    /// below [`MIN_STACK_SIZE`](crate::MIN_STACK_SIZE) make `spawn` fail.
    ///
    /// ```
    /// let left = gort::Builder::new()
    ///     .stack_size(4 << 20)
    ///     .spawn(|| gort::debug::remaining_stack().unwrap())
    ///     .unwrap()
    ///     .join()
    ///     .unwrap();
    /// assert!(left > 3 << 20 && left < 4 << 20);
    /// let err = gort::Builder::new().stack_size(4096).spawn(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns the goroutine. Fails with `InvalidInput` for a stack size out of
    /// range (the message names the limit), and with `OutOfMemory` when its
    /// stack could not get a guard page: on kernels without
    /// `MADV_GUARD_INSTALL` each guard costs mappings, and the message names the
    /// `vm.max_map_count` sysctl to raise.
    ///
    /// ```
    /// let h = gort::Builder::new()
    ///     .name("sum")
    ///     .spawn(|| (1..=10).sum::<u32>())
    ///     .unwrap();
    /// assert_eq!(h.join().unwrap(), 55);
    /// let err = gort::Builder::new().stack_size(usize::MAX).spawn(|| ()).unwrap_err();
    /// assert!(err.to_string().contains("maximum"));
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_in(bubble::current(), f)
    }

    /// Spawns the goroutine into `bubble` (testing/bubble.rs): the caller's
    /// for user goroutines, None for runtime goroutines that serve the
    /// whole process, a new one for `run_virtual`'s main goroutine.
    #[track_caller]
    pub(crate) fn spawn_in<F, T>(
        self,
        bubble: Option<Arc<Bubble>>,
        f: F,
    ) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let created_by = Location::caller();
        let s = sched();
        let stack_size = match self.stack_size {
            Some(n) => check_stack_size(n)?,
            None => s.cfg.stack_size,
        };
        stack_admit(s.ngoroutine(), s.gomaxprocs())?;
        let name: Option<Arc<str>> = self.name.map(Arc::from);
        let task = Task::new(f);
        let g = G::new_ref(
            task.clone(),
            name.clone(),
            stack_size,
            created_by,
            sched::gfget(),
            bubble,
        );
        if let Some(b) = &g.get().bubble {
            b.spawned(g.get().id, g.get().info);
        }
        let handle = JoinHandle::new(task, g.get().id, name);
        sched::new_g_ready(g);
        Ok(handle)
    }
}

/// Spawns a goroutine running `f` and returns its [`JoinHandle`]. Go's
/// `go f()`; `go!` is the same call.
///
/// ```
/// let hs: Vec<_> = (0..10u64).map(|i| gort::spawn(move || i * i)).collect();
/// let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 285);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("gort: failed to spawn a goroutine: {e}"),
    }
}

/// True once the "run with RUST_BACKTRACE" note was printed. Relaxed: a
/// best-effort once-only flag.
static NOTE_PRINTED: AtomicBool = AtomicBool::new(false);

/// Chains gort's goroutine-aware reporter in front of the current hook.
pub(crate) fn install_panic_hook() {
    let prev = panic::take_hook();
    panic::set_hook(Box::new(move |info| match crate::m::current_g() {
        Some(g) => report(g.get(), info),
        None => prev(info),
    }));
}

/// Prints a goroutine's panic the way std prints a thread's.
fn report(g: &G, info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let name = g
        .name
        .as_deref()
        .map(|n| format!(" '{n}'"))
        .unwrap_or_default();
    let at = info
        .location()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    let bt = std::backtrace::Backtrace::capture();
    let tail = if bt.status() == std::backtrace::BacktraceStatus::Captured {
        format!("\nstack backtrace:\n{bt}")
    } else if !NOTE_PRINTED.swap(true, Ordering::Relaxed) {
        "\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace".into()
    } else {
        String::new()
    };
    eprintln!("goroutine {}{name} panicked{at}:\n{msg}{tail}", g.id);
}
