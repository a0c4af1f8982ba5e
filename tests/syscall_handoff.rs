//! Blocking calls and P hand-off: announced (`gort::syscall::blocking`) and
//! unannounced (a std channel's receive, a std Mutex) calls do not stall the other
//! goroutines; threads are parked and reused, and the idle pool is bounded.
//! Each rule runs in a child process with its own GOMAXPROCS.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{child_ok, is_child, m_threads, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);
/// How long a rendezvous of blocked calls may take on a loaded machine.
const MEET: Duration = Duration::from_secs(30);

/// A counter goroutine: counts while `stop` is false, yielding each step.
fn counter(stop: Arc<AtomicBool>, n: Arc<AtomicU64>) -> gort::JoinHandle<()> {
    gort::go!(move || {
        while !stop.load(Ordering::SeqCst) {
            n.fetch_add(1, Ordering::SeqCst);
            gort::yield_now();
        }
    })
}

/// Counts the caller in, then waits (at most `MEET`) until `n` callers
/// are in. True if they all were.
fn all_inside(inside: &(Mutex<usize>, Condvar), n: usize) -> bool {
    let (count, cv) = inside;
    let mut c = count.lock().unwrap();
    *c += 1;
    cv.notify_all();
    let (c, _) = cv.wait_timeout_while(c, MEET, |c| *c < n).unwrap();
    *c >= n
}

#[test]
fn blocking_call_hands_its_p_to_other_goroutines() {
    if !is_child("blocking_call_hands_its_p_to_other_goroutines") {
        child_ok(
            "blocking_call_hands_its_p_to_other_goroutines",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let stop = Arc::new(AtomicBool::new(false));
        let n = Arc::new(AtomicU64::new(0));
        let in_call = Arc::new(AtomicBool::new(false));
        let during = Arc::new(AtomicU64::new(0));
        let (ic, nn, du) = (in_call.clone(), n.clone(), during.clone());
        let sleeper = gort::go!(move || {
            gort::syscall::blocking(|| {
                ic.store(true, Ordering::SeqCst);
                let before = nn.load(Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
                du.store(nn.load(Ordering::SeqCst) - before, Ordering::SeqCst);
            });
        });
        let c = counter(stop.clone(), n.clone());
        sleeper.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        c.join().unwrap();
        let advanced = during.load(Ordering::SeqCst);
        let st = gort::stats();
        println!(
            "counter advanced {advanced} during the call; handoffs={}",
            st.handoffs
        );
        assert!(in_call.load(Ordering::SeqCst));
        assert!(advanced > 100, "the other goroutine barely ran: {advanced}");
        assert!(st.handoffs >= 1);
    });
}

#[test]
fn sequential_blocking_calls_reuse_threads() {
    if !is_child("sequential_blocking_calls_reuse_threads") {
        child_ok(
            "sequential_blocking_calls_reuse_threads",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let peak = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (pk, dn) = (peak.clone(), done.clone());
        let watcher = std::thread::spawn(move || {
            while !dn.load(Ordering::SeqCst) {
                pk.fetch_max(m_threads(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        gort::go!(|| {
            for _ in 0..100 {
                gort::syscall::blocking(|| std::thread::sleep(Duration::from_millis(5)));
            }
        })
        .join()
        .unwrap();
        done.store(true, Ordering::SeqCst);
        watcher.join().unwrap();
        let st = gort::stats();
        let peak = peak.load(Ordering::SeqCst);
        // Live M threads only: service threads (sysmon, SIGQUIT, symtab,
        // scavenger) start lazily and are not Ms.
        println!(
            "Ms created={} syscalls={} handoffs={} live M threads peak={peak}",
            st.threads_created, st.syscalls, st.handoffs
        );
        assert_eq!(st.syscalls, 100);
        assert!(
            st.threads_created <= 5,
            "Ms created: {}",
            st.threads_created
        );
        assert!(peak <= 5, "live M threads peaked at {peak}");
    });
}

#[test]
fn fifty_concurrent_blocking_calls_then_a_bounded_idle_pool() {
    if !is_child("fifty_concurrent_blocking_calls_then_a_bounded_idle_pool") {
        child_ok(
            "fifty_concurrent_blocking_calls_then_a_bounded_idle_pool",
            &[("GOMAXPROCS", "2")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        // Every call waits inside `blocking` until all fifty are inside:
        // they only can if each got an M of its own while its P went on.
        let inside = Arc::new((Mutex::new(0usize), Condvar::new()));
        let hs: Vec<_> = (0..50u64)
            .map(|i| {
                let inside = inside.clone();
                gort::go!(move || {
                    let met = gort::syscall::blocking(|| all_inside(&inside, 50));
                    (i, met)
                })
            })
            .collect();
        let (mut sum, mut met) = (0, 0);
        for h in hs {
            let (i, m) = h.join().unwrap();
            sum += i;
            met += usize::from(m);
        }
        assert_eq!(sum, 49 * 50 / 2);
        assert_eq!(met, 50, "the calls were never all in progress at once");
        let busy = gort::stats();
        // Let the Ms finish parking (they retire past the bound).
        let deadline = Instant::now() + Duration::from_secs(5);
        let bound = gort::gomaxprocs() + 4;
        let mut st = gort::stats();
        while st.threads > bound + gort::gomaxprocs() && Instant::now() < deadline {
            gort::go!(|| ()).join().unwrap();
            std::thread::sleep(Duration::from_millis(10));
            st = gort::stats();
        }
        println!(
            "Ms created={} live after={} idle={}",
            busy.threads_created, st.threads, st.idle_threads
        );
        assert!(
            busy.threads_created >= 10,
            "calls did not get threads of their own"
        );
        assert!(
            st.idle_threads <= bound,
            "idle Ms {} > bound {bound}",
            st.idle_threads
        );
        assert!(
            st.threads <= bound + gort::gomaxprocs(),
            "live Ms {}",
            st.threads
        );
    });
}

#[test]
fn unannounced_block_does_not_stall_the_p() {
    if !is_child("unannounced_block_does_not_stall_the_p") {
        child_ok(
            "unannounced_block_does_not_stall_the_p",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let stop = Arc::new(AtomicBool::new(false));
        let n = Arc::new(AtomicU64::new(0));
        let c = counter(stop.clone(), n.clone());
        // Wait until the counter runs.
        while n.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        // The sleeper blocks its M in a std channel's receive (nobody told
        // the runtime) until a plain thread sees the counter move 10 steps:
        // only possible if sysmon takes the only P from the blocked M.
        let nn = n.clone();
        let sleeper = gort::go!(move || {
            let at = nn.load(Ordering::SeqCst);
            let (tx, rx) = std::sync::mpsc::channel();
            let watcher = std::thread::spawn(move || {
                let deadline = Instant::now() + MEET;
                while nn.load(Ordering::SeqCst) <= at + 10 && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                let _ = tx.send(nn.load(Ordering::SeqCst) > at + 10);
            });
            let moved = rx.recv().expect("the watcher answers");
            watcher.join().unwrap();
            moved
        });
        let moved = sleeper.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        c.join().unwrap();
        println!("handoffs={}", gort::stats().handoffs);
        assert!(moved, "the counter stood still while its P's M was blocked");
    });
}

#[test]
fn std_mutex_held_across_park_does_not_deadlock_one_p() {
    if !is_child("std_mutex_held_across_park_does_not_deadlock_one_p") {
        child_ok(
            "std_mutex_held_across_park_does_not_deadlock_one_p",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        for round in 0..20 {
            let m = Arc::new(Mutex::new(0u64));
            let (tx, rx) = gort::chan::bounded::<()>(0);
            let m1 = m.clone();
            // Holder: takes the lock, then parks on a channel while holding it.
            let holder = gort::go!(move || {
                let mut g = m1.lock().unwrap();
                *g += 1;
                rx.recv().unwrap();
                *g += 1;
            });
            let m2 = m.clone();
            // Blocker: runs on the same (only) P and blocks its thread on the
            // std Mutex; sysmon must hand the P off so `tx.send` can run.
            let blocker = gort::go!(move || {
                *m2.lock().unwrap() += 10;
            });
            gort::go!(move || tx.send(()).unwrap()).join().unwrap();
            holder.join().unwrap();
            blocker.join().unwrap();
            assert_eq!(*m.lock().unwrap(), 12, "round {round}");
        }
    });
}

#[test]
fn results_and_panics_pass_through_blocking() {
    with_timeout(LIMIT, || {
        let r: Result<u32, std::io::Error> = gort::go!(|| {
            gort::syscall::blocking(|| std::fs::read("/nonexistent/gort").map(|v| v.len() as u32))
        })
        .join()
        .unwrap();
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::NotFound);
        let h = gort::go!(|| gort::syscall::blocking(|| -> u32 { panic!("inside blocking") }));
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"inside blocking"));
        // The runtime still works afterwards.
        assert_eq!(
            gort::go!(|| gort::syscall::blocking(|| 5)).join().unwrap(),
            5
        );
    });
}
