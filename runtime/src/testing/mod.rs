//! testing — virtual time for tests (Go's `testing/synctest`).
//! [`run_virtual`] runs a function as the main goroutine of a *bubble*:
//! it and every goroutine it spawns (transitively) see a virtual clock
//! that moves only when every one of them is durably blocked, and then
//! jumps straight to the next timer. A test of a one-hour timeout runs in
//! milliseconds, and its outcome does not depend on how loaded the machine
//! is. `#[gort::test(virtual_time)]` runs a test body this way.
//!
//! ```
//! use std::time::Duration;
//! use gort::context;
//!
//! gort::testing::run_virtual(|| {
//!     let (ctx, _cancel) = context::background().with_timeout(Duration::from_secs(3600));
//!     let start = gort::time::now();
//!     let _ = ctx.done().recv(); // an hour, on the bubble's clock
//!     assert_eq!(gort::time::now() - start, Duration::from_secs(3600));
//!     assert_eq!(ctx.err(), Some(context::ContextError::DeadlineExceeded));
//! });
//! ```
//!
//! # What is virtual
//! Inside a bubble, on gort's clock ([`time::now`](crate::time::now)):
//! [`time::sleep`](crate::time::sleep), [`Timer`](crate::time::Timer),
//! [`Ticker`](crate::time::Ticker), `after`, `tick`, `after_func`, channel
//! `send_timeout`/`recv_timeout`, `select!` timeouts, and context deadlines
//! and timeouts. The clock starts at the real `Instant::now()` of the
//! moment the bubble was made and never runs by itself.
//!
//! # What is not
//! - `std::time::Instant::now()` and `SystemTime::now()`: std's clocks are
//!   real; read time through `gort::time::now()` in code meant to be tested
//!   this way.
//! - I/O: socket, pipe and process deadlines and timeouts are real, because
//!   the kernel decides when data comes. A goroutine waiting for I/O is not
//!   durably blocked, so while one waits the clock does not move.
//! - `std::thread::sleep`, blocking calls and spinning: the goroutine is
//!   running as far as the bubble knows.
//!
//! # Durably blocked
//! A goroutine is durably blocked while it waits on something of its own
//! bubble, which only the bubble can end: a channel made in the bubble (also
//! in `select!`, when every channel of it was), a sleep, a timer made in the
//! bubble, a join of a goroutine of the bubble, a `WaitGroup` whose adds
//! since it left zero all came from the bubble, a `Cond`, or [`wait`]. As
//! in Go 1.25, a channel, timer, context, wait group or goroutine belongs to
//! the bubble it was made in (a context derived inside from one made
//! outside belongs to the bubble): a wait on one made outside is not
//! durable, since something outside may end it, and the clock stands still
//! while it lasts. A wait for a `Mutex`, `RwLock`, `Semaphore`, `Once`, a
//! signal, I/O or a future is not durable either. So a bubble whose
//! goroutines wait for a mutex held by a durably blocked one never goes
//! idle; keep mutexes short, as Go's synctest advises. The goroutine dump
//! tells a durable channel, select, wait-group or join wait by a mark:
//! `[chan receive (durable)]`.
//!
//! The other way round is not checked: Go panics when a goroutine outside
//! the bubble uses a channel made inside; gort lets it, but a bubble
//! goroutine waiting on that channel still counts as durably blocked, so
//! the clock may jump while the outside goroutine was about to send. Keep a
//! bubble's channels to its own goroutines.
//!
//! # Deadlock
//! When every goroutine of the bubble is durably blocked and no timer is
//! pending, nothing can ever wake them: `run_virtual` panics with
//! `deadlock: all goroutines in bubble are blocked`, naming them and what
//! they wait for (`goroutine 7 [chan receive (durable)]`), where a
//! real-time test would hang. The main goroutine's return stops the clock: if others
//! are then blocked for good (even on a timer) it panics with `deadlock:
//! main bubble goroutine has exited but blocked goroutines remain`. The
//! blocked goroutines are left parked.

use std::any::Any;
use std::sync::Arc;

use crate::g::GRef;
use crate::goroutine::Builder;
use crate::m;
use crate::sched::{self, WaitReason};

pub(crate) mod bubble;

use bubble::{Bubble, Idle};

/// Runs `f` as the main goroutine of a new virtual-time bubble and returns
/// its result once every goroutine of the bubble has exited (Go's
/// `synctest.Test`). Call it from a goroutine or from a plain thread.
///
/// # Panics
/// - with `f`'s panic, if it panics;
/// - with `deadlock: ...` when the bubble's goroutines are blocked for good
///   (module docs);
/// - when called from inside a bubble.
///
/// ```
/// use std::time::Duration;
/// use gort::time::Ticker;
///
/// let ticks = gort::testing::run_virtual(|| {
///     let t = Ticker::new(Duration::from_secs(60));
///     (0..24 * 60).map(|_| t.chan().recv().unwrap()).count()
/// });
/// assert_eq!(ticks, 1440); // a day of minutes, at once
/// ```
#[track_caller]
pub fn run_virtual<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if bubble::current().is_some() {
        panic!("gort::testing::run_virtual called from inside a virtual-time bubble");
    }
    let (b, idle) = Bubble::new();
    let main = Builder::new()
        .spawn_in(Some(b.clone()), f)
        .unwrap_or_else(|e| panic!("gort: cannot start the bubble's main goroutine: {e}"));
    let outcome = drive(&b, &idle);
    b.drop_timers();
    // After `Done` or `MainExited` the main goroutine has exited, so its
    // result is there; after a deadlock it is one of the blocked.
    let result = match outcome {
        Outcome::Deadlock(msg) => panic!("{msg}"),
        Outcome::Done | Outcome::MainExited(_) => main.join(),
    };
    match (result, outcome) {
        (Err(payload), _) => resume(payload),
        (Ok(_), Outcome::MainExited(msg)) => panic!("{msg}"),
        (Ok(v), _) => v,
    }
}

/// Go's messages (synctest.go), to which gort adds who is blocked.
const DEADLOCK: &str = "deadlock: all goroutines in bubble are blocked, no timer pending";
const MAIN_EXITED: &str =
    "deadlock: main bubble goroutine has exited but blocked goroutines remain";

/// How a bubble ended.
enum Outcome {
    /// Every goroutine exited.
    Done,
    /// The main goroutine exited, and others are blocked for good.
    MainExited(String),
    /// Every goroutine is blocked for good, the main one included.
    Deadlock(String),
}

/// The driver: waits for the bubble to go idle, then moves its clock and
/// runs its timers, until every member has exited or they are blocked for
/// good.
fn drive(b: &Arc<Bubble>, idle: &crate::chan::Receiver<()>) -> Outcome {
    loop {
        match b.idle_step() {
            None => {
                // A token is sent each time the bubble goes idle; the step
                // above re-checks under the lock, so a stale one costs a loop.
                let _ = idle.recv();
            }
            Some(Idle::Done) => return Outcome::Done,
            Some(Idle::MainExitedWithBlocked(who)) => {
                return Outcome::MainExited(format!("{MAIN_EXITED} ({who})"))
            }
            Some(Idle::Deadlock(who)) => return Outcome::Deadlock(format!("{DEADLOCK} ({who})")),
            Some(Idle::Fire(due)) => b.run_timers(due),
        }
    }
}

fn resume(payload: Box<dyn Any + Send>) -> ! {
    std::panic::resume_unwind(payload)
}

/// Blocks until every other goroutine of the caller's bubble is durably
/// blocked or has exited (Go's `synctest.Wait`): the moment to check what
/// they did, before the clock moves. It does not move the clock itself.
///
/// # Panics
/// Outside a bubble, or when another goroutine of the bubble is already in
/// `wait`.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// gort::testing::run_virtual(|| {
///     let done = Arc::new(AtomicBool::new(false));
///     let d = done.clone();
///     let (tx, rx) = gort::chan::bounded::<()>(0);
///     gort::go!(move || {
///         d.store(true, Ordering::SeqCst);
///         let _ = rx.recv(); // durably blocked from here on
///     });
///     gort::testing::wait();
///     assert!(done.load(Ordering::SeqCst));
///     drop(tx);
/// });
/// ```
pub fn wait() {
    let g: GRef = match (m::current_g(), bubble::current()) {
        (Some(g), Some(_)) if g.get().bubble.is_some() => g,
        _ => panic!("gort::testing::wait called outside a virtual-time bubble"),
    };
    let b = g.get().bubble.clone().expect("checked above");
    if !b.set_waiter(g) {
        panic!("gort::testing::wait: another goroutine of the bubble is already waiting");
    }
    // Exactly one ready comes: the bubble's, when it goes idle (the park's
    // own commit may be that moment).
    sched::park(WaitReason::SynctestWait);
}
