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
//! is built only when on). On: the event is appended to a buffer owned by
//! the recording thread (each M has its own), under that buffer's own lock,
//! which only [`stop`] ever contends — there is no global lock per event.
//! [`stop`] gathers the buffers, pairs each M's slice starts and ends, and
//! writes the file.
//!
//! # Who calls what
//! sched/execute.rs `execute` (slice start and end, read on g0 after the switch, so
//! a preemption is recorded by the scheduler, never in the signal handler),
//! sched/schedule.rs `steal_work`, sched/handoff.rs `handoff_p`, sched/syscall.rs (enter,
//! exit), io/netpoll.rs `deliver` (goroutines the poller readied). Reading the file back and drawing it is
//! the `gort-trace` crate's job, not the runtime's.

#![forbid(unsafe_code)]

use std::cell::OnceCell;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::lock::Mutex;

use crate::diag::allgs::WaitReason;
use crate::g::GRef;
use crate::p::P;
use crate::switch::Switch;

/// True while a trace is being recorded. Relaxed everywhere: a site that
/// sees a stale value records one event more or less at the edges.
static ON: AtomicBool = AtomicBool::new(false);
/// The trace session events belong to (an event recorded by a thread that
/// saw ON just before a stop lands in the next session's buffers: the
/// session number lets the next export drop it).
static GEN: AtomicU32 = AtomicU32::new(0);
/// The session being recorded: where to write it and when it started.
static SESSION: Mutex<Option<Session>> = Mutex::new(None);
/// Every thread's buffer (a thread's own clone lives in its thread-local).
static BUFS: Mutex<Vec<Arc<ThreadBuf>>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's buffer, made at its first event.
    static LOCAL: OnceCell<Arc<ThreadBuf>> = const { OnceCell::new() };
}

struct Session {
    path: PathBuf,
    gen: u32,
    start_ns: u64,
}

/// One thread's events. The lock is taken by its own thread per event and
/// by `stop`, so it is uncontended while recording.
struct ThreadBuf {
    recs: Mutex<Vec<Rec>>,
}

/// One recorded event.
#[derive(Clone, Copy, Debug)]
struct Rec {
    ts: u64,
    gen: u32,
    /// The recording M's id (u64::MAX: not an M, e.g. sysmon).
    m: u64,
    /// The P that M held (usize::MAX: none).
    p: usize,
    ev: Ev,
}

const NONE_M: u64 = u64::MAX;
const NONE_P: usize = usize::MAX;

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

    fn name(self) -> &'static str {
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

/// Nanoseconds since the first use of the trace clock.
fn now_ns() -> u64 {
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[cold]
#[inline(never)]
fn record(ev: Ev) {
    // Relaxed: see GEN.
    let gen = GEN.load(Ordering::Relaxed);
    let ts = now_ns();
    let (m, p) = match crate::m::current() {
        Some(ml) => (ml.m.id, ml.p.get().map_or(NONE_P, |p| p.id)),
        None => (NONE_M, NONE_P),
    };
    let rec = Rec { ts, gen, m, p, ev };
    // A thread being torn down has no thread-locals left: drop the event.
    let _ = LOCAL.try_with(|l| {
        let buf = l.get_or_init(|| {
            let b = Arc::new(ThreadBuf {
                recs: Mutex::new(Vec::with_capacity(4096)),
            });
            BUFS.lock().push(b.clone());
            b
        });
        buf.recs.lock().push(rec);
    });
}

/// Starts recording a trace, to be written to `path` by [`stop`] (or when
/// the process exits, if `GORT_TRACE` started it). Fails if a trace is
/// already being recorded.
pub fn start(path: impl AsRef<Path>) -> io::Result<()> {
    // The runtime must exist for its Ps and Ms to be traced.
    let _ = crate::sched::sched();
    start_session(path.as_ref())
}

/// `start` without starting the runtime (`GORT_TRACE` starts with it).
fn start_session(path: &Path) -> io::Result<()> {
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
pub fn stop() -> io::Result<Summary> {
    let Some(session) = SESSION.lock().take() else {
        return Err(io::Error::other("gort: no trace is being recorded"));
    };
    ON.store(false, Ordering::Relaxed);
    let end_ns = now_ns();
    let mut per_thread = Vec::new();
    {
        let mut bufs = BUFS.lock();
        for b in bufs.iter() {
            let mut recs = std::mem::take(&mut *b.recs.lock());
            recs.retain(|r| r.gen == session.gen);
            if !recs.is_empty() {
                per_thread.push(recs);
            }
        }
        // Threads that ended leave only the list's reference.
        bufs.retain(|b| Arc::strong_count(b) > 1);
    }
    let (json, summary) = export(&per_thread, session.start_ns, end_ns, &session.path);
    std::fs::write(&session.path, json)?;
    Ok(summary)
}

/// True while a trace is being recorded.
pub fn is_tracing() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Events recorded and not yet written, over all threads (0 when tracing
/// was never on: nothing is recorded, and no buffer exists).
pub fn buffered_events() -> usize {
    BUFS.lock().iter().map(|b| b.recs.lock().len()).sum()
}

/// `GORT_TRACE=path`: start at runtime start, write at process exit.
pub(crate) fn start_from_env() {
    let Some(path) = std::env::var_os("GORT_TRACE").filter(|p| !p.is_empty()) else {
        return;
    };
    if let Err(e) = start_session(Path::new(&path)) {
        crate::diag::warn(&format!("gort: GORT_TRACE: {e}"));
        return;
    }
    if !crate::sys::atexit(write_at_exit) {
        crate::diag::warn("gort: GORT_TRACE: cannot register the exit hook");
    }
}

/// The `atexit` hook for `GORT_TRACE`: writes the trace if still recording.
extern "C" fn write_at_exit() {
    let r = std::panic::catch_unwind(|| {
        if is_tracing() {
            if let Err(e) = stop() {
                crate::diag::warn(&format!("gort: GORT_TRACE: {e}"));
            }
        }
    });
    drop(r);
}

// ---------------------------------------------------------------------------
// Export: Chrome trace-event JSON.

/// Track groups ("processes" in the format).
const PID_P: u32 = 1;
const PID_M: u32 = 2;

/// Microseconds with nanosecond digits, from trace-relative nanoseconds.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// Appends one JSON event object (without the separating comma).
#[allow(clippy::too_many_arguments)]
fn push_event(
    out: &mut String,
    name: &str,
    ph: &str,
    ts: u64,
    dur: Option<u64>,
    pid: u32,
    tid: u64,
    args: &str,
) {
    out.push_str(",\n{\"name\":");
    push_json_str(out, name);
    let _ = write!(out, ",\"ph\":\"{ph}\",\"ts\":{}", us(ts));
    if let Some(d) = dur {
        let _ = write!(out, ",\"dur\":{}", us(d));
    }
    if ph == "i" {
        out.push_str(",\"s\":\"t\"");
    }
    let _ = write!(out, ",\"pid\":{pid},\"tid\":{tid},\"args\":{{{args}}}}}");
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A time slice being paired up by `export`.
struct Open {
    g: u64,
    m: u64,
    /// The P it started on.
    p: usize,
    t0: u64,
    /// Start of the current stretch on a P, and whether it began at the
    /// end of a blocking call (then the P is known only at its end). None
    /// while in a blocking call.
    seg: Option<(u64, bool)>,
}

fn export(per_thread: &[Vec<Rec>], start_ns: u64, end_ns: u64, path: &Path) -> (String, Summary) {
    let rel = |ts: u64| ts.saturating_sub(start_ns);
    let mut out = String::from("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    out.push_str(
        "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"Ps\"}}",
    );
    out.push_str(",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":2,\"tid\":0,\"args\":{\"name\":\"Ms\"}}");
    out.push_str(",\n{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"sort_index\":1}}");
    out.push_str(",\n{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":2,\"tid\":0,\"args\":{\"sort_index\":2}}");
    let mut ps = std::collections::BTreeSet::new();
    let mut ms = std::collections::BTreeSet::new();
    let mut body = String::new();
    let (mut events, mut slices, mut steals) = (0, 0, 0);
    for recs in per_thread {
        // Each thread is one M: its slices alternate start, end. The M
        // track gets one slice per run; the P track one per stretch the G
        // held a P, since a blocking call cuts it (the P may be handed off).
        let mut open: Option<Open> = None;
        for r in recs {
            events += 1;
            if r.m != NONE_M {
                ms.insert(r.m);
            }
            match r.ev {
                Ev::GoStart { g, p } => {
                    open = Some(Open {
                        g,
                        m: r.m,
                        p,
                        t0: r.ts,
                        seg: Some((r.ts, false)),
                    });
                }
                Ev::GoEnd { g, end } => {
                    let o = match open.take() {
                        Some(o) if o.g == g => o,
                        Some(_) => continue, // a lost start: skip the pair
                        // Began before the trace did: from the trace's start.
                        None if r.p != NONE_P && r.m != NONE_M => Open {
                            g,
                            m: r.m,
                            p: r.p,
                            t0: start_ns,
                            seg: Some((start_ns, false)),
                        },
                        None => continue,
                    };
                    slices += 1;
                    let mut args = format!("\"g\":{g},\"m\":{},\"end\":\"{}\"", o.m, end.name());
                    if let End::Park(reason) = end {
                        let _ = write!(args, ",\"reason\":\"{}\"", reason.as_str());
                    }
                    let name = format!("G{g}");
                    // The P held now; a P lost while running (sysmon took
                    // it from a stuck M) ends the stretch on the first one.
                    let p_now = match (r.p, o.seg) {
                        (NONE_P, Some((_, false))) => Some(o.p),
                        (NONE_P, _) => None,
                        (p, _) => Some(p),
                    };
                    if let (Some((s0, _)), Some(p)) = (o.seg, p_now) {
                        ps.insert(p);
                        let a = format!("\"p\":{p},{args}");
                        push_event(
                            &mut body,
                            &name,
                            "X",
                            rel(s0),
                            Some(r.ts - s0),
                            PID_P,
                            p as u64,
                            &a,
                        );
                    }
                    let a = format!("\"p\":{},{args}", o.p);
                    push_event(
                        &mut body,
                        &name,
                        "X",
                        rel(o.t0),
                        Some(r.ts - o.t0),
                        PID_M,
                        o.m,
                        &a,
                    );
                    let (tid, pid) = match p_now {
                        Some(p) => (p as u64, PID_P),
                        None => (o.m, PID_M),
                    };
                    let ga = format!("\"g\":{g}");
                    match end {
                        End::Preempt => {
                            push_event(&mut body, "preempt", "i", rel(r.ts), None, pid, tid, &ga)
                        }
                        End::Park(reason) => {
                            let n = format!("park ({})", reason.as_str());
                            let a = format!("{ga},\"reason\":\"{}\"", reason.as_str());
                            push_event(&mut body, &n, "i", rel(r.ts), None, pid, tid, &a)
                        }
                        End::Yield | End::Exit => {}
                    }
                }
                Ev::SyscallEnter { g } | Ev::SyscallExit { g } => {
                    if r.m == NONE_M {
                        continue;
                    }
                    let enter = matches!(r.ev, Ev::SyscallEnter { .. });
                    if let Some(o) = open.as_mut().filter(|o| o.g == g) {
                        if enter {
                            // The P's stretch ends: it may be handed off.
                            if let Some((s0, _)) = o.seg.take() {
                                let p = if r.p == NONE_P { o.p } else { r.p };
                                ps.insert(p);
                                let a = format!(
                                    "\"g\":{g},\"p\":{p},\"m\":{},\"end\":\"syscall\"",
                                    o.m
                                );
                                let name = format!("G{g}");
                                push_event(
                                    &mut body,
                                    &name,
                                    "X",
                                    rel(s0),
                                    Some(r.ts - s0),
                                    PID_P,
                                    p as u64,
                                    &a,
                                );
                            }
                        } else {
                            // Holding a P again, or not: the next event says.
                            o.seg = Some((r.ts, true));
                        }
                    }
                    let n = if enter {
                        "syscall enter"
                    } else {
                        "syscall exit"
                    };
                    let a = format!("\"g\":{g}");
                    push_event(&mut body, n, "i", rel(r.ts), None, PID_M, r.m, &a);
                }
                Ev::Steal { victim, g, n } => {
                    if r.p == NONE_P {
                        continue;
                    }
                    steals += 1;
                    ps.insert(r.p);
                    let a = format!("\"from\":{victim},\"g\":{g},\"n\":{n}");
                    push_event(
                        &mut body,
                        "steal",
                        "i",
                        rel(r.ts),
                        None,
                        PID_P,
                        r.p as u64,
                        &a,
                    );
                }
                Ev::Handoff { p } => {
                    ps.insert(p);
                    push_event(
                        &mut body,
                        "handoff",
                        "i",
                        rel(r.ts),
                        None,
                        PID_P,
                        p as u64,
                        "",
                    );
                }
                Ev::NetpollWake { n } => {
                    let tid = if r.m == NONE_M { 0 } else { r.m };
                    let a = format!("\"n\":{n}");
                    push_event(&mut body, "netpoll", "i", rel(r.ts), None, PID_M, tid, &a);
                }
            }
        }
        // Still running when the trace stopped: close the slice there.
        if let Some(o) = open {
            slices += 1;
            let args = format!("\"g\":{},\"m\":{},\"end\":\"running\"", o.g, o.m);
            let name = format!("G{}", o.g);
            if let Some((s0, _)) = o.seg {
                ps.insert(o.p);
                let a = format!("\"p\":{},{args}", o.p);
                let d = end_ns.saturating_sub(s0);
                push_event(
                    &mut body,
                    &name,
                    "X",
                    rel(s0),
                    Some(d),
                    PID_P,
                    o.p as u64,
                    &a,
                );
            }
            let a = format!("\"p\":{},{args}", o.p);
            let d = end_ns.saturating_sub(o.t0);
            push_event(&mut body, &name, "X", rel(o.t0), Some(d), PID_M, o.m, &a);
        }
    }
    for p in &ps {
        let _ = write!(out, ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{p},\"args\":{{\"name\":\"P{p}\"}}}}");
        let _ = write!(out, ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{p},\"args\":{{\"sort_index\":{p}}}}}");
    }
    for m in &ms {
        let _ = write!(out, ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":2,\"tid\":{m},\"args\":{{\"name\":\"M{m}\"}}}}");
        let _ = write!(out, ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":2,\"tid\":{m},\"args\":{{\"sort_index\":{m}}}}}");
    }
    out.push_str(&body);
    let _ = write!(
        out,
        "\n],\"otherData\":{{\"producer\":\"gort\",\"duration_us\":\"{}\"}}}}\n",
        us(end_ns.saturating_sub(start_ns))
    );
    let summary = Summary {
        path: path.to_path_buf(),
        events,
        slices,
        steals,
    };
    (out, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: u64, m: u64, p: usize, ev: Ev) -> Rec {
        Rec {
            ts,
            gen: 1,
            m,
            p,
            ev,
        }
    }

    #[test]
    fn a_blocking_call_cuts_the_p_stretch() {
        let t = vec![
            rec(10, 3, 0, Ev::GoStart { g: 4, p: 0 }),
            rec(20, 3, 0, Ev::SyscallEnter { g: 4 }),
            rec(90, 3, NONE_P, Ev::SyscallExit { g: 4 }),
            // No P came back: the G goes to the global queue.
            rec(
                95,
                3,
                NONE_P,
                Ev::GoEnd {
                    g: 4,
                    end: End::Yield,
                },
            ),
            rec(100, 3, 1, Ev::GoStart { g: 5, p: 1 }),
            rec(110, 3, 1, Ev::SyscallEnter { g: 5 }),
            rec(120, 3, NONE_P, Ev::SyscallExit { g: 5 }),
            // The fast path got P1 back.
            rec(
                130,
                3,
                1,
                Ev::GoEnd {
                    g: 5,
                    end: End::Exit,
                },
            ),
        ];
        let (json, s) = export(&[t], 0, 200, Path::new("x.json"));
        assert_eq!(s.slices, 2);
        let v = gort_trace::json::parse(&json).expect("valid JSON");
        let evs = v
            .get("traceEvents")
            .and_then(|e| e.as_array())
            .expect("events");
        let spans = |pid: f64, g: &str| -> Vec<(f64, f64, f64)> {
            evs.iter()
                .filter(|e| e.get("ph").and_then(|p| p.as_str()) == Some("X"))
                .filter(|e| e.get("pid").and_then(|p| p.as_f64()) == Some(pid))
                .filter(|e| e.get("name").and_then(|n| n.as_str()) == Some(g))
                .map(|e| {
                    let f = |k: &str| e.get(k).and_then(|x| x.as_f64()).unwrap();
                    (f("tid"), f("ts") * 1000.0, f("dur") * 1000.0)
                })
                .collect()
        };
        assert_eq!(spans(1.0, "G4"), vec![(0.0, 10.0, 10.0)]);
        assert_eq!(spans(2.0, "G4"), vec![(3.0, 10.0, 85.0)]);
        assert_eq!(
            spans(1.0, "G5"),
            vec![(1.0, 100.0, 10.0), (1.0, 120.0, 10.0)]
        );
    }

    #[test]
    fn export_pairs_slices_and_marks_events() {
        let t = vec![
            rec(
                5,
                0,
                0,
                Ev::GoEnd {
                    g: 9,
                    end: End::Yield,
                },
            ), // began before the trace
            rec(10, 0, 0, Ev::GoStart { g: 1, p: 0 }),
            rec(
                20,
                0,
                0,
                Ev::GoEnd {
                    g: 1,
                    end: End::Park(WaitReason::ChanReceive),
                },
            ),
            rec(
                30,
                0,
                0,
                Ev::Steal {
                    victim: 1,
                    g: 2,
                    n: 3,
                },
            ),
            rec(31, 0, 0, Ev::GoStart { g: 2, p: 0 }),
            rec(
                40,
                0,
                0,
                Ev::GoEnd {
                    g: 2,
                    end: End::Preempt,
                },
            ),
            rec(50, 0, 0, Ev::GoStart { g: 3, p: 0 }),
        ];
        let (json, s) = export(&[t], 0, 100, Path::new("x.json"));
        // G9 began before the trace: drawn from the trace's start.
        assert_eq!((s.slices, s.steals), (4, 1));
        let v = gort_trace::json::parse(&json).expect("valid JSON");
        let evs = v
            .get("traceEvents")
            .and_then(|e| e.as_array())
            .expect("events");
        let names: Vec<&str> = evs
            .iter()
            .filter_map(|e| e.get("name").and_then(|n| n.as_str()))
            .collect();
        for want in ["G1", "G2", "G3", "steal", "preempt", "park (chan receive)"] {
            assert!(names.contains(&want), "{want} missing: {names:?}");
        }
        assert!(names.contains(&"G9"));
        assert!(json.contains("\"name\":\"P0\"") && json.contains("\"name\":\"M0\""));
    }
}
