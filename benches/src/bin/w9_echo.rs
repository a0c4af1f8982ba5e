//! W9 echo (docs/PERFORMANCE.md): a TCP echo server on 127.0.0.1, one goroutine
//! per connection; a client in the same process with C = 1,000 connections,
//! one goroutine each, sends 64-byte messages and waits for each echo, for
//! 5 s. Figures: `rps` (round trips per second, all connections together)
//! and `p99_us` (round-trip latency). P: all cores.
//!
//! Set-up (bind, 1,000 connects, the handshakes) happens before the clock
//! starts; the clients are released together by closing a channel. Each
//! client checks every echo byte for byte (its message changes every round)
//! and records each round trip's latency; a client stops after the round
//! trip in flight when the 5 s are up. rps = all round trips / the time from
//! the release to the last client's end.

#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::chan::bounded;
use gort::net::{TcpListener, TcpStream};
use gort::sync::WaitGroup;
use gort_benches::{check, fail, report};

const NAME: &str = "W9";
/// Connections (one client goroutine each).
const C: usize = 1000;
/// Message size.
const MSG: usize = 64;
/// How long the clients run.
const RUN: Duration = Duration::from_secs(5);

/// Client `c`'s message for round `r` (so a stale or crossed echo fails).
fn message(c: u64, r: u64) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    m[..8].copy_from_slice(&c.to_le_bytes());
    m[8..16].copy_from_slice(&r.to_le_bytes());
    for (i, b) in m[16..].iter_mut().enumerate() {
        *b = (c as u8).wrapping_mul(31) ^ (r as u8).wrapping_add(i as u8);
    }
    m
}

/// The server: accept forever, one echo goroutine per connection.
fn serve(l: TcpListener) {
    for s in l.incoming() {
        let mut s = s.unwrap_or_else(|e| fail(NAME, format!("accept: {e}")));
        gort::go!(move || {
            s.set_nodelay(true).ok();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        if let Err(e) = s.write_all(&buf[..n]) {
                            fail(NAME, format!("server write: {e}"));
                        }
                    }
                    Err(e) => fail(NAME, format!("server read: {e}")),
                }
            }
        });
    }
}

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(NAME, e));
    let addr = l.local_addr().unwrap_or_else(|e| fail(NAME, e));
    gort::go!(move || serve(l));

    let stop = Arc::new(AtomicBool::new(false));
    let connected = WaitGroup::new();
    connected.add(C as isize);
    let (release_tx, release_rx) = bounded::<()>(0);
    let clients: Vec<_> = (0..C as u64)
        .map(|c| {
            let (stop, connected, release) = (stop.clone(), connected.clone(), release_rx.clone());
            gort::go!(move || {
                let mut s = TcpStream::connect(addr)
                    .unwrap_or_else(|e| fail(NAME, format!("connect: {e}")));
                s.set_nodelay(true).ok();
                let mut lat: Vec<u32> = Vec::with_capacity(4096);
                connected.done();
                // Closed (sender dropped) when every client is connected.
                let _ = release.recv();
                let mut back = [0u8; MSG];
                let mut r = 0u64;
                while !stop.load(SeqCst) {
                    let m = message(c, r);
                    let t = Instant::now();
                    s.write_all(&m)
                        .unwrap_or_else(|e| fail(NAME, format!("client write: {e}")));
                    s.read_exact(&mut back)
                        .unwrap_or_else(|e| fail(NAME, format!("client read: {e}")));
                    let ns = t.elapsed().as_nanos();
                    if back != m {
                        fail(NAME, format!("client {c} round {r}: wrong echo"));
                    }
                    lat.push(u32::try_from(ns / 1000).unwrap_or(u32::MAX));
                    r += 1;
                }
                lat
            })
        })
        .collect();
    drop(release_rx);
    connected.wait();

    let start = Instant::now();
    drop(release_tx);
    gort::time::sleep(RUN);
    stop.store(true, SeqCst);
    let mut lat: Vec<u32> = Vec::new();
    for h in clients {
        lat.extend(h.join().unwrap_or_else(|_| fail(NAME, "a client panicked")));
    }
    let elapsed = start.elapsed();

    check(NAME, lat.len() >= C, || {
        format!("only {} round trips", lat.len())
    });
    lat.sort_unstable();
    let p99 = lat[(lat.len() * 99).div_ceil(100) - 1];
    report(NAME, p, lat.len() as f64 / elapsed.as_secs_f64(), "rps");
    report(NAME, p, f64::from(p99), "p99_us");
}
