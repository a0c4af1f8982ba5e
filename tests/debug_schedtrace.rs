//! `GODEBUG=schedtrace=N[,scheddetail=1]`: a child process prints
//! Go's SCHED line every N ms on stderr; each field is checked against the
//! pattern Go prints, and the detail lines have Go's shape, with a goroutine
//! blocked on a channel shown as `status=4(chan receive)`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{is_child, with_timeout};

/// The child's workload: two goroutines computing and yielding, and one
/// blocked on a channel, until the parent writes a line to the child's
/// stdin (it has read enough SCHED lines by then); then a clean exit.
fn workload() {
    let (tx, rx) = gort::chan::bounded::<()>(0);
    let blocked = gort::Builder::new()
        .name("blocked")
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..2)
        .map(|i| {
            let stop = stop.clone();
            gort::go!(move || {
                let mut x = i as u64;
                while !stop.load(Ordering::Relaxed) {
                    x = common::cpu_unit(x);
                    gort::yield_now();
                }
                x
            })
        })
        .collect();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    stop.store(true, Ordering::Relaxed);
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

/// Runs child `test` with `godebug` and GOMAXPROCS=`procs`, reading its
/// stderr until `enough(lines so far)`; then tells it to finish. Returns
/// every stderr line.
fn run_until(
    test: &str,
    procs: usize,
    godebug: &str,
    enough: fn(&[String]) -> bool,
) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("GORT_TEST_CHILD", test)
        .env("GOMAXPROCS", procs.to_string())
        .env("GODEBUG", godebug)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        assert!(
            err.read_line(&mut l).unwrap() > 0,
            "child ended early:\n{}",
            lines.join("\n")
        );
        lines.push(l.trim_end().to_string());
        if enough(&lines) {
            break;
        }
    }
    child.stdin.take().unwrap().write_all(b"stop\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    lines.extend(rest.lines().map(str::to_string));
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed:\n{}", lines.join("\n"));
    lines
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
    with_timeout(Duration::from_secs(60), || {
        let err = run_until("child_schedtrace", 3, "schedtrace=20", |ls| {
            ls.iter().filter(|l| l.starts_with("SCHED ")).count() >= 4
        });
        let lines: Vec<&String> = err.iter().filter(|l| l.starts_with("SCHED ")).collect();
        for l in &lines {
            println!("{l}");
        }
        let ms: Vec<u64> = lines
            .iter()
            .map(|l| check_sched_line(l, 3, false))
            .collect();
        assert_eq!(ms[0], 0, "the first line is printed at start, as Go's");
        // Every 20 ms: a report is due a period after the previous one.
        assert!(ms.windows(2).all(|w| w[1] >= w[0] + 19), "{ms:?}");
    });
}

#[test]
fn scheddetail_adds_p_m_and_g_lines() {
    with_timeout(Duration::from_secs(60), || {
        // Enough: a report after the blocked goroutine parked, i.e. one
        // whose G lines show it (and the report's other lines with it).
        let err = run_until(
            "child_scheddetail",
            2,
            "schedtrace=20,scheddetail=1",
            |ls| {
                let last_sched = ls.iter().rposition(|l| l.starts_with("SCHED "));
                let parked = ls
                    .iter()
                    .rposition(|l| l.contains("status=4(chan receive)"));
                matches!((last_sched, parked), (Some(s), Some(p)) if p > s && ls.len() > p + 1)
                    && ls.iter().filter(|l| l.starts_with("SCHED ")).count() >= 2
                    && ls
                        .iter()
                        .any(|l| l.starts_with("  G") && l.contains(": status=2() m="))
            },
        );
        check_detail(&err);
    });
}

fn check_detail(err: &[String]) {
    let text = err.join("\n");
    let sched: Vec<&String> = err.iter().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(sched.len() >= 2, "{text}");
    for l in &sched {
        check_sched_line(l, 2, true);
    }
    let p_lines: Vec<&String> = err.iter().filter(|l| l.starts_with("  P")).collect();
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
    assert!(p_lines.iter().any(|l| l.starts_with("  P0: ")), "{text}");
    assert!(p_lines.iter().any(|l| l.starts_with("  P1: ")), "{text}");
    let m_lines: Vec<&String> = err.iter().filter(|l| l.starts_with("  M")).collect();
    assert!(!m_lines.is_empty(), "{text}");
    for l in &m_lines {
        assert!(
            l.contains(": p=") && l.contains(" curg=") && l.ends_with(" lockedg=nil"),
            "{l}"
        );
    }
    let g_lines: Vec<&String> = err.iter().filter(|l| l.starts_with("  G")).collect();
    assert!(
        g_lines
            .iter()
            .any(|l| l.contains(": status=4(chan receive) m=nil lockedm=nil")),
        "no goroutine blocked on a channel in:\n{text}"
    );
    assert!(
        g_lines.iter().any(|l| l.contains(": status=2() m=")),
        "no running goroutine in:\n{text}"
    );
}
