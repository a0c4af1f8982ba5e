//! dump — the goroutine dump: every live goroutine with its state, wait
//! reason and how long, its name, the M and P running it, and where it was
//! created. Go's `tracebackothers` / `goroutineheader` (traceback.go), minus
//! the stack frames. Printed by SIGQUIT (diag/sigquit.rs) and by
//! [`dump_goroutines`].
//!
//! ```text
//! goroutine 1 [running]:
//!     name=main m=0 p=0
//! created by src/main.rs:3:1
//!
//! goroutine 7 [chan receive, 2 minutes]:
//!     wait=125.301s
//! created by src/main.rs:12:13 in goroutine 1
//! ```
//! (The indented line starts with a tab.) The header line is Go's, so
//! tools that read Go dumps read it too: the
//! status is the wait reason for a parked goroutine (Go's strings: `chan
//! receive`, `select`, `sleep`, `sync.Mutex.Lock`, ...), and the wait is
//! shown in whole minutes from one minute on, as Go does. The indented line
//! is gort's: the name given with `Builder::name`, the M and P of a running
//! goroutine (`p=nil` once the M lost its P in a blocking call), and the
//! exact wait (to the clock's few-millisecond resolution).
//!
//! # What it reads
//! Only what diag/allgs.rs makes safe to read while goroutines run: each slot's
//! GInfo snapshot (seqlock), every M's `cur_g` pointer (compared, never
//! dereferenced) and every P's holder and status. The world is not stopped,
//! so the dump is a moment's picture assembled over a few microseconds, as
//! Go's is for goroutines that are not stopped. A goroutine readied but not
//! yet running shows as `runnable`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::Ordering;

use crate::diag::allgs::{self, GSnap, WaitReason};
use crate::p::PStatus;
use crate::sched::{self, sched};

/// Nanoseconds per minute (Go's `waitfor` unit in the header).
const MINUTE_NS: u64 = 60_000_000_000;

/// Where a running goroutine runs.
#[derive(Clone, Copy)]
pub(crate) struct OnM {
    pub(crate) m: u64,
    /// The P its M holds, if any.
    pub(crate) p: Option<usize>,
    /// That P is in a blocking call (sched/syscall.rs): Go's `_Gsyscall`.
    pub(crate) syscall: bool,
}

/// The goroutines running now, by slot address (a snapshot of the Ms).
pub(crate) fn running() -> HashMap<usize, OnM> {
    let s = sched();
    let ps: Vec<_> = s.all_ps().collect();
    let mut out = HashMap::new();
    for m in sched::all_ms() {
        // Relaxed: a snapshot; the pointer is only compared (module header).
        let g = m.cur_g.load(Ordering::Relaxed);
        if g.is_null() {
            continue;
        }
        let p = ps
            .iter()
            .find(|p| p.holder().is_some_and(|h| std::ptr::eq(h, &*m)))
            .filter(|p| matches!(p.status(), PStatus::Running | PStatus::Syscall));
        out.insert(
            g as usize,
            OnM {
                m: m.id,
                p: p.map(|p| p.id),
                syscall: p.is_some_and(|p| p.status() == PStatus::Syscall),
            },
        );
    }
    out
}

/// A goroutine's state as Go names it, and Go's status number
/// (`_Grunnable` 1, `_Grunning` 2, `_Gsyscall` 3, `_Gwaiting` 4).
pub(crate) fn status_of(g: &GSnap, on: Option<&OnM>) -> (&'static str, u8) {
    match on {
        Some(o) if o.syscall => ("syscall", 3),
        Some(_) => ("running", 2),
        None if g.wait_reason != WaitReason::Zero => (g.wait_reason.as_str(), 4),
        None => ("runnable", 1),
    }
}

/// Writes one goroutine's block (header, gort's line, creation site).
fn write_one(w: &mut impl Write, g: &GSnap, on: Option<&OnM>, now: u64) -> io::Result<()> {
    let (status, _) = status_of(g, on);
    let waiting = on.is_none() && g.wait_reason != WaitReason::Zero;
    let waited = if waiting {
        Some(now.saturating_sub(g.wait_since))
    } else {
        None
    };
    write!(w, "goroutine {} [{status}", g.goid)?;
    if let Some(ns) = waited.filter(|&ns| ns >= MINUTE_NS) {
        write!(w, ", {} minutes", ns / MINUTE_NS)?;
    }
    writeln!(w, "]:")?;
    let mut extra = Vec::new();
    if let Some(n) = &g.name {
        extra.push(format!("name={n}"));
    }
    if let Some(o) = on {
        extra.push(format!("m={}", o.m));
        extra.push(match o.p {
            Some(p) => format!("p={p}"),
            None => "p=nil".into(),
        });
    }
    if let Some(ns) = waited {
        extra.push(format!(
            "wait={}.{:03}s",
            ns / 1_000_000_000,
            ns / 1_000_000 % 1000
        ));
    }
    if !extra.is_empty() {
        writeln!(w, "\t{}", extra.join(" "))?;
    }
    let c = g.created_by;
    write!(w, "created by {}:{}:{}", c.file(), c.line(), c.column())?;
    if g.parent != 0 {
        write!(w, " in goroutine {}", g.parent)?;
    }
    writeln!(w)
}

/// Writes every live goroutine, in goid order, separated by blank lines
/// (the module header shows the format). Works from a goroutine (which then
/// shows itself as running) or a plain thread; starts the runtime if needed.
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<()>(0);
/// let h = gort::go!(move || rx.recv());
/// while gort::stats().goroutines == 0 { std::thread::yield_now(); }
/// let mut out = Vec::new();
/// gort::debug::dump_goroutines(&mut out).unwrap();
/// assert!(String::from_utf8(out).unwrap().contains(&format!("goroutine {} [", h.id())));
/// drop(tx);
/// let _ = h.join();
/// ```
pub fn dump_goroutines(w: &mut impl Write) -> io::Result<()> {
    let on = running();
    let now = crate::sys::monotonic_coarse_nanos();
    for (i, g) in allgs::live().iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        write_one(w, g, on.get(&g.slot), now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;

    fn snap(reason: WaitReason, since: u64, name: Option<&str>) -> GSnap {
        GSnap {
            goid: 7,
            parent: 1,
            created_by: Location::caller(),
            name: name.map(std::sync::Arc::from),
            slot: 0x10,
            wait_reason: reason,
            wait_since: since,
        }
    }

    fn text(g: &GSnap, on: Option<&OnM>, now: u64) -> String {
        let mut v = Vec::new();
        write_one(&mut v, g, on, now).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn go_header_minutes_name_and_creation_site() {
        let t = text(
            &snap(WaitReason::ChanReceive, 0, Some("w")),
            None,
            125 * 1_000_000_000,
        );
        let mut lines = t.lines();
        assert_eq!(lines.next(), Some("goroutine 7 [chan receive, 2 minutes]:"));
        assert_eq!(lines.next(), Some("\tname=w wait=125.000s"));
        let created = lines.next().unwrap();
        assert!(
            created.starts_with(&format!("created by {}:", file!())),
            "{created}"
        );
        assert!(created.ends_with(" in goroutine 1"), "{created}");
    }

    #[test]
    fn running_and_runnable() {
        let on = OnM {
            m: 3,
            p: Some(0),
            syscall: false,
        };
        let t = text(&snap(WaitReason::Zero, 0, None), Some(&on), 5);
        assert!(t.starts_with("goroutine 7 [running]:\n\tm=3 p=0\n"), "{t}");
        let t = text(&snap(WaitReason::Zero, 0, None), None, 5);
        assert!(t.starts_with("goroutine 7 [runnable]:\ncreated by "), "{t}");
        let t = text(&snap(WaitReason::Sleep, 4_000_000, None), None, 5_000_000);
        assert!(
            t.starts_with("goroutine 7 [sleep]:\n\twait=0.001s\n"),
            "{t}"
        );
    }
}
