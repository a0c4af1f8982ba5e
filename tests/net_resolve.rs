//! Name resolution without stalling other goroutines: `TcpStream::connect`
//! and `UdpSocket` by host name and `gort::net::lookup_host` work; with a
//! slow resolver (the runtime's test hook adds seconds to every lookup) at
//! GOMAXPROCS=1 the other goroutines keep running while one resolves; a
//! storm of lookups keeps the Ms bounded (lookups are limited).

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{child_ok, is_child, m_threads, with_timeout, PeakWatcher};
use gort::net::{lookup_host, TcpListener, TcpStream, UdpSocket};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn connect_and_bind_by_name() {
    with_timeout(LIMIT, || {
        gort::go!(|| {
            let l = TcpListener::bind("localhost:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let server = gort::go!(move || {
                let (mut s, _) = l.accept().unwrap();
                s.write_all(b"hi").unwrap();
            });
            let mut c = TcpStream::connect(format!("localhost:{port}")).unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            assert_eq!(s, "hi");
            server.join().unwrap();
            let addrs: Vec<_> = lookup_host(("localhost", 9)).unwrap().collect();
            assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 9));
            let u = UdpSocket::bind("localhost:0").unwrap();
            u.connect(u.local_addr().unwrap()).unwrap();
            let err = lookup_host("no-such-host.invalid:80");
            assert!(err.is_err(), "an .invalid name resolved: {err:?}");
        })
        .join()
        .unwrap()
    });
}

#[test]
fn a_slow_resolver_stalls_only_its_goroutine() {
    let name = "a_slow_resolver_stalls_only_its_goroutine";
    if !is_child(name) {
        child_ok(name, &[("GOMAXPROCS", "1")]);
        return;
    }
    with_timeout(LIMIT, || {
        gort::go!(|| {
            gort::__private::set_lookup_delay(Duration::from_secs(3));
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            let resolver = gort::go!(move || {
                let r = lookup_host("localhost:80").map(|a| a.count());
                d.store(true, SeqCst);
                r
            });
            // Meanwhile the only P keeps running the others: 1,000 round
            // trips between two goroutines finish long before 3 s.
            let (ping_tx, ping_rx) = gort::chan::bounded::<u32>(0);
            let (pong_tx, pong_rx) = gort::chan::bounded::<u32>(0);
            let echo = gort::go!(move || {
                for v in ping_rx {
                    pong_tx.send(v + 1).unwrap();
                }
            });
            for i in 0..1_000 {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv(), Ok(i + 1));
            }
            assert!(!done.load(SeqCst), "the others waited for the resolver");
            drop(ping_tx);
            echo.join().unwrap();
            assert!(resolver.join().unwrap().unwrap() >= 1);
            gort::__private::set_lookup_delay(Duration::ZERO);
        })
        .join()
        .unwrap()
    });
}

#[test]
fn a_lookup_storm_keeps_threads_bounded() {
    let name = "a_lookup_storm_keeps_threads_bounded";
    if !is_child(name) {
        child_ok(name, &[("GOMAXPROCS", "1")]);
        return;
    }
    with_timeout(LIMIT, || {
        gort::__private::set_lookup_delay(Duration::from_millis(20));
        let watch = PeakWatcher::start(Duration::from_millis(1), m_threads);
        let hs: Vec<_> = (0..200)
            .map(|_| gort::go!(|| lookup_host("localhost:80").unwrap().count()))
            .collect();
        for h in hs {
            assert!(h.join().unwrap() >= 1);
        }
        let peak = watch.finish();
        println!("report: 200 slow lookups, peak Ms {peak}");
        // One per lookup in flight (at most 8) plus the P's own.
        assert!(peak <= 1 + 8 + 2, "Ms grew to {peak}");
    });
}
