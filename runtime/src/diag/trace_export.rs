//! trace_export — turns the recorded events into Chrome trace-event JSON
//! (what Perfetto and `chrome://tracing` load): each M's slice starts and
//! ends are paired into slices on its M's track and on the P's track, and
//! the scheduler's decisions become instant events. Runs once, in
//! [`stop`](super::trace::stop), never while recording.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use super::trace::{End, Ev, Rec, Summary, NONE_M, NONE_P};

/// Track groups ("processes" in the format).
const PID_P: u32 = 1;
const PID_M: u32 = 2;

/// Where an event is drawn.
#[derive(Clone, Copy)]
enum Track {
    P(usize),
    M(u64),
}

/// A time slice being paired up: started on an M, not yet ended.
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

/// The trace being written: the events' JSON, the tracks they use, counts.
struct Writer {
    start_ns: u64,
    body: String,
    ps: BTreeSet<usize>,
    ms: BTreeSet<u64>,
    summary: Summary,
}

/// Writes the trace of `per_thread` (each M's records, in order) between
/// `start_ns` and `end_ns`, for the file at `path`.
pub(super) fn export(
    per_thread: &[Vec<Rec>],
    start_ns: u64,
    end_ns: u64,
    path: &Path,
) -> (String, Summary) {
    let mut w = Writer {
        start_ns,
        body: String::new(),
        ps: BTreeSet::new(),
        ms: BTreeSet::new(),
        summary: Summary {
            path: path.to_path_buf(),
            events: 0,
            slices: 0,
            steals: 0,
        },
    };
    for recs in per_thread {
        w.thread(recs, end_ns);
    }
    w.finish(end_ns)
}

impl Writer {
    /// One M's records. Its slices alternate start, end. The M track gets
    /// one slice per run; the P track one per stretch the G held a P, since
    /// a blocking call cuts it (the P may be handed off).
    fn thread(&mut self, recs: &[Rec], end_ns: u64) {
        let mut open: Option<Open> = None;
        for r in recs {
            self.summary.events += 1;
            if r.m != NONE_M {
                self.ms.insert(r.m);
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
                    if let Some(o) = self.pair(open.take(), r, g) {
                        self.go_end(o, r, g, end);
                    }
                }
                Ev::SyscallEnter { g } => self.syscall(open.as_mut(), r, g, true),
                Ev::SyscallExit { g } => self.syscall(open.as_mut(), r, g, false),
                Ev::Steal { victim, g, n } if r.p != NONE_P => {
                    self.summary.steals += 1;
                    let a = format!("\"from\":{victim},\"g\":{g},\"n\":{n}");
                    self.instant("steal", r.ts, Track::P(r.p), &a);
                }
                Ev::Steal { .. } => {}
                Ev::Handoff { p } => self.instant("handoff", r.ts, Track::P(p), ""),
                Ev::NetpollWake { n } => {
                    let m = if r.m == NONE_M { 0 } else { r.m };
                    self.instant("netpoll", r.ts, Track::M(m), &format!("\"n\":{n}"));
                }
            }
        }
        if let Some(o) = open {
            self.still_running(o, end_ns);
        }
    }

    /// The start that a slice end of G `g` closes: the open one if it is
    /// `g`'s (else a start was lost: skip the pair), or, for a slice that
    /// began before the trace did, one from the trace's start.
    fn pair(&self, open: Option<Open>, r: &Rec, g: u64) -> Option<Open> {
        match open {
            Some(o) if o.g == g => Some(o),
            Some(_) => None,
            None if r.p != NONE_P && r.m != NONE_M => Some(Open {
                g,
                m: r.m,
                p: r.p,
                t0: self.start_ns,
                seg: Some((self.start_ns, false)),
            }),
            None => None,
        }
    }

    /// A slice ended: its P stretch and M slice, and a marker for a
    /// preemption or a park.
    fn go_end(&mut self, o: Open, r: &Rec, g: u64, end: End) {
        self.summary.slices += 1;
        let mut args = format!("\"g\":{g},\"m\":{},\"end\":\"{}\"", o.m, end.name());
        if let End::Park(reason) = end {
            let _ = write!(args, ",\"reason\":\"{}\"", reason.as_str());
        }
        // The P held now; a P lost while running (sysmon took it from a
        // stuck M) ends the stretch on the first one.
        let p_now = match (r.p, o.seg) {
            (NONE_P, Some((_, false))) => Some(o.p),
            (NONE_P, _) => None,
            (p, _) => Some(p),
        };
        if let (Some((s0, _)), Some(p)) = (o.seg, p_now) {
            self.slice(g, s0, r.ts, Track::P(p), &format!("\"p\":{p},{args}"));
        }
        self.slice(
            g,
            o.t0,
            r.ts,
            Track::M(o.m),
            &format!("\"p\":{},{args}", o.p),
        );
        let track = p_now.map_or(Track::M(o.m), Track::P);
        match end {
            End::Preempt => self.instant("preempt", r.ts, track, &format!("\"g\":{g}")),
            End::Park(reason) => {
                let n = format!("park ({})", reason.as_str());
                let a = format!("\"g\":{g},\"reason\":\"{}\"", reason.as_str());
                self.instant(&n, r.ts, track, &a);
            }
            End::Yield | End::Exit => {}
        }
    }

    /// A blocking call's entry ends the G's stretch on its P (the P may be
    /// handed off); its exit starts a new one, on whichever P the next
    /// event shows. Both are marked on the M.
    fn syscall(&mut self, open: Option<&mut Open>, r: &Rec, g: u64, enter: bool) {
        if r.m == NONE_M {
            return;
        }
        if let Some(o) = open.filter(|o| o.g == g) {
            if !enter {
                o.seg = Some((r.ts, true));
            } else if let Some((s0, _)) = o.seg.take() {
                let p = if r.p == NONE_P { o.p } else { r.p };
                let a = format!("\"g\":{g},\"p\":{p},\"m\":{},\"end\":\"syscall\"", o.m);
                self.slice(g, s0, r.ts, Track::P(p), &a);
            }
        }
        let name = if enter {
            "syscall enter"
        } else {
            "syscall exit"
        };
        self.instant(name, r.ts, Track::M(r.m), &format!("\"g\":{g}"));
    }

    /// A slice still running when the trace stopped ends there.
    fn still_running(&mut self, o: Open, end_ns: u64) {
        self.summary.slices += 1;
        let args = format!(
            "\"p\":{},\"g\":{},\"m\":{},\"end\":\"running\"",
            o.p, o.g, o.m
        );
        if let Some((s0, _)) = o.seg {
            self.slice(o.g, s0, end_ns.max(s0), Track::P(o.p), &args);
        }
        self.slice(o.g, o.t0, end_ns.max(o.t0), Track::M(o.m), &args);
    }

    /// A slice of goroutine `g` from `t0` to `t1` (absolute nanoseconds).
    fn slice(&mut self, g: u64, t0: u64, t1: u64, track: Track, args: &str) {
        self.event(&format!("G{g}"), t0, Some(t1 - t0), track, args);
    }

    /// An instant event at `ts`.
    fn instant(&mut self, name: &str, ts: u64, track: Track, args: &str) {
        self.event(name, ts, None, track, args);
    }

    /// Appends one event object: a complete slice ("X") with a duration,
    /// an instant ("i", thread-scoped) without.
    fn event(&mut self, name: &str, ts: u64, dur: Option<u64>, track: Track, args: &str) {
        let (pid, tid) = match track {
            Track::P(p) => {
                self.ps.insert(p);
                (PID_P, p as u64)
            }
            Track::M(m) => (PID_M, m),
        };
        let out = &mut self.body;
        out.push_str(",\n{\"name\":");
        push_json_str(out, name);
        let ts = us(ts.saturating_sub(self.start_ns));
        match dur {
            Some(d) => {
                let _ = write!(out, ",\"ph\":\"X\",\"ts\":{ts},\"dur\":{}", us(d));
            }
            None => {
                let _ = write!(out, ",\"ph\":\"i\",\"ts\":{ts},\"s\":\"t\"");
            }
        }
        let _ = write!(out, ",\"pid\":{pid},\"tid\":{tid},\"args\":{{{args}}}}}");
    }

    /// The whole file: track names and order, the events, the duration.
    fn finish(self, end_ns: u64) -> (String, Summary) {
        let mut out = String::from("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
        for (pid, name) in [(PID_P, "Ps"), (PID_M, "Ms")] {
            let sep = if pid == PID_P { "" } else { ",\n" };
            let _ = write!(out, "{sep}{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"name\":\"{name}\"}}}}");
        }
        for pid in [PID_P, PID_M] {
            let _ = write!(out, ",\n{{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"sort_index\":{pid}}}}}");
        }
        let tracks = self.ps.iter().map(|&p| (PID_P, 'P', p as u64));
        for (pid, letter, id) in tracks.chain(self.ms.iter().map(|&m| (PID_M, 'M', m))) {
            let _ = write!(out, ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{id},\"args\":{{\"name\":\"{letter}{id}\"}}}}");
            let _ = write!(out, ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{id},\"args\":{{\"sort_index\":{id}}}}}");
        }
        out.push_str(&self.body);
        let _ = write!(
            out,
            "\n],\"otherData\":{{\"producer\":\"gort\",\"duration_us\":\"{}\"}}}}\n",
            us(end_ns.saturating_sub(self.start_ns))
        );
        (out, self.summary)
    }
}

/// Microseconds with nanosecond digits, from nanoseconds.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::allgs::WaitReason;

    fn rec(ts: u64, m: u64, p: usize, ev: Ev) -> Rec {
        Rec { ts, m, p, ev }
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
