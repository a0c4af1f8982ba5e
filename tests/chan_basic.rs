//! Channels through the public API: rendezvous order, buffer capacity,
//! disconnection both ways, the non-blocking and timed calls, iteration, and
//! the same from plain threads.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::with_timeout;
use gort::chan::{
    bounded, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Gives other goroutines (and Ms) a chance to run, so a wrong early
/// completion would be seen.
fn let_others_run() {
    for _ in 0..20 {
        gort::yield_now();
        std::thread::yield_now();
    }
}

#[test]
fn unbuffered_send_completes_only_after_a_receive() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<usize>(0);
        let sent = Arc::new(AtomicUsize::new(0));
        let s = sent.clone();
        let sender = gort::go!(move || {
            for i in 1..=500 {
                tx.send(i).unwrap();
                s.store(i, SeqCst);
            }
        });
        gort::go!(move || {
            for i in 1..=500 {
                let_others_run();
                // Nobody has received value i yet, so its send cannot have
                // returned.
                assert!(sent.load(SeqCst) < i, "send {i} returned early");
                assert_eq!(rx.recv(), Ok(i));
            }
        })
        .join()
        .unwrap();
        sender.join().unwrap();
    });
}

#[test]
fn unbuffered_rendezvous_between_plain_threads_and_goroutines() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u64>(0);
        let (back_tx, back_rx) = bounded::<u64>(0);
        let echo = std::thread::spawn(move || {
            for v in rx {
                back_tx.send(v * 2).unwrap();
            }
        });
        let g = gort::go!(move || {
            let mut sum = 0;
            for i in 0..2000u64 {
                tx.send(i).unwrap();
                sum += back_rx.recv().unwrap();
            }
            sum
        });
        assert_eq!(g.join().unwrap(), 2 * (0..2000u64).sum::<u64>());
        echo.join().unwrap();
    });
}

#[test]
fn exactly_cap_sends_complete_without_a_receiver() {
    with_timeout(LIMIT, || {
        for cap in [1usize, 2, 7, 64] {
            let (tx, rx) = bounded::<usize>(cap);
            let done = Arc::new(AtomicUsize::new(0));
            let d = done.clone();
            let tx2 = tx.clone();
            let sender = gort::go!(move || {
                for i in 0..=cap {
                    tx2.send(i).unwrap();
                    d.fetch_add(1, SeqCst);
                }
            });
            while done.load(SeqCst) < cap {
                gort::yield_now();
                std::thread::yield_now();
            }
            for _ in 0..50 {
                let_others_run();
                assert_eq!(done.load(SeqCst), cap, "send {} did not wait", cap + 1);
            }
            assert_eq!(tx.len(), cap);
            assert!(tx.is_full() && rx.is_full());
            assert_eq!(tx.try_send(99), Err(TrySendError::Full(99)));
            // One receive makes room; the parked sender completes.
            assert_eq!(rx.recv(), Ok(0));
            sender.join().unwrap();
            assert_eq!(done.load(SeqCst), cap + 1);
            let rest: Vec<usize> = rx.try_iter().collect();
            assert_eq!(rest, (1..=cap).collect::<Vec<_>>(), "FIFO order");
        }
    });
}

#[test]
fn dropping_senders_lets_receivers_drain_then_fail() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded(4);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(rx.try_recv(), Ok(1));
        drop(tx2);
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(RecvTimeoutError::Disconnected)
        );
    });
}

#[test]
fn receivers_blocked_in_recv_wake_when_the_last_sender_drops() {
    with_timeout(LIMIT, || {
        for _ in 0..200 {
            let (tx, rx) = bounded::<u8>(0);
            let waiting: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    gort::go!(move || rx.recv())
                })
                .collect();
            let t = {
                let rx = rx.clone();
                std::thread::spawn(move || rx.recv())
            };
            let_others_run();
            drop(tx);
            for h in waiting {
                assert_eq!(h.join().unwrap(), Err(RecvError));
            }
            assert_eq!(t.join().unwrap(), Err(RecvError));
        }
    });
}

#[test]
fn dropping_receivers_fails_sends_and_returns_the_value() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<String>(1);
        drop(rx);
        assert_eq!(tx.send("a".into()), Err(SendError("a".to_string())));
        assert_eq!(
            tx.try_send("b".into()),
            Err(TrySendError::Disconnected("b".to_string()))
        );
        assert_eq!(
            tx.send_timeout("c".into(), Duration::from_secs(5)),
            Err(SendTimeoutError::Disconnected("c".to_string()))
        );

        // Senders parked on a full channel get their own value back.
        for round in 0..200 {
            let (tx, rx) = bounded::<usize>(0);
            let blocked: Vec<_> = (0..3)
                .map(|k| {
                    let tx = tx.clone();
                    gort::go!(move || tx.send(round * 10 + k))
                })
                .collect();
            let_others_run();
            drop(rx);
            for (k, h) in blocked.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), Err(SendError(round * 10 + k)));
            }
        }
    });
}

#[test]
fn buffered_values_are_dropped_when_the_receivers_go() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    with_timeout(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded(8);
        for _ in 0..5 {
            tx.send(Counted(drops.clone())).unwrap();
        }
        drop(rx);
        assert_eq!(drops.load(SeqCst), 5);
        let err = tx.send(Counted(drops.clone())).unwrap_err();
        assert_eq!(
            drops.load(SeqCst),
            5,
            "the failed send gives the value back"
        );
        drop(err);
        assert_eq!(drops.load(SeqCst), 6);
    });
}

#[test]
fn try_calls_len_capacity_and_empty() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<i32>(2);
        assert_eq!((tx.capacity(), rx.capacity()), (Some(2), Some(2)));
        assert!(tx.is_empty() && rx.is_empty() && !rx.is_full());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.try_send(1).unwrap();
        assert_eq!((tx.len(), rx.len()), (1, 1));
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.len(), 1);
        let (tx0, rx0) = bounded::<i32>(0);
        assert_eq!(tx0.capacity(), Some(0));
        assert_eq!(tx0.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(rx0.try_recv(), Err(TryRecvError::Empty));
        assert!(rx0.is_empty());
    });
}

#[test]
fn unbuffered_try_send_succeeds_with_a_parked_receiver() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u32>(0);
        let h = gort::go!(move || rx.recv());
        // Retry until the receiver has parked; then the value goes straight
        // into its slot.
        let mut v = 7;
        loop {
            match tx.try_send(v) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    v = back;
                    gort::yield_now();
                    std::thread::yield_now();
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(h.join().unwrap(), Ok(7));
    });
}

#[test]
fn timeouts_fire_and_do_not_fire_early() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u8>(0);
        for (d, who) in [(20u64, "goroutine"), (20, "thread")] {
            let d = Duration::from_millis(d);
            let (tx, rx) = (tx.clone(), rx.clone());
            let run = move || {
                let t = Instant::now();
                assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout));
                let took = t.elapsed();
                assert!(took >= d && took < d + Duration::from_secs(5), "{took:?}");
                let t = Instant::now();
                assert_eq!(tx.send_timeout(9, d), Err(SendTimeoutError::Timeout(9)));
                assert!(t.elapsed() >= d);
                eprintln!("{who}: recv_timeout({d:?}) took {took:?}");
            };
            if who == "goroutine" {
                gort::go!(run).join().unwrap();
            } else {
                std::thread::spawn(run).join().unwrap();
            }
        }
        // A value arriving before the deadline wins.
        let h = gort::go!(move || rx.recv_timeout(Duration::from_secs(30)));
        tx.send_timeout(5, Duration::from_secs(30)).unwrap();
        assert_eq!(h.join().unwrap(), Ok(5));
    });
}

#[test]
fn timeout_racing_a_value_loses_nothing() {
    // Deadlines close to the send: the value is either received or still in
    // the channel, never lost or duplicated.
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u32>(0);
        let mut got = 0;
        let mut timeouts = 0;
        for i in 0..300u32 {
            let rx = rx.clone();
            let h =
                gort::go!(move || rx.recv_timeout(Duration::from_micros(50 + (i % 7) as u64 * 40)));
            match tx.send_timeout(i, Duration::from_micros(200)) {
                Ok(()) => {
                    assert_eq!(h.join().unwrap(), Ok(i));
                    got += 1;
                }
                Err(SendTimeoutError::Timeout(v)) => {
                    assert_eq!(v, i);
                    assert_eq!(h.join().unwrap(), Err(RecvTimeoutError::Timeout));
                    timeouts += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        eprintln!("received {got}, timed out {timeouts}");
    });
}

#[test]
fn iterators_and_range() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded(3);
        let p = gort::go!(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
        });
        let mut n = 0;
        for v in &rx {
            assert_eq!(v, n);
            n += 1;
        }
        assert_eq!(n, 100);
        p.join().unwrap();
        assert_eq!(rx.iter().next(), None);

        let (tx, rx) = bounded(3);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(rx.try_iter().next(), None);
        tx.send(3).unwrap();
        drop(tx);
        assert_eq!(rx.into_iter().collect::<Vec<_>>(), [3]);
    });
}

#[test]
fn ends_are_send_sync_clone_and_debug() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<gort::chan::Sender<Vec<u8>>>();
    assert_send_sync::<gort::chan::Receiver<Vec<u8>>>();
    let (tx, rx) = bounded::<u8>(0);
    assert!(tx.same_channel(&tx.clone()) && rx.same_channel(&rx.clone()));
    assert_eq!(format!("{tx:?} {rx:?}"), "Sender { .. } Receiver { .. }");
}

#[test]
fn ping_pong_many_pairs() {
    with_timeout(LIMIT, || {
        let done = Arc::new(AtomicBool::new(true));
        let pairs: Vec<_> = (0..50)
            .map(|_| {
                let (a_tx, a_rx) = bounded::<u64>(0);
                let (b_tx, b_rx) = bounded::<u64>(0);
                let pong = gort::go!(move || {
                    for v in a_rx {
                        b_tx.send(v + 1).unwrap();
                    }
                });
                let done = done.clone();
                gort::go!(move || {
                    let mut v = 0;
                    for _ in 0..1000 {
                        a_tx.send(v).unwrap();
                        v = b_rx.recv().unwrap();
                    }
                    drop(a_tx);
                    pong.join().unwrap();
                    assert!(done.load(SeqCst));
                    v
                })
            })
            .collect();
        for h in pairs {
            assert_eq!(h.join().unwrap(), 1000);
        }
    });
}
