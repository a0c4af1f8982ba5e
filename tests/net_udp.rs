//! `gort::net::UdpSocket` round trips (goroutine to goroutine, goroutine to
//! plain thread, connected sockets, a receive timeout) and Unix-domain
//! streams (a listener on a path, a pair).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use common::with_timeout;
use gort::net::{UdpSocket, UnixListener, UnixStream};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn udp_round_trip_between_goroutines() {
    with_timeout(LIMIT, || {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        const N: u32 = 1000;
        let echo = gort::go!(move || {
            let mut buf = [0u8; 64];
            for _ in 0..N {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = gort::go!(move || {
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            c.connect(addr).unwrap();
            assert_eq!(c.peer_addr().unwrap(), addr);
            // Loss is possible in principle even on loopback: time out and
            // resend rather than hang.
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 64];
            for i in 0..N {
                let msg = i.to_le_bytes();
                c.send(&msg).unwrap();
                let n = c.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], &msg);
            }
        });
        client.join().unwrap();
        echo.join().unwrap();
    });
}

#[test]
fn udp_with_a_plain_thread_and_a_timeout() {
    with_timeout(LIMIT, || {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let g = gort::go!(move || {
            let mut buf = [0u8; 16];
            let (n, from) = b.recv_from(&mut buf).unwrap();
            assert_eq!(from, a_addr);
            b.send_to(&buf[..n], from).unwrap();
            // Nothing more comes: the timeout fires.
            b.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            let t = Instant::now();
            let e = b.recv_from(&mut buf).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
            assert!(t.elapsed() >= Duration::from_millis(30));
        });
        // This plain thread blocks in its receive.
        a.send_to(b"ping", b_addr).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], b_addr));
        g.join().unwrap();
        let mut peeked = [0u8; 4];
        a.send_to(b"peek", a_addr).unwrap();
        assert_eq!(a.peek_from(&mut peeked).unwrap().0, 4);
        assert_eq!(a.recv_from(&mut buf).unwrap().0, 4);
        assert_eq!(&peeked, b"peek");
    });
}

#[test]
fn unix_streams_on_a_path_and_in_a_pair() {
    with_timeout(LIMIT, || {
        let path = std::env::temp_dir().join(format!("gort-net-udp-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        let p = path.clone();
        let clients: Vec<_> = (0..50u8)
            .map(|i| {
                let p = p.clone();
                gort::go!(move || {
                    let mut c = UnixStream::connect(&p).unwrap();
                    c.write_all(&[i; 100]).unwrap();
                    let mut back = [0u8; 100];
                    c.read_exact(&mut back).unwrap();
                    assert_eq!(back, [i.wrapping_add(1); 100]);
                })
            })
            .collect();
        let server = gort::go!(move || {
            for _ in 0..50 {
                let (mut s, _) = l.accept().unwrap();
                gort::go!(move || {
                    let mut buf = [0u8; 100];
                    s.read_exact(&mut buf).unwrap();
                    let reply = buf.map(|b| b.wrapping_add(1));
                    s.write_all(&reply).unwrap();
                });
            }
        });
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
        std::fs::remove_file(&path).unwrap();

        let (a, mut b) = UnixStream::pair().unwrap();
        let h = gort::go!(move || {
            let mut s = String::new();
            b.read_to_string(&mut s).unwrap();
            s
        });
        (&a).write_all(b"over the pair").unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(h.join().unwrap(), "over the pair");
    });
}
