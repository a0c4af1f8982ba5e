//! A goroutine blocked in `read` on a pipe during a preemption storm gets
//! its data and never sees EINTR. Its M sits in the kernel through whole time
//! slices, so sysmon keeps signalling it (the P's slice does not move); the
//! handler finds a PC in libc, not user code, and returns, and SA_RESTART
//! restarts the read (sched/preempt.rs). Two kinds of pipe: a raw `pipe(2)` written
//! by a plain thread, and a child process's stdout (`std::process`). Runs at
//! GOMAXPROCS=1 and 2 with 1 ms slices, beside call-free hogs.

mod common;
mod storm;

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::fd::FromRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{is_child, with_timeout};
use storm::{limit, run_storm_child, storm_len, wait_for_preemption, xorshift};

/// Messages the writer thread sends, and the pause before each one.
const MESSAGES: u64 = 100;
const PAUSE: Duration = Duration::from_millis(20);
/// Lines the child process prints, one every 20 ms.
const CHILD_LINES: u64 = 100;

/// A raw pipe as (read end, write end).
fn pipe() -> (File, File) {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    let r = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(r, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: pipe(2) just returned this descriptor; we are its only owner.
    let rd = unsafe { File::from_raw_fd(fds[0]) };
    // SAFETY: as above.
    let wr = unsafe { File::from_raw_fd(fds[1]) };
    (rd, wr)
}

/// Message `i`: a length that varies, and bytes that say where they belong.
fn message(i: u64) -> Vec<u8> {
    let len = 1 + (xorshift(i + 1) % 3000) as usize;
    (0..len).map(|k| (i as usize * 31 + k) as u8).collect()
}

/// Reads with plain `read` calls (not read_exact, which would hide an
/// EINTR by retrying) until EOF. Returns the bytes and the errors seen.
fn read_all(mut f: File) -> (Vec<u8>, Vec<ErrorKind>) {
    let mut got = Vec::new();
    let mut errors = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return (got, errors),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                errors.push(e.kind());
                if e.kind() != ErrorKind::Interrupted {
                    return (got, errors);
                }
            }
        }
        gort::yield_now(); // let the hogs have the P between reads
    }
}

/// Steps of one hog chunk: a call-free loop whose result is known.
const CHUNK: u64 = 100_000;

/// The state after one chunk from 1 (computed on a plain thread).
fn chunk() -> u64 {
    let mut x = 1u64;
    for _ in 0..CHUNK {
        x = xorshift(x);
    }
    x
}

/// Runs call-free chunks until `stop`, checking each; returns the count.
fn hog(stop: &AtomicBool, want: u64) -> u64 {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut x = 1u64;
        for _ in 0..CHUNK {
            x = xorshift(x);
        }
        assert_eq!(x, want, "a hog's state was corrupted");
        n += 1;
    }
    n
}

fn body(hogs: usize) {
    with_timeout(limit(), move || {
        wait_for_preemption();
        let start = Instant::now();
        let before = gort::stats().preemptions;
        let stop = Arc::new(AtomicBool::new(false));
        let want = std::thread::spawn(chunk).join().expect("reference");
        let hs: Vec<_> = (0..hogs)
            .map(|_| {
                let stop = stop.clone();
                gort::go!(move || hog(&stop, want))
            })
            .collect();

        // 1. A raw pipe, written by a plain thread at its own pace.
        let (rd, mut wr) = pipe();
        let writer = std::thread::spawn(move || {
            for i in 0..MESSAGES {
                std::thread::sleep(PAUSE);
                wr.write_all(&message(i)).expect("write pipe");
            }
        });
        let raw_reader = gort::go!(move || read_all(rd));

        // 2. A child process's stdout.
        let mut child = Command::new("sh")
            .args([
                "-c",
                &format!("i=0; while [ $i -lt {CHILD_LINES} ]; do echo line $i; sleep 0.02; i=$((i+1)); done"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let out = child.stdout.take().expect("child stdout");
        let proc_reader = gort::go!(move || {
            let mut r = BufReader::new(out);
            let mut lines = Vec::new();
            let mut errors = Vec::new();
            loop {
                let mut l = String::new();
                match r.read_line(&mut l) {
                    Ok(0) => break,
                    Ok(_) => lines.push(l),
                    Err(e) => {
                        errors.push(e.kind());
                        if e.kind() != ErrorKind::Interrupted {
                            break;
                        }
                    }
                }
            }
            (lines, errors)
        });

        let (got, raw_errors) = raw_reader.join().expect("raw reader");
        writer.join().expect("writer");
        let (lines, proc_errors) = proc_reader.join().expect("process reader");
        assert!(child.wait().expect("wait sh").success());
        // The storm lasts its full length even if the pipes ended early.
        std::thread::sleep(storm_len().saturating_sub(start.elapsed()));
        stop.store(true, Ordering::Relaxed);
        let chunks: u64 = hs.into_iter().map(|h| h.join().expect("hog")).sum();

        assert_eq!(raw_errors, vec![], "read(2) on the raw pipe failed");
        assert_eq!(proc_errors, vec![], "reading the child's stdout failed");
        let want: Vec<u8> = (0..MESSAGES).flat_map(message).collect();
        assert_eq!(got.len(), want.len(), "bytes from the raw pipe");
        assert!(got == want, "the raw pipe's bytes differ");
        let want_lines: Vec<String> = (0..CHILD_LINES).map(|i| format!("line {i}\n")).collect();
        assert_eq!(lines, want_lines, "the child's lines");
        let s = gort::stats();
        println!(
            "storm: pipe-read P={} {} bytes and {} lines read in {:.2?}; hogs ran {chunks} chunks; preemptions={}",
            s.gomaxprocs,
            got.len(),
            lines.len(),
            start.elapsed(),
            s.preemptions - before
        );
        assert!(s.preemptions > before, "the hogs were never preempted");
    });
}

#[test]
fn blocked_pipe_reads_get_their_data_gomaxprocs_1() {
    if is_child("blocked_pipe_reads_get_their_data_gomaxprocs_1") {
        return body(2);
    }
    run_storm_child("blocked_pipe_reads_get_their_data_gomaxprocs_1", 1, &[]);
}

#[test]
fn blocked_pipe_reads_get_their_data_gomaxprocs_2() {
    if is_child("blocked_pipe_reads_get_their_data_gomaxprocs_2") {
        return body(3);
    }
    run_storm_child("blocked_pipe_reads_get_their_data_gomaxprocs_2", 2, &[]);
}
