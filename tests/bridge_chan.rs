//! `send_async` / `recv_async`: Go's channel semantics from async code, with
//! goroutines on the other end using the blocking forms. Futures dropped
//! while pending, under contention, at GOMAXPROCS 1 and 2, on unbuffered and
//! buffered channels: every message is received exactly once (count, sum
//! and identity), and a send withdrawn before a receiver took it is not
//! received.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{child_ok, is_child, with_timeout};

const LIMIT: Duration = Duration::from_secs(120);
/// Messages per producer.
const PER: u64 = 2_000;
const PRODUCERS: u64 = 4;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Goroutines send PRODUCERS × PER distinct values (blocking sends); tokio
/// tasks receive them with `recv_async` raced against a timer that drops
/// the pending receive whenever it fires first. Every value arrives once.
fn dropped_receives_lose_nothing(cap: usize) {
    let (tx, rx) = gort::chan::bounded::<u64>(cap);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            gort::go!(move || {
                for i in 0..PER {
                    tx.send(p * PER + i).unwrap();
                    if i % 64 == 0 {
                        gort::yield_now();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let rt = runtime();
    let got = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(AtomicU64::new(0));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (rx, got, dropped) = (rx.clone(), got.clone(), dropped.clone());
            rt.spawn(async move {
                loop {
                    let r = tokio::select! {
                        r = rx.recv_async() => r,
                        _ = tokio::time::sleep(Duration::from_micros(50)) => {
                            dropped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    match r {
                        Ok(v) => got.lock().unwrap().push(v),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    rt.block_on(async {
        for c in consumers {
            c.await.unwrap();
        }
    });
    let got = got.lock().unwrap();
    let n = PRODUCERS * PER;
    let distinct: HashSet<u64> = got.iter().copied().collect();
    println!(
        "cap {cap}: {} received, {} receives dropped while pending",
        got.len(),
        dropped.load(Ordering::Relaxed)
    );
    assert_eq!(got.len() as u64, n, "count");
    assert_eq!(got.iter().sum::<u64>(), n * (n - 1) / 2, "sum");
    assert_eq!(distinct.len() as u64, n, "each value once");
}

/// tokio tasks send distinct values with `send_async` raced against a
/// timer; a goroutine receives (blocking). Every send that completed is
/// received; nothing is received twice; a send withdrawn before a receiver
/// took its value is not received.
fn dropped_sends_are_withdrawn(cap: usize) {
    let (tx, rx) = gort::chan::bounded::<u64>(cap);
    let consumer = gort::go!(move || {
        let mut got = Vec::new();
        for (i, v) in rx.iter().enumerate() {
            got.push(v);
            if i % 32 == 0 {
                gort::yield_now();
            }
        }
        got
    });
    let rt = runtime();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let withdrawn = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (tx, sent, withdrawn) = (tx.clone(), sent.clone(), withdrawn.clone());
            rt.spawn(async move {
                for i in 0..PER {
                    let v = p * PER + i;
                    let fut = tx.send_async(v);
                    tokio::pin!(fut);
                    tokio::select! {
                        r = &mut fut => { r.unwrap(); sent.lock().unwrap().push(v) }
                        _ = tokio::time::sleep(Duration::from_micros(50)) => {
                            withdrawn.lock().unwrap().push(v)
                        }
                    }
                }
            })
        })
        .collect();
    drop(tx);
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let got = consumer.join().unwrap();
    let sent: HashSet<u64> = sent.lock().unwrap().iter().copied().collect();
    let withdrawn: HashSet<u64> = withdrawn.lock().unwrap().iter().copied().collect();
    let distinct: HashSet<u64> = got.iter().copied().collect();
    println!(
        "cap {cap}: {} sent, {} withdrawn, {} received",
        sent.len(),
        withdrawn.len(),
        got.len()
    );
    assert_eq!(distinct.len(), got.len(), "nothing received twice");
    assert!(
        sent.is_subset(&distinct),
        "every completed send is received"
    );
    // A withdrawn send is received only if a receiver took it before the
    // drop (then the send had happened): never more than were withdrawn.
    let extra: Vec<u64> = distinct.difference(&sent).copied().collect();
    assert!(
        extra.iter().all(|v| withdrawn.contains(v)),
        "only attempted values"
    );
    assert_eq!(sent.len() + withdrawn.len(), (PRODUCERS * PER) as usize);
}

#[test]
fn child_accounting() {
    if !is_child("child_accounting") {
        return;
    }
    with_timeout(LIMIT, || {
        for cap in [0, 1, 16] {
            dropped_receives_lose_nothing(cap);
            dropped_sends_are_withdrawn(cap);
        }
    });
}

#[test]
fn pending_futures_dropped_under_contention_lose_nothing() {
    for p in ["1", "2"] {
        let (so, _) = child_ok("child_accounting", &[("GOMAXPROCS", p)]);
        for l in so.lines().filter(|l| l.starts_with("cap ")) {
            println!("P={p}: {l}");
        }
    }
}

#[test]
fn async_and_blocking_ends_meet_on_every_kind_of_channel() {
    with_timeout(LIMIT, || {
        for cap in [0, 1, 8] {
            // async send, goroutine receive; goroutine send, async receive.
            let (tx, rx) = gort::chan::bounded::<u32>(cap);
            let (back_tx, back_rx) = gort::chan::bounded::<u32>(cap);
            let echo = gort::go!(move || {
                for v in rx.iter() {
                    back_tx.send(v + 1).unwrap();
                }
            });
            let sum = gort::block_on(async {
                let mut sum = 0;
                for i in 0..1000 {
                    tx.send_async(i).await.unwrap();
                    sum += back_rx.recv_async().await.unwrap();
                }
                drop(tx);
                assert!(back_rx.recv_async().await.is_err(), "disconnected");
                sum
            });
            echo.join().unwrap();
            assert_eq!(sum, (1..=1000).sum::<u32>(), "cap {cap}");
            // Both ends async: an unbuffered rendezvous between two futures.
            let (tx, rx) = gort::chan::bounded::<u32>(cap);
            let rt = runtime();
            let r = rt.spawn(async move {
                let mut n = 0;
                while let Ok(v) = rx.recv_async().await {
                    n += v;
                }
                n
            });
            rt.block_on(async move {
                for i in 0..100 {
                    tx.send_async(i).await.unwrap();
                }
            });
            assert_eq!(rt.block_on(r).unwrap(), 4950, "cap {cap}");
        }
        // A send to a channel whose receivers are gone gives the value back.
        let (tx, rx) = gort::chan::bounded::<&str>(0);
        drop(rx);
        let e = gort::block_on(tx.send_async("back")).unwrap_err();
        assert_eq!(e.0, "back");
    });
}
