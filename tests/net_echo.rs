//! `gort::net` at scale: 1,000 client goroutines each make 100 round trips
//! through an echo server over loopback (one goroutine per connection), every
//! byte checked; while they wait on their sockets the runtime keeps at most
//! GOMAXPROCS + 3 Ms. Plus the same exchange with `&TcpStream` shared by a
//! reading and a writing goroutine (read and write waiters on one fd).

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{os_threads, with_timeout};
use gort::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(60);
const CLIENTS: usize = 1000;
const ROUNDS: usize = 100;
const MSG: usize = 64;

/// Starts an echo server goroutine; returns its address.
fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().unwrap();
    gort::go!(move || {
        for s in l.incoming() {
            let mut s = s.expect("accept");
            gort::go!(move || {
                let mut buf = [0u8; 1024];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => s.write_all(&buf[..n]).expect("echo write"),
                        Err(e) => panic!("echo read: {e}"),
                    }
                }
            });
        }
    });
    addr
}

/// The message client `c` sends in round `r`: every byte depends on both.
fn message(c: usize, r: usize) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    let mut x = (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (r as u64 + 1);
    for b in &mut m {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    m
}

#[test]
fn thousand_clients_hundred_round_trips_few_threads() {
    with_timeout(LIMIT, || {
        let addr = echo_server();
        let procs = gort::gomaxprocs();
        let done = Arc::new(AtomicBool::new(false));
        let max_ms = Arc::new(AtomicUsize::new(0));
        let watcher = {
            let (done, max_ms) = (done.clone(), max_ms.clone());
            std::thread::spawn(move || {
                let mut max_os = 0;
                while !done.load(SeqCst) {
                    max_ms.fetch_max(gort::stats().threads, SeqCst);
                    max_os = max_os.max(os_threads());
                    std::thread::sleep(Duration::from_millis(1));
                }
                max_os
            })
        };
        let start = Instant::now();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                gort::go!(move || {
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.set_nodelay(true).unwrap();
                    let mut back = [0u8; MSG];
                    for r in 0..ROUNDS {
                        let m = message(c, r);
                        s.write_all(&m).expect("client write");
                        s.read_exact(&mut back).expect("client read");
                        assert_eq!(back, m, "client {c} round {r}: wrong bytes");
                    }
                    ROUNDS * MSG
                })
            })
            .collect();
        let bytes: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        let took = start.elapsed();
        done.store(true, SeqCst);
        let max_os = watcher.join().unwrap();
        let max_ms = max_ms.load(SeqCst);
        eprintln!(
            "{CLIENTS} clients x {ROUNDS} round trips in {took:?} ({:.0} rt/s); \
             Ms max {max_ms} (GOMAXPROCS {procs}); OS threads max {max_os}",
            (CLIENTS * ROUNDS) as f64 / took.as_secs_f64()
        );
        assert_eq!(bytes, CLIENTS * ROUNDS * MSG);
        // Ms: up to GOMAXPROCS running, one blocked in the poller, one or two
        // between a hand-off and the idle list. Other OS threads are not Ms:
        // sysmon, this test's threads, the harness.
        assert!(
            max_ms <= procs + 3,
            "{max_ms} Ms for GOMAXPROCS={procs} while goroutines waited on sockets"
        );
    });
}

#[test]
fn a_reader_and_a_writer_share_one_stream() {
    with_timeout(LIMIT, || {
        let addr = echo_server();
        let s = Arc::new(TcpStream::connect(addr).unwrap());
        const N: usize = 2000;
        let reader = {
            let s = s.clone();
            gort::go!(move || {
                let mut got = vec![0u8; N * MSG];
                (&*s).read_exact(&mut got).unwrap();
                got
            })
        };
        let writer = {
            let s = s.clone();
            gort::go!(move || {
                for r in 0..N {
                    (&*s).write_all(&message(7, r)).unwrap();
                    if r % 100 == 0 {
                        gort::yield_now();
                    }
                }
            })
        };
        writer.join().unwrap();
        let got = reader.join().unwrap();
        for r in 0..N {
            assert_eq!(got[r * MSG..(r + 1) * MSG], message(7, r), "chunk {r}");
        }
    });
}

#[test]
fn plain_threads_and_goroutines_talk() {
    with_timeout(LIMIT, || {
        // Server in a goroutine, client on this plain thread (it blocks the
        // thread), then the other way round.
        let addr = echo_server();
        let mut c = TcpStream::connect(addr).unwrap();
        for r in 0..50 {
            c.write_all(&message(1, r)).unwrap();
            let mut back = [0u8; MSG];
            c.read_exact(&mut back).unwrap();
            assert_eq!(back, message(1, r));
        }
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let client = gort::go!(move || {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(b"from a goroutine").unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let mut back = String::new();
            c.read_to_string(&mut back).unwrap();
            back
        });
        let (mut s, _) = l.accept().unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        s.write_all(got.to_uppercase().as_bytes()).unwrap();
        drop(s);
        assert_eq!(client.join().unwrap(), "FROM A GOROUTINE");
    });
}
