//! schedtrace — `GODEBUG=schedtrace=N` prints, every N milliseconds, one
//! line about the scheduler to stderr, in Go's words (proc.go `schedtrace`):
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=4 idleprocs=0 threads=7 spinningthreads=0 needspinning=0 idlethreads=2 runqueue=0 [0 0 0 0]
//! ```
//! `threads` counts the Ms alive, `idleprocs`/`idlethreads`/`spinningthreads`
//! the idle Ps, idle Ms and spinning Ms, `runqueue` the global run queue, and
//! the brackets each P's local queue (its `runnext` included). With
//! `scheddetail=1` the first line ends with Go's detail fields instead of the
//! brackets and is followed by one line per P, per M and per goroutine:
//!
//! ```text
//!   P0: status=1 schedtick=41 syscalltick=0 m=0 runqsize=0 gfreecnt=0 timerslen=0
//!   M0: p=0 curg=1 mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=false blocked=false lockedg=nil
//!   G1: status=2() m=0 lockedm=nil
//! ```
//! Status numbers are Go's (`_Prunning` = 1, `_Grunning` = 2, `_Gwaiting` =
//! 4 with the wait reason in parentheses, ...). Fields gort has no counterpart
//! for keep Go's neutral value, so that tools reading Go's output read ours:
//! `needspinning`, `gcwaiting`, `nmidlelocked`, `stopwait`, `sysmonwait`,
//! `gfreecnt`, `timerslen` (timers are process-wide, time/timers.rs), `mallocing`,
//! `throwing`, `preemptoff`, `locks`, `dying`, `lockedg`, `lockedm`. An M's
//! `spinning` is read as "holds a P and runs no G" (it is in the scheduler
//! looking for work) and `blocked` as "holds neither" (parked).
//!
//! # Where it runs
//! On its own thread, `gort-schedtrace`, started with the runtime when
//! GODEBUG asks (diag/mod.rs `init_diagnostics`); the first line is printed at
//! once (`SCHED 0ms`), as Go's sysmon does. It reads only counters and the
//! race-free views of diag/dump.rs and diag/allgs.rs, and writes each report with raw
//! `write(2)` calls (not std's stderr lock, which a parked goroutine may hold).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::dump::{self, OnM};
use crate::diag::allgs::{self, GSnap};
use crate::p::{PStatus, P};
use crate::sched::{self, sched};

/// The settings read from GODEBUG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SchedTrace {
    /// Period; None: off.
    pub(crate) every: Option<Duration>,
    /// `scheddetail=1`.
    pub(crate) detail: bool,
}

impl SchedTrace {
    /// Reads `schedtrace` and `scheddetail` from a GODEBUG string; a bad
    /// value gets a warning and leaves the trace off.
    pub(crate) fn parse(godebug: &str) -> SchedTrace {
        let every = match crate::config::godebug_value(godebug, "schedtrace") {
            None | Some("0") => None,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) => Some(Duration::from_millis(ms)),
                Err(_) => {
                    crate::throw::warn(&format!(
                        "gort: ignoring GODEBUG schedtrace={v:?} (milliseconds expected)"
                    ));
                    None
                }
            },
        };
        SchedTrace {
            every,
            detail: crate::config::godebug_value(godebug, "scheddetail") == Some("1"),
        }
    }
}

/// Starts the schedtrace thread if `cfg` asks for it.
pub(crate) fn start(cfg: SchedTrace) {
    let Some(every) = cfg.every else { return };
    let r = std::thread::Builder::new()
        .name("gort-schedtrace".into())
        .spawn(move || {
            let start = Instant::now();
            loop {
                // Go's sysmon: the next report is due a period after this
                // one (lasttrace), so a late report delays the next.
                let at = Instant::now();
                let text = report(at - start, cfg.detail);
                crate::sys::write_stderr(text.as_bytes());
                let next = at + every;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
            }
        });
    if let Err(e) = r {
        crate::throw::warn(&format!("gort: cannot start schedtrace: {e}"));
    }
}

/// Go's P status numbers (`_Pidle` 0, `_Prunning` 1, `_Psyscall` 2, `_Pdead` 4).
fn go_pstatus(s: PStatus) -> u8 {
    match s {
        PStatus::Idle => 0,
        PStatus::Running => 1,
        PStatus::Syscall => 2,
        PStatus::Dead => 4,
    }
}

/// One report: the SCHED line, and with `detail` the P, M and G lines.
pub(crate) fn report(since_start: Duration, detail: bool) -> String {
    let s = sched();
    let st = s.snapshot();
    let mut out = String::with_capacity(256);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} needspinning=0 idlethreads={} runqueue={}",
        since_start.as_millis(),
        st.gomaxprocs,
        st.idle_procs,
        st.threads,
        st.spinning_threads,
        st.idle_threads,
        st.global_runq
    );
    let ps: Vec<_> = s.all_ps().filter(|p| p.id < st.gomaxprocs).collect();
    if !detail {
        let lens: Vec<String> = ps.iter().map(|p| p.runq_len().to_string()).collect();
        let _ = writeln!(out, " [{}]", lens.join(" "));
        return out;
    }
    let _ = writeln!(
        out,
        " gcwaiting=false nmidlelocked=0 stopwait=0 sysmonwait=false"
    );
    write_ps(&mut out, &ps);
    let gs = allgs::live();
    write_ms(&mut out, &ps, &gs);
    write_gs(&mut out, &gs);
    out
}

/// scheddetail's P lines.
fn write_ps(out: &mut String, ps: &[&P]) {
    for p in ps {
        let m = p
            .holder()
            .filter(|_| matches!(p.status(), PStatus::Running | PStatus::Syscall))
            .map_or("nil".to_string(), |m| m.id.to_string());
        // Relaxed: statistics (see the fields).
        let _ = writeln!(
            out,
            "  P{}: status={} schedtick={} syscalltick={} m={m} runqsize={} gfreecnt=0 timerslen=0",
            p.id,
            go_pstatus(p.status()),
            p.schedtick.load(Ordering::Relaxed),
            p.syscalltick.load(Ordering::Relaxed),
            p.runq_len()
        );
    }
}

/// scheddetail's M lines: the P each holds and the goroutine it runs.
fn write_ms(out: &mut String, ps: &[&P], gs: &[GSnap]) {
    let goid_at = |slot: usize| gs.iter().find(|g| g.slot == slot).map(|g| g.goid);
    for m in &sched::all_ms() {
        let p = ps
            .iter()
            .find(|p| {
                p.holder().is_some_and(|h| std::ptr::eq(h, &**m))
                    && matches!(p.status(), PStatus::Running | PStatus::Syscall)
            })
            .map(|p| p.id);
        // Relaxed: a snapshot, only compared.
        let cur = m.cur_g.load(Ordering::Relaxed) as usize;
        let curg = if cur == 0 { None } else { goid_at(cur) };
        let _ = writeln!(
            out,
            "  M{}: p={} curg={} mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning={} blocked={} lockedg=nil",
            m.id,
            p.map_or("nil".into(), |p| p.to_string()),
            curg.map_or("nil".into(), |g| g.to_string()),
            p.is_some() && cur == 0,
            p.is_none() && cur == 0,
        );
    }
}

/// scheddetail's G lines: status, wait reason and M of every goroutine.
fn write_gs(out: &mut String, gs: &[GSnap]) {
    let on = dump::running();
    for g in gs {
        let o: Option<&OnM> = on.get(&g.slot);
        let (_, code) = dump::status_of(g, o);
        let reason = if o.is_none() {
            g.wait_reason.as_str()
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  G{}: status={code}({reason}) m={} lockedm=nil",
            g.goid,
            o.map_or("nil".into(), |o| o.m.to_string())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn godebug_settings() {
        let t = SchedTrace::parse("schedtrace=1000");
        assert_eq!(t.every, Some(Duration::from_secs(1)));
        assert!(!t.detail);
        let t = SchedTrace::parse("asyncpreemptoff=1,schedtrace=5,scheddetail=1");
        assert_eq!(t.every, Some(Duration::from_millis(5)));
        assert!(t.detail);
        assert_eq!(SchedTrace::parse("schedtrace=0").every, None);
        assert_eq!(SchedTrace::parse("").every, None);
        assert_eq!(SchedTrace::parse("schedtrace=fast").every, None);
    }

    #[test]
    fn the_line_has_gos_fields_in_gos_order() {
        let line = report(Duration::from_millis(1004), false);
        assert!(line.starts_with("SCHED 1004ms: gomaxprocs="), "{line}");
        let order = [
            "gomaxprocs=",
            " idleprocs=",
            " threads=",
            " spinningthreads=",
            " needspinning=",
            " idlethreads=",
            " runqueue=",
            " [",
        ];
        let mut at = 0;
        for f in order {
            at += line[at..]
                .find(f)
                .unwrap_or_else(|| panic!("{f} in {line}"));
        }
        assert!(line.ends_with("]\n"), "{line}");
    }
}
