//! deadlock — Go's `checkdead`: when the program runs under `#[gort::main]`
//! and every goroutine is blocked with nothing left that could wake one, print
//! `fatal error: all goroutines are asleep - deadlock!` and exit with status 2,
//! as Go does.
//!
//! # When the check runs
//! `stop_m` (sched/handoff.rs) calls [`check_dead`] each time an M has put itself on
//! the idle list, just before it parks: the last M to go idle is the one that
//! can see the deadlock. So does a thread that is not an M when it retires
//! the last pending external waker (a plain thread cancelling the last timer,
//! sysmon delivering the last netpoll waiter), because that may happen after
//! the last M looked. (Timers have no thread of their own: an M runs them,
//! time/timers.rs.) The check
//! costs a fence and two atomic loads unless the program is really idle.
//!
//! # What "nothing can wake a goroutine" means
//! All of these, read twice with a yield in between and unchanged:
//! 1. `main` runs under `#[gort::main]` and has not returned ([`run_as_main`]
//!    sets the flag; a finished main is an exiting program, not a deadlock);
//! 2. no *external waker* is pending: a live timer (time/timers.rs) or a netpoll
//!    waiter (io/netpoll.rs). Subsystems that can wake a goroutine from outside
//!    the scheduler count themselves with [`external_add`] /
//!    [`external_done`]. (A blocking call in flight needs no count: its M is
//!    busy in the call, not idle, so condition 3 fails);
//! 3. every M is idle, none spins, the global run queue is empty and at least
//!    one goroutine exists. (An idle P's local queue is empty: only its holder
//!    pushes there, and it leaves only after finding the queue empty.)
//!
//! The scheduler's counters are read without its lock, so a single reading
//! could mix two moments. Reading everything twice and requiring the
//! monotonic counters (time slices run, goroutines spawned, external wakers
//! ever added) and the live M count not to have moved rules that out: any
//! goroutine that ran, or any waker that came and went, in between changes
//! one of them. A
//! real deadlock is permanent, so the second look costs nothing.
//!
//! # Limitation (documented in docs/FROM-GO.md)
//! Go has no plain threads; gort does. A `std::thread` that will later send on
//! a channel a goroutine waits on is invisible here, so a program under
//! `#[gort::main]` whose goroutines all wait for such a thread is reported as
//! deadlocked. Do that work in a goroutine, or run without `#[gort::main]`.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::sched::sched;

/// True while `main` runs under `#[gort::main]`. SeqCst: read by the check
/// together with the other counters.
static MAIN_RUNNING: AtomicBool = AtomicBool::new(false);
/// External wakers pending now (timers; later blocking calls and netpoll).
/// SeqCst: the check's reading must not be reordered with the scheduler's.
static EXTERNAL: AtomicUsize = AtomicUsize::new(0);
/// External wakers ever added; a generation count for the double reading.
/// SeqCst, like `EXTERNAL`, which it is read together with.
static EXTERNAL_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The message, as Go prints it.
const MESSAGE: &[u8] = b"fatal error: all goroutines are asleep - deadlock!\n";
/// Go's exit status for a fatal runtime error.
const EXIT_STATUS: i32 = 2;

/// Runs the body of `#[gort::main]`'s goroutine with deadlock detection on.
/// Detection ends when the body returns or unwinds.
pub(crate) fn run_as_main<R>(body: impl FnOnce() -> R) -> R {
    struct MainDone;
    impl Drop for MainDone {
        fn drop(&mut self) {
            MAIN_RUNNING.store(false, Ordering::SeqCst);
        }
    }
    MAIN_RUNNING.store(true, Ordering::SeqCst);
    let _done = MainDone;
    body()
}

/// A subsystem will (or may) wake a goroutine from outside the scheduler:
/// a timer was armed, a blocking call started. Pair with [`external_done`].
pub(crate) fn external_add() {
    EXTERNAL_EPOCH.fetch_add(1, Ordering::SeqCst);
    EXTERNAL.fetch_add(1, Ordering::SeqCst);
}

/// The waker registered by [`external_add`] has fired (after it readied its
/// goroutine) or was cancelled.
///
/// The last external waker going away must be followed by a check: the last
/// M may have gone idle (and checked, seeing this waker still pending) just
/// before. An M that drops the count will itself check when it goes idle;
/// any other thread (sysmon after its netpoll, a plain thread cancelling a
/// timeout) checks here. With the SeqCst fence in `check_dead`, of the M going idle
/// and this decrement, the later one sees the other (a store-buffering pair),
/// so a deadlock is never missed.
pub(crate) fn external_done() {
    match EXTERNAL.fetch_sub(1, Ordering::SeqCst) {
        0 => crate::throw::throw("runtime: external waker count went negative"),
        1 if crate::m::current().is_none() => check_dead(),
        _ => {}
    }
}

/// One reading of everything the verdict depends on.
#[derive(PartialEq, Eq, Debug)]
struct Quiet {
    epoch: u64,
    ran: u64,
    spawned: u64,
    threads: usize,
}

/// Reads the state; Some if it looks deadlocked.
fn observe() -> Option<Quiet> {
    if !MAIN_RUNNING.load(Ordering::SeqCst) {
        return None;
    }
    let epoch = EXTERNAL_EPOCH.load(Ordering::SeqCst);
    if EXTERNAL.load(Ordering::SeqCst) != 0 {
        return None;
    }
    let s = sched().snapshot();
    let asleep = s.goroutines > 0
        && s.threads > 0
        && s.idle_threads == s.threads
        && s.spinning_threads == 0
        && s.global_runq == 0;
    if !asleep || !MAIN_RUNNING.load(Ordering::SeqCst) {
        return None;
    }
    Some(Quiet {
        epoch,
        ran: s.ran_per_p.iter().sum(),
        spawned: s.spawned,
        threads: s.threads,
    })
}

/// Go's checkdead; see the module header. Called by `stop_m` after the M is
/// on the idle list, and by [`external_done`] off an M. Exits the process
/// with status 2 on a deadlock.
#[doc(alias = "checkdead")]
pub(crate) fn check_dead() {
    // Relaxed fast path: a stale `true` only costs the full check below.
    if !MAIN_RUNNING.load(Ordering::Relaxed) {
        return;
    }
    // SeqCst: orders the caller's write (this M on the idle list, or the
    // external count's decrement) before every read below; pairs with the
    // other side's fence (see `external_done`).
    fence(Ordering::SeqCst);
    let Some(first) = observe() else { return };
    std::thread::yield_now();
    let Some(second) = observe() else { return };
    if first != second {
        return;
    }
    // Not through std's stderr lock: a parked goroutine may hold it.
    // SAFETY: fd 2 is valid for the whole process (or write fails with
    // EBADF, which we ignore); the buffer is a valid static byte string.
    let _ = unsafe { libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len()) };
    // std's exit flushes stdout with try_lock, so a lock held by a parked
    // goroutine cannot hang it.
    std::process::exit(EXIT_STATUS);
}
