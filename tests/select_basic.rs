//! `gort::select!` through the public API: fairness among ready cases,
//! default, timed default, send cases, disconnected channels, selects that
//! meet each other, many cases, and plain threads.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::with_timeout;
use gort::chan::{bounded, RecvError, SendError};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn fairness_between_two_always_ready_cases() {
    with_timeout(LIMIT, || {
        const ROUNDS: u32 = 10_000;
        let (tx1, rx1) = bounded::<u8>(1);
        let (tx2, rx2) = bounded::<u8>(1);
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
        let mut counts = [0u32; 2];
        for _ in 0..ROUNDS {
            // Both cases are ready every round; refill the one taken.
            let which = gort::select! {
                recv(rx1) -> v => { assert_eq!(v, Ok(1)); tx1.send(1).unwrap(); 0 }
                recv(rx2) -> v => { assert_eq!(v, Ok(2)); tx2.send(2).unwrap(); 1 }
            };
            counts[which] += 1;
        }
        let share = counts[0] as f64 / ROUNDS as f64;
        eprintln!("case 1 chosen {counts:?} ({:.1}%)", share * 100.0);
        assert!((0.40..=0.60).contains(&share), "unfair: {counts:?}");
    });
}

#[test]
fn fairness_among_ready_send_cases_and_on_a_goroutine() {
    with_timeout(LIMIT, || {
        gort::go!(|| {
            const ROUNDS: u32 = 9_000;
            let (tx, rx) = bounded::<u8>(ROUNDS as usize * 3);
            let mut counts = [0u32; 3];
            for _ in 0..ROUNDS {
                gort::select! {
                    send(tx, 0) -> r => { r.unwrap(); counts[0] += 1 },
                    send(tx, 1) -> r => { r.unwrap(); counts[1] += 1 },
                    send(tx, 2) -> r => { r.unwrap(); counts[2] += 1 },
                }
            }
            eprintln!("three ready sends: {counts:?}");
            for c in counts {
                let share = c as f64 / ROUNDS as f64;
                assert!((0.28..=0.39).contains(&share), "unfair: {counts:?}");
            }
            let mut got = [0u32; 3];
            for v in rx.try_iter() {
                got[v as usize] += 1;
            }
            assert_eq!(got, counts, "each chosen send delivered its own value");
        })
        .join()
        .unwrap();
    });
}

#[test]
fn default_runs_when_nothing_is_ready() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u8>(0);
        let (full_tx, _full_rx) = bounded::<u8>(1);
        full_tx.send(0).unwrap();
        for _ in 0..1000 {
            let r = gort::select! {
                recv(rx) -> _ => "recv",
                send(full_tx, 1) -> _ => "send",
                default => "default",
            };
            assert_eq!(r, "default");
        }
        // The value of a send case that was not chosen is dropped, and the
        // channel is unchanged.
        assert_eq!(full_tx.len(), 1);
        // A ready case beats default.
        let (btx, brx) = bounded::<u8>(1);
        btx.send(3).unwrap();
        let r = gort::select! {
            recv(brx) -> v => v.unwrap(),
            default => 0,
        };
        assert_eq!(r, 3);
        drop(tx);
    });
}

#[test]
fn timed_default_fires_after_the_timeout() {
    with_timeout(LIMIT, || {
        let (_tx, rx) = bounded::<u8>(0);
        for who in ["goroutine", "thread"] {
            let rx = rx.clone();
            let run = move || {
                let d = Duration::from_millis(30);
                let t = Instant::now();
                let timed_out = gort::select! {
                    recv(rx) -> _ => false,
                    default(d) => true,
                };
                let took = t.elapsed();
                eprintln!("{who}: default({d:?}) after {took:?}");
                assert!(timed_out);
                assert!(took >= d && took < d + Duration::from_secs(5), "{took:?}");
            };
            if who == "goroutine" {
                gort::go!(run).join().unwrap();
            } else {
                std::thread::spawn(run).join().unwrap();
            }
        }
    });
}

#[test]
fn a_value_before_the_timeout_wins() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u32>(0);
        let h = gort::go!(move || {
            gort::select! {
                recv(rx) -> v => v.unwrap(),
                default(Duration::from_secs(30)) => 0,
            }
        });
        tx.send(17).unwrap();
        assert_eq!(h.join().unwrap(), 17);
    });
}

#[test]
fn after_works_as_a_timeout_case() {
    with_timeout(LIMIT, || {
        let (_tx, rx) = bounded::<u8>(0);
        let t = Instant::now();
        let r = gort::select! {
            recv(rx) -> _ => "value",
            recv(gort::time::after(Duration::from_millis(20))) -> at => {
                assert!(at.unwrap() >= t + Duration::from_millis(20));
                "timeout"
            }
        };
        assert_eq!(r, "timeout");
        assert!(t.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn send_cases_deliver_to_waiting_receivers() {
    with_timeout(LIMIT, || {
        let (tx_a, rx_a) = bounded::<u32>(0);
        let (tx_b, rx_b) = bounded::<u32>(0);
        let ra = gort::go!(move || rx_a.iter().sum::<u32>());
        let rb = gort::go!(move || rx_b.iter().sum::<u32>());
        let (mut to_a, mut to_b) = (0, 0);
        for i in 0..2000u32 {
            gort::select! {
                send(tx_a, i) -> r => { r.unwrap(); to_a += i }
                send(tx_b, i) -> r => { r.unwrap(); to_b += i }
            }
        }
        drop((tx_a, tx_b));
        assert_eq!(ra.join().unwrap(), to_a);
        assert_eq!(rb.join().unwrap(), to_b);
        assert!(to_a > 0 && to_b > 0, "both receivers were used");
    });
}

#[test]
fn disconnected_channels_are_ready_with_errors() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<String>(0);
        drop(tx);
        let r = gort::select! {
            recv(rx) -> v => v,
        };
        assert_eq!(r, Err(RecvError));

        let (tx, rx) = bounded::<String>(0);
        drop(rx);
        let r = gort::select! {
            send(tx, "back".to_string()) -> r => r,
        };
        assert_eq!(r, Err(SendError("back".to_string())));

        // A select blocked on a channel wakes when its senders go.
        let (tx, rx) = bounded::<u8>(0);
        let (_tx2, rx2) = bounded::<u8>(0);
        let h = gort::go!(move || {
            gort::select! {
                recv(rx2) -> _ => "other",
                recv(rx) -> v => if v.is_err() { "disconnected" } else { "value" },
            }
        });
        for _ in 0..10 {
            gort::yield_now();
        }
        drop(tx);
        assert_eq!(h.join().unwrap(), "disconnected");
    });
}

#[test]
fn selects_meeting_selects_on_unbuffered_channels() {
    // Senders and receivers that are all selects: each value is delivered
    // once, nobody hangs, no value is lost when several cases race.
    with_timeout(LIMIT, || {
        const N: u64 = 3_000;
        let (tx1, rx1) = bounded::<u64>(0);
        let (tx2, rx2) = bounded::<u64>(0);
        let producers: Vec<_> = (0..2u64)
            .map(|p| {
                let (tx1, tx2) = (tx1.clone(), tx2.clone());
                gort::go!(move || {
                    for i in 0..N {
                        let v = p * N + i;
                        gort::select! {
                            send(tx1, v) -> r => r.unwrap(),
                            send(tx2, v) -> r => r.unwrap(),
                        }
                    }
                })
            })
            .collect();
        drop((tx1, tx2));
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (rx1, rx2) = (rx1.clone(), rx2.clone());
                gort::go!(move || {
                    let mut got = Vec::new();
                    let (mut open1, mut open2) = (true, true);
                    while open1 || open2 {
                        let (never_tx, never) = bounded::<u64>(0);
                        let r1 = if open1 { &rx1 } else { &never };
                        let r2 = if open2 { &rx2 } else { &never };
                        gort::select! {
                            recv(r1) -> v => match v { Ok(v) => got.push(v), Err(_) => open1 = false },
                            recv(r2) -> v => match v { Ok(v) => got.push(v), Err(_) => open2 = false },
                        }
                        drop(never_tx);
                    }
                    got
                })
            })
            .collect();
        drop((rx1, rx2));
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<u64> = consumers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..2 * N).collect::<Vec<_>>());
    });
}

#[test]
fn send_and_recv_on_the_same_channel_do_not_match_each_other() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u8>(0);
        let r = gort::select! {
            send(tx, 1) -> _ => "sent to myself?",
            recv(rx) -> _ => "received from myself?",
            default(Duration::from_millis(20)) => "timeout",
        };
        assert_eq!(r, "timeout");
        // With a partner, either direction may happen, exactly once.
        let partner = {
            let (tx, rx) = (tx.clone(), rx.clone());
            gort::go!(move || {
                gort::select! {
                    send(tx, 2) -> r => { r.unwrap(); "partner sent" },
                    recv(rx) -> v => { assert_eq!(v, Ok(1)); "partner received" },
                }
            })
        };
        let mine = gort::select! {
            send(tx, 1) -> r => { r.unwrap(); "I sent" },
            recv(rx) -> v => { assert_eq!(v, Ok(2)); "I received" },
        };
        let theirs = partner.join().unwrap();
        assert!(
            matches!(
                (mine, theirs),
                ("I sent", "partner received") | ("I received", "partner sent")
            ),
            "{mine} / {theirs}"
        );
    });
}

#[test]
fn many_cases_use_the_heap_order_path() {
    with_timeout(LIMIT, || {
        const K: usize = 20;
        let chans: Vec<_> = (0..K).map(|_| bounded::<usize>(0)).collect();
        let senders: Vec<_> = chans
            .iter()
            .enumerate()
            .map(|(i, (tx, _))| {
                let tx = tx.clone();
                gort::go!(move || tx.send(i).unwrap())
            })
            .collect();
        let mut seen = [false; K];
        for _ in 0..K {
            let c = &chans;
            let v = gort::select! {
                recv(c[0].1) -> v => v, recv(c[1].1) -> v => v, recv(c[2].1) -> v => v,
                recv(c[3].1) -> v => v, recv(c[4].1) -> v => v, recv(c[5].1) -> v => v,
                recv(c[6].1) -> v => v, recv(c[7].1) -> v => v, recv(c[8].1) -> v => v,
                recv(c[9].1) -> v => v, recv(c[10].1) -> v => v, recv(c[11].1) -> v => v,
                recv(c[12].1) -> v => v, recv(c[13].1) -> v => v, recv(c[14].1) -> v => v,
                recv(c[15].1) -> v => v, recv(c[16].1) -> v => v, recv(c[17].1) -> v => v,
                recv(c[18].1) -> v => v, recv(c[19].1) -> v => v,
            }
            .unwrap();
            assert!(!seen[v]);
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
        for s in senders {
            s.join().unwrap();
        }
    });
}

#[test]
fn empty_select_with_timeout_and_break_in_branches() {
    with_timeout(LIMIT, || {
        let t = Instant::now();
        gort::select! {
            default(Duration::from_millis(10)) => {}
        }
        assert!(t.elapsed() >= Duration::from_millis(10));
        // Control flow in a branch reaches the enclosing loop.
        let (tx, rx) = bounded::<u32>(8);
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let mut n = 0;
        loop {
            gort::select! {
                recv(rx) -> v => match v {
                    Ok(_) => n += 1,
                    Err(_) => break,
                },
            }
        }
        assert_eq!(n, 5);
    });
}

#[test]
fn plain_threads_select_against_goroutines() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u64>(0);
        let (quit_tx, quit_rx) = bounded::<()>(0);
        let total = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (rx, quit_rx, total) = (rx.clone(), quit_rx.clone(), total.clone());
                std::thread::spawn(move || loop {
                    gort::select! {
                        // The senders' end goes once all values are taken.
                        recv(rx) -> v => match v {
                            Ok(v) => { total.fetch_add(v as usize, SeqCst); }
                            Err(_) => break,
                        },
                        recv(quit_rx) -> _ => break,
                    }
                })
            })
            .collect();
        let g = gort::go!(move || {
            for i in 0..3000u64 {
                tx.send(i).unwrap();
            }
        });
        g.join().unwrap();
        drop(quit_tx);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(total.load(SeqCst), (0..3000usize).sum());
    });
}

#[test]
fn racing_timeouts_and_sends_lose_nothing() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u32>(0);
        let consumer = gort::go!(move || {
            let mut got = Vec::new();
            loop {
                gort::select! {
                    recv(rx) -> v => match v {
                        Ok(v) => got.push(v),
                        Err(_) => return got,
                    },
                    default(Duration::from_micros(30)) => {}
                }
            }
        });
        let mut sent = Vec::new();
        for i in 0..2000u32 {
            let r = gort::select! {
                send(tx, i) -> r => r.is_ok(),
                default(Duration::from_micros(45)) => false,
            };
            if r {
                sent.push(i);
            }
        }
        drop(tx);
        assert_eq!(consumer.join().unwrap(), sent);
        eprintln!("{} of 2000 sends met the consumer in time", sent.len());
    });
}
