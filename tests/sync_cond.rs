//! `gort::sync::Cond`: no lost wake-ups under signal and broadcast (a lost
//! one hangs, and the watchdog fails the test), looped enough to hit the
//! window between a waiter's unlock and its park: a bounded
//! producer/consumer queue of 100,000 items, a broadcast barrier repeated
//! 2,000 times, a ping-pong of 100,000 turns; `signal` waking exactly the
//! oldest waiter; a signal with no waiter is not kept. Goroutines and plain
//! threads mix; each test runs at GOMAXPROCS 1 and 2.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{parked_in, wait_parked};
use gort::sync::{Cond, Mutex};

const LIMIT: Duration = Duration::from_secs(120);
/// What a goroutine inside `Cond::wait` shows in a dump.
const REASON: &str = "sync.Cond.Wait";

/// The bounded queue's state.
struct Queue {
    items: VecDeque<u64>,
    producers_left: usize,
}

/// The queue, its lock and its two conditions.
struct Shared {
    q: Mutex<Queue>,
    not_empty: Cond,
    not_full: Cond,
}

const PRODUCERS: u64 = 4;
const PER_PRODUCER: u64 = 25_000;
const CAPACITY: usize = 8;

/// One producer: pushes its values, signalling `not_empty` after
/// unlocking; the last one out marks the end and broadcasts.
fn produce(s: &Shared, p: u64) {
    for i in 0..PER_PRODUCER {
        let mut g = s.q.lock();
        while g.items.len() == CAPACITY {
            g = s.not_full.wait(g);
        }
        g.items.push_back(p * PER_PRODUCER + i);
        drop(g);
        s.not_empty.signal();
    }
    let mut g = s.q.lock();
    g.producers_left -= 1;
    if g.producers_left == 0 {
        drop(g);
        s.not_empty.broadcast();
    }
}

/// One consumer: pops until the queue is empty and every producer is done,
/// signalling `not_full` while it holds the lock.
fn consume(s: &Shared) -> Vec<u64> {
    let mut got = Vec::new();
    loop {
        let mut g = s.q.lock();
        while g.items.is_empty() && g.producers_left > 0 {
            g = s.not_empty.wait(g);
        }
        let Some(v) = g.items.pop_front() else {
            return got;
        };
        s.not_full.signal();
        drop(g);
        got.push(v);
    }
}

/// 4 producer goroutines, 3 consumer goroutines and a consumer thread over
/// a queue of 8: every one of the 100,000 items arrives exactly once.
fn producer_consumer() {
    let s = Arc::new(Shared {
        q: Mutex::new(Queue {
            items: VecDeque::new(),
            producers_left: PRODUCERS as usize,
        }),
        not_empty: Cond::new(),
        not_full: Cond::new(),
    });
    let ps: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let s = s.clone();
            gort::go!(move || produce(&s, p))
        })
        .collect();
    let cs: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            gort::go!(move || consume(&s))
        })
        .collect();
    let t = {
        let s = s.clone();
        std::thread::spawn(move || consume(&s))
    };
    ps.into_iter().for_each(|h| h.join().unwrap());
    let mut all: Vec<u64> = cs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let by_thread = t.join().unwrap();
    println!(
        "> queue: the plain-thread consumer took {}",
        by_thread.len()
    );
    all.extend(by_thread);
    all.sort_unstable();
    let n = PRODUCERS * PER_PRODUCER;
    assert_eq!(all.len() as u64, n, "count");
    assert!(all.iter().copied().eq(0..n), "each item exactly once");
}
at_gomaxprocs_1_and_2!(
    signal_producer_consumer_loses_no_wake_up,
    producer_consumer,
    LIMIT
);

/// The barrier's state: arrivals in this generation, and the generation.
struct Barrier {
    state: Mutex<(usize, u64)>,
    cond: Cond,
}

impl Barrier {
    /// Waits until `n` parties have arrived; the last one broadcasts
    /// (holding the lock in even generations, after unlocking in odd ones).
    fn wait(&self, n: usize) {
        let mut g = self.state.lock();
        g.0 += 1;
        if g.0 == n {
            g.0 = 0;
            g.1 += 1;
            if g.1 & 1 == 0 {
                self.cond.broadcast();
                drop(g);
            } else {
                drop(g);
                self.cond.broadcast();
            }
            return;
        }
        let gen = g.1;
        while g.1 == gen {
            g = self.cond.wait(g);
        }
    }
}

/// 15 goroutines and a plain thread pass a broadcast barrier 2,000 times;
/// nobody passes round `r` before all 16 have entered it.
fn barrier() {
    const N: usize = 16;
    const ROUNDS: usize = 2_000;
    let b = Arc::new(Barrier {
        state: Mutex::new((0, 0)),
        cond: Cond::new(),
    });
    let entered = Arc::new(AtomicUsize::new(0));
    let party = {
        let (b, entered) = (b.clone(), entered.clone());
        move || {
            for r in 0..ROUNDS {
                entered.fetch_add(1, SeqCst);
                b.wait(N);
                let seen = entered.load(SeqCst);
                assert!(seen >= N * (r + 1), "round {r}: passed with {seen}");
            }
        }
    };
    let gs: Vec<_> = (0..N - 1).map(|_| gort::go!(party.clone())).collect();
    let t = std::thread::spawn(party);
    gs.into_iter().for_each(|h| h.join().unwrap());
    t.join().unwrap();
    assert_eq!(b.state.lock().1, ROUNDS as u64);
}
at_gomaxprocs_1_and_2!(broadcast_barrier_2000_rounds, barrier, LIMIT);

/// Two parties take turns through one Cond, each signalling the other
/// right after flipping the turn: the other is often between its unlock
/// and its park, so a lost wake-up hangs at once.
fn ping_pong(turns: usize, thread_party: bool) {
    let s = Arc::new((Mutex::new(0usize), Cond::new()));
    let party = |me: usize| {
        let s = s.clone();
        move || {
            let (turn, cond) = &*s;
            for _ in 0..turns {
                let mut g = turn.lock();
                while *g % 2 != me {
                    g = cond.wait(g);
                }
                *g += 1;
                cond.signal();
            }
        }
    };
    let a = gort::go!(party(0));
    if thread_party {
        std::thread::spawn(party(1)).join().unwrap();
    } else {
        gort::go!(party(1)).join().unwrap();
    }
    a.join().unwrap();
    assert_eq!(*s.0.lock(), 2 * turns);
}

fn ping_pongs() {
    ping_pong(100_000, false);
    ping_pong(20_000, true);
}
at_gomaxprocs_1_and_2!(signal_ping_pong_100000_turns, ping_pongs, LIMIT);

/// Five goroutines wait one after the other; one `signal` wakes exactly
/// one of them, the first, and the other four stay parked until a
/// `broadcast`.
fn signal_wakes_the_oldest() {
    const K: usize = 5;
    let s = Arc::new((Mutex::new(()), Cond::new(), Mutex::new(Vec::new())));
    let mut hs = Vec::new();
    for i in 0..K {
        let s = s.clone();
        hs.push(gort::go!(move || {
            let (m, cond, woken) = &*s;
            let g = m.lock();
            drop(cond.wait(g)); // once, not in a loop: count the wake-ups
            woken.lock().push(i);
        }));
        wait_parked(REASON, i + 1);
    }
    s.1.signal();
    // A woken goroutine leaves the wait reason when it is readied, inside
    // `signal`: exactly K-1 are still waiting now.
    assert_eq!(parked_in(REASON), K - 1, "signal woke more than one");
    while s.2.lock().is_empty() {
        gort::yield_now();
    }
    assert_eq!(*s.2.lock(), [0], "the oldest waiter goes first");
    s.1.broadcast();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let mut woken = s.2.lock().clone();
    woken.sort_unstable();
    assert_eq!(woken, [0, 1, 2, 3, 4]);
}
at_gomaxprocs_1_and_2!(
    signal_wakes_exactly_the_oldest_waiter,
    signal_wakes_the_oldest,
    LIMIT
);

/// A signal or broadcast with nobody waiting is not kept for a later
/// waiter (Go's semantics): the later waiter parks until the next signal.
fn early_signal_is_not_kept() {
    let s = Arc::new((Mutex::new(()), Cond::new()));
    s.1.signal();
    s.1.broadcast();
    let returned = Arc::new(AtomicBool::new(false));
    let h = {
        let (s, returned) = (s.clone(), returned.clone());
        gort::go!(move || {
            drop(s.1.wait(s.0.lock()));
            returned.store(true, SeqCst);
        })
    };
    while parked_in(REASON) < 1 {
        assert!(!returned.load(SeqCst), "the wait used an old signal");
        gort::yield_now();
    }
    s.1.signal();
    h.join().unwrap();
    assert!(returned.load(SeqCst));
}
at_gomaxprocs_1_and_2!(
    a_signal_with_no_waiter_is_not_kept,
    early_signal_is_not_kept,
    LIMIT
);

#[test]
fn cond_debug_and_default() {
    let c = Cond::default();
    c.signal();
    c.broadcast();
    assert_eq!(format!("{c:?}"), "Cond { .. }");
}

#[test]
fn cond_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Cond>();
}
