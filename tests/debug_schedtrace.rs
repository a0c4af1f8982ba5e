//! `GODEBUG=schedtrace=N[,scheddetail=1]` (issue 8): a child process prints
//! Go's SCHED line every N ms on stderr; each field is checked against the
//! pattern Go prints, and the detail lines have Go's shape, with a goroutine
//! blocked on a channel shown as `status=4(chan receive)`.

mod common;

use std::time::{Duration, Instant};

use common::{is_child, run_child, texts};

/// The child's workload: two goroutines computing and one blocked on a
/// channel, for ~120 ms (a few schedtrace periods), then a clean exit.
fn workload() {
    let (tx, rx) = gort::chan::bounded::<()>(0);
    let blocked = gort::Builder::new()
        .name("blocked")
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap();
    let until = Instant::now() + Duration::from_millis(120);
    let busy: Vec<_> = (0..2)
        .map(|i| {
            gort::go!(move || {
                let mut x = i as u64;
                while Instant::now() < until {
                    x = common::cpu_unit(x);
                    gort::yield_now();
                }
                x
            })
        })
        .collect();
    for h in busy {
        h.join().unwrap();
    }
    drop(tx);
    blocked.join().unwrap();
}

#[test]
fn child_schedtrace() {
    if is_child("child_schedtrace") {
        workload();
    }
}

#[test]
fn child_scheddetail() {
    if is_child("child_scheddetail") {
        workload();
    }
}

/// Checks `line` field by field against Go's format; returns the ms value.
/// `SCHED <ms>ms: gomaxprocs=<n> idleprocs=<n> threads=<n>
/// spinningthreads=<n> needspinning=<n> idlethreads=<n> runqueue=<n> [<n> ...]`
fn check_sched_line(line: &str, procs: usize, detail: bool) -> u64 {
    let mut f = line.split(' ');
    assert_eq!(f.next(), Some("SCHED"), "{line}");
    let ms = f
        .next()
        .and_then(|t| t.strip_suffix("ms:"))
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("'<digits>ms:' in {line}"));
    let mut field = |name: &str| -> u64 {
        let t = f
            .next()
            .unwrap_or_else(|| panic!("{name} missing in {line}"));
        let v = t
            .strip_prefix(name)
            .and_then(|t| t.strip_prefix('='))
            .unwrap_or_else(|| panic!("expected {name}= , got {t:?} in {line}"));
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number in {line}"))
    };
    assert_eq!(field("gomaxprocs"), procs as u64, "{line}");
    let idle = field("idleprocs");
    assert!(idle <= procs as u64, "{line}");
    // The counters are read without a lock, as Go's are: at start a
    // spinning M may be counted before its thread is, so no cross-checks.
    field("threads");
    field("spinningthreads");
    assert_eq!(field("needspinning"), 0, "{line}");
    field("idlethreads");
    let _runqueue = field("runqueue");
    let rest: Vec<&str> = f.collect();
    if detail {
        assert_eq!(
            rest,
            [
                "gcwaiting=false",
                "nmidlelocked=0",
                "stopwait=0",
                "sysmonwait=false"
            ],
            "{line}"
        );
    } else {
        // [len0 len1 ...]: one per P.
        let joined = rest.join(" ");
        let inner = joined
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or_else(|| panic!("[..] missing in {line}"));
        let lens: Vec<u64> = inner
            .split(' ')
            .map(|n| n.parse().unwrap_or_else(|_| panic!("{n:?} in {line}")))
            .collect();
        assert_eq!(lens.len(), procs, "{line}");
    }
    ms
}

#[test]
fn schedtrace_prints_gos_line_every_period() {
    let out = run_child(
        "child_schedtrace",
        &[("GOMAXPROCS", "3"), ("GODEBUG", "schedtrace=20")],
    );
    let (_, err) = texts(&out);
    assert!(out.status.success(), "child failed:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("SCHED ")).collect();
    println!("{}", lines.join("\n"));
    assert!(lines.len() >= 3, "want >= 3 SCHED lines:\n{err}");
    let ms: Vec<u64> = lines
        .iter()
        .map(|l| check_sched_line(l, 3, false))
        .collect();
    assert_eq!(ms[0], 0, "the first line is printed at start, as Go's");
    assert!(ms.windows(2).all(|w| w[0] < w[1]), "{ms:?}");
    // Every 20 ms: the gaps are at least the period, and the lines keep coming.
    assert!(ms.windows(2).all(|w| w[1] - w[0] >= 19), "{ms:?}");
}

#[test]
fn scheddetail_adds_p_m_and_g_lines() {
    let out = run_child(
        "child_scheddetail",
        &[
            ("GOMAXPROCS", "2"),
            ("GODEBUG", "schedtrace=20,scheddetail=1"),
        ],
    );
    let (_, err) = texts(&out);
    assert!(out.status.success(), "child failed:\n{err}");
    let sched: Vec<&str> = err.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(sched.len() >= 2, "{err}");
    for l in &sched {
        check_sched_line(l, 2, true);
    }
    let p_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("  P")).collect();
    for l in &p_lines {
        // "  P0: status=1 schedtick=41 syscalltick=0 m=0 runqsize=0 gfreecnt=0 timerslen=0"
        let names: Vec<&str> = l
            .split_whitespace()
            .skip(1)
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "status",
                "schedtick",
                "syscalltick",
                "m",
                "runqsize",
                "gfreecnt",
                "timerslen"
            ],
            "{l}"
        );
    }
    assert!(p_lines.iter().any(|l| l.starts_with("  P0: ")), "{err}");
    assert!(p_lines.iter().any(|l| l.starts_with("  P1: ")), "{err}");
    let m_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("  M")).collect();
    assert!(!m_lines.is_empty(), "{err}");
    for l in &m_lines {
        assert!(
            l.contains(": p=") && l.contains(" curg=") && l.ends_with(" lockedg=nil"),
            "{l}"
        );
    }
    let g_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("  G")).collect();
    assert!(
        g_lines
            .iter()
            .any(|l| l.contains(": status=4(chan receive) m=nil lockedm=nil")),
        "no goroutine blocked on a channel in:\n{}",
        g_lines.join("\n")
    );
    assert!(
        g_lines.iter().any(|l| l.contains(": status=2() m=")),
        "no running goroutine in:\n{}",
        g_lines.join("\n")
    );
}
