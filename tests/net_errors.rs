//! `gort::net` errors keep std's meaning and never hang: a closed port is
//! `ConnectionRefused` at once, a peer's close reads as `Ok(0)`, a write to
//! a reset connection is an error (not a SIGPIPE death: checked in a child
//! with SIGPIPE back to its default action), a read timeout is `WouldBlock`
//! (std's Unix rule), `connect_timeout` is `TimedOut`, a port in use is
//! `AddrInUse`. Each on a goroutine and on a plain thread.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use common::{is_child, run_child, texts, with_timeout};
use gort::net::{TcpListener, TcpStream, UnixStream};

const LIMIT: Duration = Duration::from_secs(30);

/// An address on which nothing listens (a port just released).
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Runs `f` on a goroutine and on this plain thread.
fn both(f: fn()) {
    gort::go!(f).join().unwrap();
    f();
}

#[test]
fn connect_to_a_closed_port_is_refused_promptly() {
    with_timeout(LIMIT, || {
        both(|| {
            let addr = closed_port();
            let t = Instant::now();
            let e = TcpStream::connect(addr).unwrap_err();
            let took = t.elapsed();
            eprintln!("refused after {took:?}: {e}");
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
            assert!(took < Duration::from_secs(2), "{took:?}");
            let e = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        });
    });
}

#[test]
fn read_after_the_peer_closes_is_zero() {
    with_timeout(LIMIT, || {
        both(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let server = gort::go!(move || {
                let (mut s, _) = l.accept().unwrap();
                s.write_all(b"bye").unwrap();
                // Dropped: FIN.
            });
            let mut c = TcpStream::connect(addr).unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"bye");
            let mut buf = [0u8; 8];
            assert_eq!(c.read(&mut buf).unwrap(), 0);
            assert_eq!(c.read(&mut buf).unwrap(), 0);
            server.join().unwrap();
        });
    });
}

/// Child body: SIGPIPE at its default action (death), then writes to a
/// connection the peer reset, on a goroutine, a plain thread, and a Unix
/// stream whose peer is gone.
#[test]
fn child_write_after_reset_is_an_error() {
    if !is_child("child_write_after_reset_is_an_error") {
        return;
    }
    // SAFETY: restoring the default disposition of SIGPIPE; no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    with_timeout(LIMIT, || {
        both(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let mut c = TcpStream::connect(addr).unwrap();
            let (s, _) = l.accept().unwrap();
            // Unread data in the server's buffer: its close sends a RST.
            c.write_all(b"unread").unwrap();
            // Wait until it is there (peek leaves it unread).
            s.peek(&mut [0u8; 1]).unwrap();
            drop(s);
            let mut err = None;
            for _ in 0..200 {
                // Short writes are fine here: only the error matters.
                match c.write(&[0u8; 1024]) {
                    Ok(n) => {
                        assert!(n > 0);
                        gort::time::sleep(Duration::from_millis(2))
                    }
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            let e = err.expect("writes to a reset connection kept succeeding");
            eprintln!("write after reset: {e}");
            assert!(
                matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
                "{e}"
            );
        });
        let (mut a, b) = UnixStream::pair().unwrap();
        drop(b);
        let e = a.write(b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
        println!("OK no SIGPIPE");
    });
}

#[test]
fn write_after_reset_is_an_error() {
    let out = with_timeout(LIMIT, || {
        run_child("child_write_after_reset_is_an_error", &[])
    });
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("OK no SIGPIPE"), "{stdout}\n{stderr}");
}

#[test]
fn read_timeout_is_would_block() {
    with_timeout(LIMIT, || {
        both(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let mut c = TcpStream::connect(addr).unwrap();
            let (mut s, _) = l.accept().unwrap();
            let d = Duration::from_millis(50);
            c.set_read_timeout(Some(d)).unwrap();
            assert_eq!(c.read_timeout().unwrap(), Some(d));
            let mut buf = [0u8; 4];
            let t = Instant::now();
            let e = c.read(&mut buf).unwrap_err();
            let took = t.elapsed();
            eprintln!("read timed out after {took:?}: {e}");
            assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{e}"
            );
            assert!(took >= d && took < d + Duration::from_secs(2), "{took:?}");
            // The connection still works after a timeout.
            s.write_all(b"late").unwrap();
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"late");
            assert!(c.set_read_timeout(Some(Duration::ZERO)).is_err());
            c.set_read_timeout(None).unwrap();
            // A timeout on accept's peer side: write timeout on a full buffer.
            s.set_write_timeout(Some(Duration::from_millis(30)))
                .unwrap();
            let chunk = vec![0u8; 1 << 16];
            let e = loop {
                if let Err(e) = s.write(&chunk) {
                    break e;
                }
            };
            assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        });
    });
}

#[test]
fn connect_timeout_times_out_and_rejects_zero() {
    with_timeout(LIMIT, || {
        both(|| {
            assert_eq!(
                TcpStream::connect_timeout(&closed_port(), Duration::ZERO)
                    .unwrap_err()
                    .kind(),
                ErrorKind::InvalidInput
            );
            // A full accept queue: SYNs are dropped, so a connect waits.
            // (Loopback only; whether the kernel drops depends on its
            // settings, so a connect that succeeds is accepted too.)
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let mut held = Vec::new();
            let t = Instant::now();
            for _ in 0..4096 {
                match TcpStream::connect_timeout(&addr, Duration::from_millis(20)) {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                        eprintln!("timed out after {} connects", held.len());
                        break;
                    }
                }
                if t.elapsed() > Duration::from_secs(5) {
                    break;
                }
            }
        });
    });
}

#[test]
fn a_port_in_use_is_addr_in_use_and_shutdown_ends_a_read() {
    with_timeout(LIMIT, || {
        both(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let e = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
            let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (s, _) = l.accept().unwrap();
            let c2 = c.try_clone().unwrap();
            let reader = gort::go!(move || {
                let mut buf = [0u8; 8];
                (&c2).read(&mut buf).unwrap()
            });
            std::thread::sleep(Duration::from_millis(20));
            c.shutdown(Shutdown::Read).unwrap();
            assert_eq!(reader.join().unwrap(), 0);
            drop(s);
        });
    });
}

#[test]
fn nonblocking_mode_returns_would_block() {
    with_timeout(LIMIT, || {
        both(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
            let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            c.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 1];
            assert_eq!(
                (&c).read(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
        });
    });
}
