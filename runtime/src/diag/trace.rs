//! Execution traces: which goroutine ran on which P and M, and when, with the
//! scheduler's decisions (steals, preemptions, hand-offs, blocking calls,
//! parks) marked — Go's `go tool trace`, written in the Chrome trace-event
//! JSON format, which Perfetto (ui.perfetto.dev) and `chrome://tracing` load.
//!
//! Turn it on for a whole run with `GORT_TRACE=trace.json` (written when the
//! process exits), or around a region with [`start`] / [`stop`]. The
//! `gort-trace` crate of this workspace draws one as an SVG timeline
//! (`cargo run -p gort-trace --bin trace_svg -- trace.json out.svg`).
//!
//! ```
//! let path = std::env::temp_dir().join(format!("gort-doc-{}.json", std::process::id()));
//! gort::trace::start(&path).unwrap();
//! gort::go!(|| (0..1000u64).sum::<u64>()).join().unwrap();
//! let summary = gort::trace::stop().unwrap();
//! assert!(summary.slices >= 1);
//! assert!(std::fs::read_to_string(&path).unwrap().contains("\"traceEvents\""));
//! # std::fs::remove_file(&path).unwrap();
//! ```
//!
//! # What the file holds
//! Two processes of tracks: "Ps" (one track per P) and "Ms" (one per M, the
//! OS threads). Each time slice of a goroutine is a slice named `G<id>` on
//! its P's track and on its M's track, with how it ended (`yield`, `park`
//! and the wait reason, `preempt`, `exit`). Instant events mark `steal` (on
//! the thief's P: from which P, how many Gs), `preempt`, `park (<reason>)`,
//! `handoff` (a P given to another M), `syscall enter`/`syscall exit` (on
//! the M) and `netpoll` (goroutines the poller made runnable).
//!
//! # Cost
//! Off (the default): each event site in the scheduler is one Relaxed load
//! of a global flag and a not-taken branch (`event` is inlined; the event
//! is built only when on). On: the event is stamped with the CPU's tick
//! counter (diag/trace_clock.rs) and written as four words into a ring
//! owned by the recording thread, without a lock (diag/trace_buf.rs); a
//! full ring is moved into a chunk once per 1,024 events. [`stop`] gathers
//! the buffers, pairs each M's slice starts and ends, and writes the file.
//!
//! # Who calls what
//! sched/execute.rs `execute` (slice start and end, read on g0 after the switch, so
//! a preemption is recorded by the scheduler, never in the signal handler),
//! sched/schedule.rs `steal_work`, sched/handoff.rs `handoff_p`, sched/syscall.rs (enter,
//! exit), io/netpoll.rs `deliver` (goroutines the poller readied). Reading the file back and drawing it is
//! the `gort-trace` crate's job, not the runtime's.

#![forbid(unsafe_code)]

use std::cell::OnceCell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::lock::Mutex;

use super::trace_buf::{self, ThreadBuf};
use super::trace_clock::{self, Converter};
pub(super) use trace_clock::now_ns;

use crate::diag::allgs::WaitReason;
use crate::g::GRef;
use crate::p::P;
use crate::switch::Switch;

/// True while a trace is being recorded. Relaxed everywhere: a site that
/// sees a stale value records one event more or less at the edges.
pub(super) static ON: AtomicBool = AtomicBool::new(false);
/// The trace session events belong to (an event recorded by a thread that
/// saw ON just before a stop lands in the next session's buffers: the
/// session number lets the next export drop it).
pub(super) static GEN: AtomicU32 = AtomicU32::new(0);
/// The session being recorded: where to write it and when it started.
pub(super) static SESSION: Mutex<Option<Session>> = Mutex::new(None);
/// Every thread's buffer (a thread's own clone lives in its thread-local).
pub(super) static BUFS: Mutex<Vec<Arc<ThreadBuf>>> = Mutex::new(Vec::new());

/// `BUFS.len()`, for the flight recorder's per-thread cap (diag/flight.rs).
pub(super) static BUFS_LEN: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's buffer, made at its first event.
    static LOCAL: OnceCell<Arc<ThreadBuf>> = const { OnceCell::new() };
}

pub(super) struct Session {
    pub(super) path: PathBuf,
    pub(super) gen: u32,
    pub(super) start_ns: u64,
}

/// One recorded event, decoded (diag/trace_buf.rs holds it encoded).
#[derive(Clone, Copy, Debug)]
pub(super) struct Rec {
    /// Nanoseconds since the trace clock's origin.
    pub(super) ts: u64,
    /// The recording M's id (`NONE_M`: not an M, e.g. sysmon).
    pub(super) m: u64,
    /// The P that M held (`NONE_P`: none).
    pub(super) p: usize,
    pub(super) ev: Ev,
}

pub(super) const NONE_M: u64 = u64::MAX;
pub(super) const NONE_P: usize = usize::MAX;

/// How a time slice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Yield,
    Park(WaitReason),
    Preempt,
    Exit,
}

impl End {
    /// The end of a slice whose G switched out with `why` (None: it exited).
    pub(crate) fn of(why: Option<Switch>, reason: WaitReason) -> End {
        match why {
            Some(Switch::Yield | Switch::SyscallExit) => End::Yield,
            Some(Switch::Park) => End::Park(reason),
            Some(Switch::Preempted) => End::Preempt,
            None => End::Exit,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            End::Yield => "yield",
            End::Park(_) => "park",
            End::Preempt => "preempt",
            End::Exit => "exit",
        }
    }
}

/// A scheduler event (built only while tracing is on, see [`event`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ev {
    /// The recording M starts running G `g` on P `p`.
    GoStart { g: u64, p: usize },
    /// The G started last on this M switched out or exited.
    GoEnd { g: u64, end: End },
    /// This M's P took `n` Gs from P `victim`'s queue, and runs `g` first.
    Steal { victim: usize, g: u64, n: usize },
    /// P `p` was handed to another M (its M blocked, or waits for a locked G).
    Handoff { p: usize },
    /// The running G enters a blocking call (sched/syscall.rs).
    SyscallEnter { g: u64 },
    /// The running G is back from a blocking call.
    SyscallExit { g: u64 },
    /// The poller made `n` goroutines runnable (io/netpoll.rs).
    NetpollWake { n: usize },
}

/// Records an event if tracing is on. Off, this is one Relaxed load and a
/// branch: `f` builds the event only when it will be recorded.
#[inline(always)]
pub(crate) fn event(f: impl FnOnce() -> Ev) {
    if ON.load(Ordering::Relaxed) {
        record(f());
    }
}

// The event sites, one call each (all inlined to the flag load when off).

/// sched/execute.rs `execute`: `g` starts a time slice on `p`.
#[inline(always)]
pub(crate) fn go_start(g: GRef, p: &P) {
    event(|| Ev::GoStart {
        g: g.get().id,
        p: p.id,
    });
}

/// sched/execute.rs `execute`, back on g0: `g` switched out with `why` (None: it
/// exited). A park's reason is still in the G's GInfo (diag/allgs.rs).
#[inline(always)]
pub(crate) fn go_end(g: GRef, why: Option<Switch>) {
    event(|| Ev::GoEnd {
        g: g.get().id,
        end: End::of(why, g.get().info.wait_reason()),
    });
}

/// sched/schedule.rs `steal_work`: this M's P `me` took `g` (and more) from P `victim`.
#[inline(always)]
pub(crate) fn steal(victim: usize, g: GRef, me: &P) {
    event(|| Ev::Steal {
        victim,
        g: g.get().id,
        n: me.runq_len() + 1,
    });
}

/// sched/handoff.rs `handoff_p`.
#[inline(always)]
pub(crate) fn handoff(p: &P) {
    event(|| Ev::Handoff { p: p.id });
}

/// sched/syscall.rs `enter_syscall`.
#[inline(always)]
pub(crate) fn syscall_enter(g: GRef) {
    event(|| Ev::SyscallEnter { g: g.get().id });
}

/// sched/syscall.rs `exit_syscall`.
#[inline(always)]
pub(crate) fn syscall_exit(g: Option<GRef>) {
    event(|| Ev::SyscallExit {
        g: g.map_or(0, |g| g.get().id),
    });
}

/// io/netpoll.rs `deliver`: a poll made `n` goroutines runnable.
#[inline(always)]
pub(crate) fn netpoll_wake(n: usize) {
    event(|| Ev::NetpollWake { n });
}

#[cold]
#[inline(never)]
fn record(ev: Ev) {
    // Relaxed: see GEN.
    let gen = GEN.load(Ordering::Relaxed);
    let ts = trace_clock::ticks();
    let (m, p) = match crate::m::current() {
        Some(ml) => (ml.m.id, ml.p.get().map_or(NONE_P, |p| p.id)),
        None => (NONE_M, NONE_P),
    };
    let words = trace_buf::encode(ts, gen, m, p, ev);
    // A thread being torn down has no thread-locals left: drop the event.
    let _ = LOCAL.try_with(|l| {
        let buf = l.get_or_init(|| {
            let b = Arc::new(ThreadBuf::new());
            let mut bufs = BUFS.lock();
            bufs.push(b.clone());
            // Relaxed: a hint for the flight recorder's trim.
            BUFS_LEN.store(bufs.len(), Ordering::Relaxed);
            b
        });
        if buf.push(words) {
            buf.spill(super::flight::trim);
        }
    });
}

/// The records of session `gen` in `buf` (all of them, or those a trace's
/// stop takes), decoded with `conv`.
pub(super) fn session_recs(buf: &ThreadBuf, gen: u32, take: bool, conv: &Converter) -> Vec<Rec> {
    buf.collect(take)
        .iter()
        .filter(|w| trace_buf::gen_of(w) == gen)
        .map(|w| trace_buf::decode(w, |t| conv.ns(t)))
        .collect()
}

/// Starts recording a trace, to be written to `path` by [`stop`] (or when
/// the process exits, if `GORT_TRACE` started it). Fails if a trace is
/// already being recorded.
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-doc-trace-start-{}.json", std::process::id()));
/// gort::trace::start(&path).unwrap();
/// let again = gort::trace::start(&path).unwrap_err(); // one trace at a time
/// assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
/// gort::trace::stop().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn start(path: impl AsRef<Path>) -> io::Result<()> {
    // The runtime must exist for its Ps and Ms to be traced.
    let _ = crate::sched::sched();
    start_session(path.as_ref())
}

/// `start` without starting the runtime (`GORT_TRACE` starts with it).
pub(super) fn start_session(path: &Path) -> io::Result<()> {
    let mut s = SESSION.lock();
    if s.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "gort: a trace is already being recorded",
        ));
    }
    // Relaxed: ordered with the recorders by the buffer locks at stop.
    let gen = GEN.fetch_add(1, Ordering::Relaxed) + 1;
    *s = Some(Session {
        path: path.to_path_buf(),
        gen,
        start_ns: now_ns(),
    });
    ON.store(true, Ordering::Relaxed);
    Ok(())
}

/// What [`stop`] wrote.
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-doc-trace-summary-{}.json", std::process::id()));
/// gort::trace::start(&path).unwrap();
/// gort::go!(|| ()).join().unwrap();
/// let s: gort::trace::Summary = gort::trace::stop().unwrap();
/// assert_eq!(s.path, path);
/// assert!(s.slices >= 1 && s.events >= s.slices);
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Summary {
    /// The file written.
    pub path: PathBuf,
    /// Events recorded (slice starts and ends count one each).
    pub events: usize,
    /// Goroutine time slices in the file.
    pub slices: usize,
    /// Steals in the file.
    pub steals: usize,
}

/// Stops recording and writes the trace file given to [`start`]. Fails if no
/// trace is being recorded, or with the file system's error.
///
/// ```
/// assert!(gort::trace::stop().is_err()); // no trace yet
/// let path = std::env::temp_dir().join(format!("gort-doc-trace-stop-{}.json", std::process::id()));
/// gort::trace::start(&path).unwrap();
/// gort::go!(|| 1 + 1).join().unwrap();
/// let summary = gort::trace::stop().unwrap();
/// assert!(std::fs::read_to_string(&summary.path).unwrap().contains("\"traceEvents\""));
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn stop() -> io::Result<Summary> {
    let session = {
        let mut s = SESSION.lock();
        if s.as_ref().is_some_and(|s| s.path.as_os_str().is_empty()) {
            return Err(io::Error::other(
                "gort: the flight recorder is recording, not a trace",
            ));
        }
        s.take()
    };
    let Some(session) = session else {
        return Err(io::Error::other("gort: no trace is being recorded"));
    };
    ON.store(false, Ordering::Relaxed);
    let end_ns = now_ns();
    let conv = Converter::now();
    let mut per_thread = Vec::new();
    {
        let mut bufs = BUFS.lock();
        for b in bufs.iter() {
            let recs = session_recs(b, session.gen, true, &conv);
            if !recs.is_empty() {
                per_thread.push(recs);
            }
        }
        // Threads that ended leave only the list's reference.
        bufs.retain(|b| Arc::strong_count(b) > 1);
        // Relaxed: a hint (see BUFS_LEN).
        BUFS_LEN.store(bufs.len(), Ordering::Relaxed);
    }
    let (json, summary) =
        super::trace_export::export(&per_thread, session.start_ns, end_ns, &session.path);
    std::fs::write(&session.path, json)?;
    Ok(summary)
}

/// True while a trace is being recorded.
///
/// ```
/// assert!(!gort::trace::is_tracing());
/// let path = std::env::temp_dir().join(format!("gort-doc-trace-on-{}.json", std::process::id()));
/// gort::trace::start(&path).unwrap();
/// assert!(gort::trace::is_tracing());
/// gort::trace::stop().unwrap();
/// assert!(!gort::trace::is_tracing());
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn is_tracing() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Events recorded and not yet written, over all threads (0 when tracing
/// was never on: nothing is recorded, and no buffer exists).
///
/// ```
/// assert_eq!(gort::trace::buffered_events(), 0); // never traced
/// let path = std::env::temp_dir().join(format!("gort-doc-trace-buf-{}.json", std::process::id()));
/// gort::trace::start(&path).unwrap();
/// gort::go!(|| ()).join().unwrap();
/// assert!(gort::trace::buffered_events() >= 1); // at least its slice's start
/// gort::trace::stop().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn buffered_events() -> usize {
    BUFS.lock().iter().map(|b| b.len()).sum()
}

/// `GORT_TRACE=path`: start at runtime start, write at process exit.
pub(crate) fn start_from_env() {
    let Some(path) = std::env::var_os("GORT_TRACE").filter(|p| !p.is_empty()) else {
        return;
    };
    if let Err(e) = start_session(Path::new(&path)) {
        crate::throw::warn(&format!("gort: GORT_TRACE: {e}"));
        return;
    }
    if !crate::sys::atexit(write_at_exit) {
        crate::throw::warn("gort: GORT_TRACE: cannot register the exit hook");
    }
}

/// The `atexit` hook for `GORT_TRACE`: writes the trace if still recording.
extern "C" fn write_at_exit() {
    let r = std::panic::catch_unwind(|| {
        if is_tracing() {
            if let Err(e) = stop() {
                crate::throw::warn(&format!("gort: GORT_TRACE: {e}"));
            }
        }
    });
    drop(r);
}

// The writer is trace_export.rs; the flight recorder flight.rs.
pub use super::flight::{FlightRecorder, FlightRecorderConfig};
