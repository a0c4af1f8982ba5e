//! `gort::process` through its public surface: 200 concurrent
//! `Command::output()` calls at GOMAXPROCS=1 finish with the Ms bounded
//! (waits park on pidfds, not threads); pipes carry bytes both ways; exit
//! codes, kill, wait_timeout and wait_context; a dropped running child is
//! still reaped (no zombie).

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{child_ok, is_child, m_threads, with_timeout, PeakWatcher};
use gort::process::{Command, Stdio};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn two_hundred_concurrent_outputs_keep_threads_bounded() {
    let name = "two_hundred_concurrent_outputs_keep_threads_bounded";
    if !is_child(name) {
        let (so, _) = child_ok(name, &[("GOMAXPROCS", "1")]);
        println!(
            "{}",
            so.lines().find(|l| l.contains("report:")).unwrap_or("")
        );
        return;
    }
    with_timeout(LIMIT, || {
        let watch = PeakWatcher::start(Duration::from_millis(1), m_threads);
        let hs: Vec<_> = (0..200)
            .map(|i| {
                gort::go!(move || {
                    let script =
                        format!("sleep 0.2; echo out {i}; echo err {i} >&2; exit {}", i % 7);
                    Command::new("sh").args(["-c", &script]).output().unwrap()
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            let out = h.join().unwrap();
            assert_eq!(out.stdout, format!("out {i}\n").into_bytes());
            assert_eq!(out.stderr, format!("err {i}\n").into_bytes());
            assert_eq!(out.status.code(), Some((i % 7) as i32));
        }
        let peak = watch.finish();
        println!("report: 200 concurrent outputs, peak Ms {peak}");
        assert!(peak <= 1 + 6, "Ms grew to {peak} at GOMAXPROCS=1");
    });
}

fn pipes_body() {
    // 8 MiB through `cat`: written by one goroutine, read by another.
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    const N: usize = 8 << 20;
    let writer = gort::go!(move || {
        let chunk: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
        for _ in 0..N / chunk.len() {
            stdin.write_all(&chunk).unwrap();
        }
    });
    let mut got = Vec::with_capacity(N);
    stdout.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(got.len(), N);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, &b)| b == ((i % 65_536) % 251) as u8));
    println!("report: 8 MiB through cat");
}

#[test]
fn pipes_carry_bytes_both_ways() {
    common::at_p1_and_p2(LIMIT, "pipes_carry_bytes_both_ways", pipes_body);
}

fn waits_body() {
    let st = Command::new("sh").args(["-c", "exit 42"]).status().unwrap();
    assert_eq!(st.code(), Some(42));
    let mut c = Command::new("sleep").arg("60").spawn().unwrap();
    assert!(c.try_wait().unwrap().is_none());
    assert!(c.wait_timeout(Duration::from_millis(20)).unwrap().is_none());
    c.kill().unwrap();
    let st = c.wait().unwrap();
    assert!(!st.success());
    assert_eq!(
        c.wait().unwrap(),
        st,
        "a second wait returns the same status"
    );
    let (ctx, cancel) = gort::context::background().with_cancel();
    let mut c = Command::new("sleep").arg("60").spawn().unwrap();
    let waiter = gort::go!(move || c.wait_context(&ctx).unwrap());
    cancel.cancel();
    assert!(!waiter.join().unwrap().success());
    let missing = Command::new("/nonexistent/gort-test").spawn().unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn statuses_kill_and_timeouts() {
    common::at_p1_and_p2(LIMIT, "statuses_kill_and_timeouts", waits_body);
}

/// The process state letter of `pid` from /proc, if it exists.
fn state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

fn reaper_body() {
    let mut pids = Vec::new();
    for _ in 0..20 {
        let c = Command::new("sleep").arg("0.05").spawn().unwrap();
        pids.push(c.id());
        drop(c); // still running: a goroutine reaps it
    }
    // Each pid is our child until reaped (so it cannot be reused before):
    // wait until none is left, zombie or not.
    for pid in pids {
        let mut rounds = 0;
        while state(pid).is_some() {
            rounds += 1;
            assert!(
                rounds < 20_000,
                "pid {pid} not reaped: state {:?}",
                state(pid)
            );
            gort::time::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn a_dropped_child_is_reaped() {
    common::at_p1_and_p2(LIMIT, "a_dropped_child_is_reaped", reaper_body);
}
