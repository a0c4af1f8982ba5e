//! Pipes that park, through the public surface at GOMAXPROCS 1 and 2:
//! `gort::io::pipe` carries 64 MiB with every byte checked; `gort::io::copy`
//! moves 64 MiB between two pipes (splice) with every byte checked; a FIFO
//! opened with `gort::fs::File` parks its reader in the netpoller ("IO
//! wait"), not in a blocking call; read timeouts and a broken pipe.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use common::{wait_parked, with_timeout};

const LIMIT: Duration = Duration::from_secs(120);
const TOTAL: usize = 64 << 20;

/// The byte at offset `i` of the test stream (not periodic in 64 KiB, so
/// a lost or repeated chunk shows).
fn byte_at(i: usize) -> u8 {
    (i % 251) as u8 ^ (i >> 16) as u8
}

/// Writes the test stream to `w` in uneven chunks.
fn write_stream(mut w: impl Write) {
    let mut i = 0;
    let mut n = 1;
    while i < TOTAL {
        let len = n.min(TOTAL - i);
        let chunk: Vec<u8> = (i..i + len).map(byte_at).collect();
        w.write_all(&chunk).unwrap();
        i += len;
        n = n * 7 % 100_003 + 1;
    }
}

/// Reads `r` to its end and checks it is the test stream.
fn check_stream(mut r: impl Read) {
    let mut buf = vec![0u8; 100_000];
    let mut i = 0;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, byte_at(i + k), "byte {} differs", i + k);
        }
        i += n;
    }
    assert_eq!(i, TOTAL);
}

fn pipe_body() {
    let (r, w) = gort::io::pipe().unwrap();
    let writer = gort::go!(move || write_stream(w));
    check_stream(r);
    writer.join().unwrap();
}

#[test]
fn a_pipe_carries_64_mib() {
    common::at_p1_and_p2(LIMIT, "a_pipe_carries_64_mib", pipe_body);
}

fn copy_body() {
    let (mut r1, w1) = gort::io::pipe().unwrap();
    let (r2, mut w2) = gort::io::pipe().unwrap();
    let writer = gort::go!(move || write_stream(w1));
    let copier = gort::go!(move || gort::io::copy(&mut r1, &mut w2).unwrap());
    check_stream(r2);
    assert_eq!(copier.join().unwrap(), TOTAL as u64);
    writer.join().unwrap();
}

#[test]
fn copy_moves_64_mib_between_pipes() {
    common::at_p1_and_p2(LIMIT, "copy_moves_64_mib_between_pipes", copy_body);
}

fn fifo_body() {
    let path = std::env::temp_dir().join(format!("gort-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let st = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo");
    let p2 = path.clone();
    // Opening waits for the other end (a blocking call); reading parks.
    let reader = gort::go!(move || {
        let mut f = gort::fs::File::open(&p2).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        s
    });
    let mut w = gort::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap();
    wait_parked("IO wait", 1);
    w.write_all(b"through a fifo").unwrap();
    drop(w);
    assert_eq!(reader.join().unwrap(), "through a fifo");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_fifo_reader_parks_in_the_netpoller() {
    common::at_p1_and_p2(LIMIT, "a_fifo_reader_parks_in_the_netpoller", fifo_body);
}

#[test]
fn timeouts_and_broken_pipes() {
    with_timeout(LIMIT, || {
        let (mut r, mut w) = gort::io::pipe().unwrap();
        r.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        assert_eq!(
            r.read(&mut [0; 4]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        w.write_all(b"ok").unwrap();
        let mut b = [0; 2];
        r.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ok");
        drop(r);
        assert_eq!(w.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    });
}
