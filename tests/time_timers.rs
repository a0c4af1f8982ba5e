//! Timers without a timer thread (time.rs, netpoll.rs): 10,000 goroutines
//! sleeping random 0–50 ms all wake, none early, in deadline order within a
//! tick; `sleep(0)` returns; `after` inside `select!` times out; channel and
//! select timeouts and socket deadlines run on the same timers; a timer
//! armed earlier than the one the poller sleeps for wakes the poller; a
//! timer armed by a plain thread fires with no goroutine around; and no
//! `gort-timer` thread exists.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::with_timeout;
use gort::chan::{bounded, RecvTimeoutError};

const LIMIT: Duration = Duration::from_secs(60);
/// "A tick": two wake-ups whose deadlines are further apart than this must
/// come in deadline order.
const TICK: Duration = Duration::from_millis(1);

#[test]
fn ten_thousand_random_sleepers_wake_in_order_none_early() {
    with_timeout(LIMIT, || {
        const N: usize = 10_000;
        let base = Instant::now();
        let seq = Arc::new(AtomicU64::new(0));
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let hs: Vec<_> = (0..N)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let d = Duration::from_micros(x % 50_000);
                let seq = seq.clone();
                gort::go!(move || {
                    let t = Instant::now();
                    gort::time::sleep(d);
                    let woke = Instant::now();
                    // The order of wake-ups, as the goroutines see it.
                    let n = seq.fetch_add(1, SeqCst);
                    (t + d, woke, n)
                })
            })
            .collect();
        let mut r: Vec<(Instant, Instant, u64)> =
            hs.into_iter().map(|h| h.join().unwrap()).collect();
        let early = r.iter().filter(|(due, woke, _)| woke < due).count();
        assert_eq!(early, 0, "{early} sleepers woke early");
        // In wake-up order, no sleeper may be due more than a tick before
        // one that woke earlier.
        r.sort_by_key(|&(_, _, n)| n);
        let mut latest_due = base;
        let mut worst = Duration::ZERO;
        let mut inversions = 0;
        for &(due, _, _) in &r {
            if due < latest_due {
                let by = latest_due - due;
                worst = worst.max(by);
                if by > TICK {
                    inversions += 1;
                }
            }
            latest_due = latest_due.max(due);
        }
        let late: Vec<Duration> = r.iter().map(|(due, woke, _)| *woke - *due).collect();
        let max_late = late.iter().max().unwrap();
        eprintln!(
            "{N} sleepers: all woke in {:?}; max lateness {max_late:?}; \
             worst order inversion {worst:?}",
            base.elapsed()
        );
        assert_eq!(
            inversions, 0,
            "{inversions} wake-ups out of order by more than {TICK:?}"
        );
    });
}

#[test]
fn sleep_zero_returns_and_sleep_until_waits() {
    with_timeout(LIMIT, || {
        let g = gort::go!(|| {
            gort::time::sleep(Duration::ZERO);
            let at = Instant::now() + Duration::from_millis(5);
            gort::time::sleep_until(at);
            assert!(Instant::now() >= at);
            // A deadline in the past returns at once.
            gort::time::sleep_until(at);
        });
        g.join().unwrap();
        gort::time::sleep(Duration::ZERO);
        let at = Instant::now() + Duration::from_millis(2);
        gort::time::sleep_until(at);
        assert!(Instant::now() >= at);
    });
}

#[test]
fn after_inside_select_times_out() {
    with_timeout(LIMIT, || {
        let g = gort::go!(|| {
            let (_tx, rx) = bounded::<u32>(0);
            let t = Instant::now();
            let timed_out = gort::select! {
                recv(rx) -> _ => false,
                recv(gort::time::after(Duration::from_millis(20))) -> _ => true,
            };
            (timed_out, t.elapsed())
        });
        let (timed_out, took) = g.join().unwrap();
        assert!(timed_out);
        assert!(
            took >= Duration::from_millis(20) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // A value that comes first wins over the timer.
        let (tx, rx) = bounded::<u32>(1);
        tx.send(7).unwrap();
        let got = gort::go!(move || {
            gort::select! {
                recv(rx) -> v => v.ok(),
                recv(gort::time::after(Duration::from_secs(10))) -> _ => None,
            }
        });
        assert_eq!(got.join().unwrap(), Some(7));
    });
}

#[test]
fn channel_select_and_socket_timeouts_share_the_timers() {
    with_timeout(LIMIT, || {
        let g = gort::go!(|| {
            let (_tx, rx) = bounded::<u32>(0);
            let t = Instant::now();
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(10)),
                Err(RecvTimeoutError::Timeout)
            );
            assert!(t.elapsed() >= Duration::from_millis(10));
            let t = Instant::now();
            let defaulted = gort::select! {
                recv(rx) -> _ => false,
                default(Duration::from_millis(10)) => true,
            };
            assert!(defaulted && t.elapsed() >= Duration::from_millis(10));
            let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            let t = Instant::now();
            assert!(std::io::Read::read(&mut &c, &mut [0u8; 1]).is_err());
            assert!(t.elapsed() >= Duration::from_millis(10));
        });
        g.join().unwrap();
    });
}

#[test]
fn an_earlier_timer_wakes_the_sleeping_poller() {
    with_timeout(LIMIT, || {
        // One goroutine sleeps 3 s: the poller sleeps until then. A shorter
        // sleep armed afterwards, by a goroutine and by a plain thread's
        // `after`, must not wait for it.
        let long = gort::go!(|| gort::time::sleep(Duration::from_secs(3)));
        std::thread::sleep(Duration::from_millis(30));
        let t = Instant::now();
        gort::go!(|| gort::time::sleep(Duration::from_millis(10)))
            .join()
            .unwrap();
        let g_took = t.elapsed();
        std::thread::sleep(Duration::from_millis(30));
        let t = Instant::now();
        gort::time::after(Duration::from_millis(10)).recv().unwrap();
        let after_took = t.elapsed();
        eprintln!("10 ms sleeps under a 3 s one: goroutine {g_took:?}, after() {after_took:?}");
        assert!(g_took < Duration::from_millis(500), "{g_took:?}");
        assert!(after_took < Duration::from_millis(500), "{after_took:?}");
        long.join().unwrap();
    });
}

#[test]
fn ticks_and_timers_need_no_timer_thread() {
    with_timeout(LIMIT, || {
        let ticks = gort::time::tick(Duration::from_millis(2));
        for _ in 0..5 {
            ticks.recv().unwrap();
        }
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
            .map(|s| s.trim().to_string())
            .collect();
        assert!(
            !names.iter().any(|n| n == "gort-timer"),
            "a timer thread exists: {names:?}"
        );
    });
}
