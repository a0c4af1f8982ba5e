//! `gort::block_on`: a pending future parks the goroutine, not its thread,
//! and a wake from anywhere readies it exactly once. 10,000 goroutines wait
//! on oneshots that plain threads complete, with the Ms counted meanwhile;
//! a wake racing the park, 100,000 times at GOMAXPROCS 1 and 2; wakes from
//! a tokio worker; a waker that outlives its goroutine; nesting; a plain
//! thread.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::{child_ok, is_child, m_threads, with_timeout, PeakWatcher};

const LIMIT: Duration = Duration::from_secs(120);

/// A oneshot future: `Tx::send` completes it, from any thread.
struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

struct Tx<T>(Arc<Mutex<Slot<T>>>);
struct Rx<T>(Arc<Mutex<Slot<T>>>);

fn oneshot<T>() -> (Tx<T>, Rx<T>) {
    let s = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    (Tx(s.clone()), Rx(s))
}

impl<T> Tx<T> {
    fn send(self, v: T) {
        let w = {
            let mut s = self.0.lock().unwrap();
            s.value = Some(v);
            s.waker.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<T> Future for Rx<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.0.lock().unwrap();
        match s.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn ten_thousand_goroutines_wait_on_oneshots_completed_by_threads() {
    with_timeout(LIMIT, || {
        const N: usize = 10_000;
        let procs = gort::gomaxprocs();
        let watch = PeakWatcher::start(Duration::from_millis(1), m_threads);
        let mut txs = Vec::with_capacity(N);
        let mut hs = Vec::with_capacity(N);
        for i in 0..N {
            let (tx, rx) = oneshot::<u64>();
            txs.push(tx);
            hs.push(gort::go!(move || gort::block_on(rx) + i as u64));
        }
        // Four plain threads complete them, interleaved, while goroutines
        // are still parking: wakes land before and after the parks.
        let mut parts: Vec<Vec<(usize, Tx<u64>)>> = (0..4).map(|_| Vec::new()).collect();
        for (i, tx) in txs.into_iter().enumerate() {
            parts[i % 4].push((i, tx));
        }
        let threads: Vec<_> = parts
            .into_iter()
            .map(|p| {
                std::thread::spawn(move || {
                    for (i, tx) in p {
                        tx.send(i as u64);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        let peak = watch.finish();
        println!("10,000 oneshots: peak {peak} Ms at GOMAXPROCS {procs}");
        assert_eq!(sum, 2 * (N as u64 * (N as u64 - 1) / 2));
        assert!(peak <= procs + 6, "{peak} Ms at GOMAXPROCS {procs}");
    });
}

/// A future that hands a clone of its waker to `helper` on its first poll
/// (which wakes it at once, racing the park) and is ready on the next.
struct WakeRace {
    polled: bool,
    helper: mpsc::Sender<Waker>,
}

impl Future for WakeRace {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        self.helper.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }
}

#[test]
fn child_wake_race() {
    if !is_child("child_wake_race") {
        return;
    }
    with_timeout(LIMIT, || {
        let (tx, rx) = mpsc::channel::<Waker>();
        // Wakes each waker three times: the first races the park, the
        // others find it woken already (or the goroutine gone).
        let helper = std::thread::spawn(move || {
            for w in rx {
                w.wake_by_ref();
                w.wake_by_ref();
                w.wake();
            }
        });
        let h = gort::go!(move || {
            for _ in 0..100_000 {
                gort::block_on(WakeRace {
                    polled: false,
                    helper: tx.clone(),
                });
            }
        });
        h.join().unwrap();
        helper.join().unwrap();
        println!("wake race: 100000 iterations");
    });
}

#[test]
fn a_wake_racing_the_park_is_never_lost() {
    for p in ["1", "2"] {
        let (so, _) = child_ok("child_wake_race", &[("GOMAXPROCS", p)]);
        assert!(so.contains("100000 iterations"), "P={p}: {so}");
    }
}

#[test]
fn a_tokio_worker_wakes_a_goroutine() {
    with_timeout(LIMIT, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        let hs: Vec<_> = (0..100u64)
            .map(|i| {
                let handle = handle.clone();
                gort::go!(move || {
                    let (tx, rx) = oneshot();
                    handle.spawn(async move { tx.send(i) });
                    gort::block_on(rx)
                })
            })
            .collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 4950);
    });
}

/// Counts its polls; ready once `open` is set.
struct Gate {
    open: Arc<AtomicBool>,
    polls: Arc<AtomicUsize>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.open.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_waker_that_outlives_its_goroutine_wakes_nobody() {
    with_timeout(LIMIT, || {
        // A goroutine whose future keeps its waker, then finishes.
        let stale: Arc<Mutex<Option<Waker>>> = Arc::default();
        let s = stale.clone();
        gort::go!(move || {
            let (tx, rx) = oneshot::<()>();
            let s2 = s.clone();
            gort::block_on(std::future::poll_fn(move |cx| {
                *s2.lock().unwrap() = Some(cx.waker().clone());
                Poll::Ready(())
            }));
            tx.send(());
            gort::block_on(rx);
        })
        .join()
        .unwrap();
        let stale = stale.lock().unwrap().take().expect("the kept waker");
        // Another goroutine (maybe in the same G slot) waits on a gate.
        let gate = Gate {
            open: Arc::default(),
            polls: Arc::default(),
            waker: Arc::default(),
        };
        let (open, polls, waker) = (gate.open.clone(), gate.polls.clone(), gate.waker.clone());
        let h = gort::go!(move || gort::block_on(gate));
        while waker.lock().unwrap().is_none() {
            std::thread::yield_now();
        }
        for _ in 0..1000 {
            stale.wake_by_ref();
        }
        drop(stale);
        // The stale wakes reached nobody: the gate was polled once.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        open.store(true, Ordering::SeqCst);
        let w = waker.lock().unwrap().take().unwrap();
        w.wake();
        h.join().unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn block_on_nests_and_works_on_plain_threads() {
    with_timeout(LIMIT, || {
        let h = gort::go!(|| {
            gort::block_on(async {
                let (tx, rx) = oneshot();
                std::thread::spawn(move || tx.send(20));
                let inner = gort::block_on(rx);
                inner + gort::block_on(async { 22 })
            })
        });
        assert_eq!(h.join().unwrap(), 42);
        // A plain thread blocks until the wake.
        let (tx, rx) = oneshot();
        std::thread::spawn(move || tx.send(5));
        assert_eq!(gort::block_on(rx), 5);
        // A goroutine awaited from async code.
        let g = gort::go!(|| 9);
        assert_eq!(gort::block_on(g).unwrap(), 9);
    });
}
