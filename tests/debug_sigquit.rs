//! SIGQUIT: a child process that receives SIGQUIT prints every
//! goroutine — here one blocked on a channel, with its wait reason, name and
//! creation site — and exits with status 2, as a Go program does.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{is_child, with_timeout};

const CHILD: &str = "child_waits_for_sigquit";

#[test]
fn child_waits_for_sigquit() {
    if !is_child(CHILD) {
        return;
    }
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let b = gort::Builder::new().name("stuck");
    let (h, line) = (b.spawn(move || rx.recv()).unwrap(), line!());
    // Ready once the dump itself shows the goroutine parked.
    let want = format!("goroutine {} [chan receive]:", h.id());
    loop {
        let mut v = Vec::new();
        gort::debug::dump_goroutines(&mut v).unwrap();
        if String::from_utf8_lossy(&v).contains(&want) {
            break;
        }
        std::thread::yield_now();
    }
    println!("READY {} {line}", h.id());
    // Wait for the signal; the sender keeps the channel open meanwhile.
    std::thread::sleep(Duration::from_secs(60));
    drop(tx);
    println!("UNREACHABLE");
}

#[test]
fn sigquit_dumps_goroutines_and_exits_2() {
    with_timeout(Duration::from_secs(60), || {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args([CHILD, "--exact", "--nocapture", "--test-threads=1"])
            .env("GORT_TEST_CHILD", CHILD)
            .env_remove("GODEBUG")
            .env("GOMAXPROCS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (id, line) = loop {
            let mut l = String::new();
            assert!(
                out.read_line(&mut l).unwrap() > 0,
                "child ended before READY"
            );
            // The harness prints "test name ... " first, on the same line.
            if let Some((_, rest)) = l.trim().split_once("READY ") {
                let mut it = rest.split(' ').map(|n| n.parse::<u64>().unwrap());
                break (it.next().unwrap(), it.next().unwrap());
            }
        };
        // SAFETY: kill with a valid pid (our child, not yet reaped) and a
        // valid signal number has no memory-safety preconditions.
        let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
        assert_eq!(r, 0);
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        println!("{err}");
        assert_eq!(status.code(), Some(2), "stderr:\n{err}");
        assert!(!rest.contains("UNREACHABLE"), "{rest}");
        assert!(err.starts_with("SIGQUIT: quit\n\n"), "{err}");
        let block = err
            .split("\n\n")
            .find(|b| b.starts_with(&format!("goroutine {id} [")))
            .unwrap_or_else(|| panic!("goroutine {id} missing:\n{err}"));
        let mut lines = block.lines();
        assert_eq!(
            lines.next(),
            Some(format!("goroutine {id} [chan receive]:").as_str())
        );
        assert!(
            lines.next().unwrap().starts_with("\tname=stuck wait="),
            "{block}"
        );
        let created = lines.next().unwrap();
        assert!(
            created.starts_with(&format!("created by tests/debug_sigquit.rs:{line}:")),
            "{created}"
        );
    });
}
