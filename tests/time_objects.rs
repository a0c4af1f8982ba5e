//! `gort::time::{Timer, Ticker, after_func}` with Go 1.23's rules, through
//! the public surface at GOMAXPROCS 1 and 2 (each body in a child process):
//! no stale value is received after `stop` or `reset` (raced against the
//! firing in a loop); tickers stop and change period; `after_func` runs in
//! a goroutine unless stopped; and timers nobody can receive from are
//! collected: a million `select!` rounds that abandon an `after(1h)` keep
//! RSS flat and leave no timer armed.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::chan::bounded;
use gort::time::{after, after_func, tick, Ticker, Timer};

const LIMIT: Duration = Duration::from_secs(120);
const HOUR: Duration = Duration::from_secs(3600);

fn stop_and_reset_race_the_firing() {
    // Each round arms a timer due about now, lets it race (a spin of
    // varying length), then stops or resets it: afterwards the channel
    // must hold nothing of the old arming. Nothing is received before, so
    // stop and reset must say they stopped it: pending, in flight, or
    // fired with its value taken back.
    for i in 0..20_000u32 {
        let t = Timer::new(Duration::from_micros(u64::from(i % 7)));
        for _ in 0..(i % 13) * 50 {
            std::hint::spin_loop();
        }
        if i % 2 == 0 {
            assert!(t.stop(), "round {i}: stop said the timer was not pending");
            assert!(
                t.chan().try_recv().is_err(),
                "round {i}: a value after stop"
            );
        } else {
            let at = Instant::now();
            assert!(
                t.reset(Duration::from_micros(50)),
                "round {i}: reset said the timer was not pending"
            );
            let v = t.chan().recv().unwrap();
            assert!(v >= at, "round {i}: a stale value after reset");
            assert!(t.chan().try_recv().is_err(), "round {i}: two values");
        }
        if i % 64 == 0 {
            gort::yield_now();
        }
    }
}

#[test]
fn stop_and_reset_leave_no_stale_value() {
    common::at_p1_and_p2(
        LIMIT,
        "stop_and_reset_leave_no_stale_value",
        stop_and_reset_race_the_firing,
    );
}

fn stop_and_reset_return_values() {
    let t = Timer::new(HOUR);
    assert!(t.stop(), "a pending timer stops");
    assert!(!t.stop(), "a second stop finds nothing");
    assert!(
        !t.reset(Duration::from_millis(1)),
        "reset of a stopped timer"
    );
    t.chan().recv().unwrap();
    assert!(!t.stop(), "the value was received");
    // Fired but not received: stop takes the value back and says so.
    let t = Timer::new(Duration::ZERO);
    while gort::stats().timers > 0 && t.chan().is_empty() {
        gort::yield_now();
    }
    while t.chan().is_empty() {
        gort::yield_now();
    }
    assert!(t.stop(), "an unreceived value counts as pending (Go 1.23)");
    assert!(t.chan().try_recv().is_err());
}

#[test]
fn stop_and_reset_report_what_they_stopped() {
    common::at_p1_and_p2(
        LIMIT,
        "stop_and_reset_report_what_they_stopped",
        stop_and_reset_return_values,
    );
}

fn ticker_body() {
    let t = Ticker::new(Duration::from_millis(1));
    let mut last = t.chan().recv().unwrap();
    for _ in 0..20 {
        let v = t.chan().recv().unwrap();
        assert!(v > last);
        last = v;
    }
    // A stopped ticker delivers nothing more, not even a tick it had sent.
    t.stop();
    assert!(t.chan().try_recv().is_err());
    let (_tx, never) = bounded::<()>(0);
    gort::select! {
        recv(t.chan()) -> _ => panic!("a tick after stop"),
        recv(never) -> _ => unreachable!(),
        recv(after(Duration::from_millis(20))) -> _ => {}
    }
    // Reset starts it again with the new period.
    let at = Instant::now();
    t.reset(Duration::from_millis(5));
    let v = t.chan().recv().unwrap();
    assert!(
        v >= at + Duration::from_millis(5),
        "first tick before its period"
    );
    // Reset from a long period to a short one takes effect at once.
    let t = Ticker::new(HOUR);
    t.reset(Duration::from_millis(1));
    for _ in 0..3 {
        t.chan().recv().unwrap();
    }
}

#[test]
fn tickers_tick_stop_and_reset() {
    common::at_p1_and_p2(LIMIT, "tickers_tick_stop_and_reset", ticker_body);
}

fn after_func_body() {
    let ran = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded(0);
    let (gate_tx, gate_rx) = bounded::<()>(0);
    let r = ran.clone();
    let t = after_func(Duration::from_millis(1), move || {
        r.fetch_add(1, SeqCst);
        // In a goroutine of its own, f may block: it waits for the test's
        // goroutine (at GOMAXPROCS=1 that would hang if f held the P's
        // thread).
        gate_rx.recv().unwrap();
        tx.send(()).unwrap();
    });
    gate_tx.send(()).unwrap();
    rx.recv().unwrap();
    // Reset runs it again.
    assert!(!t.reset(Duration::from_millis(1)));
    gate_tx.send(()).unwrap();
    rx.recv().unwrap();
    assert_eq!(ran.load(SeqCst), 2);
    // Stopped before it fires: never runs; the returned Timer's channel
    // never receives.
    let r = ran.clone();
    let t = after_func(HOUR, move || {
        r.fetch_add(100, SeqCst);
    });
    assert!(t.stop());
    assert!(t.chan().try_recv().is_err());
    // Dropping the Timer does not stop an after_func timer.
    let (tx, rx) = bounded(1);
    drop(after_func(Duration::from_millis(1), move || {
        tx.try_send(()).unwrap()
    }));
    rx.recv().unwrap();
    assert_eq!(ran.load(SeqCst), 2);
}

#[test]
fn after_func_runs_in_a_goroutine_unless_stopped() {
    common::at_p1_and_p2(
        LIMIT,
        "after_func_runs_in_a_goroutine_unless_stopped",
        after_func_body,
    );
}

fn abandoned_after_body() {
    let (tx, rx) = bounded::<u64>(1);
    // Warm up the allocator and the channel machinery before measuring.
    for i in 0..10_000 {
        tx.send(i).unwrap();
        gort::select! {
            recv(rx) -> _ => {},
            recv(after(HOUR)) -> _ => unreachable!(),
        }
    }
    let (rss0, timers0) = (common::rss_bytes(), gort::stats().timers);
    for i in 0..1_000_000 {
        tx.send(i).unwrap();
        gort::select! {
            recv(rx) -> v => assert_eq!(v, Ok(i)),
            recv(after(HOUR)) -> _ => unreachable!(),
        }
    }
    let (rss1, timers1) = (common::rss_bytes(), gort::stats().timers);
    println!(
        "report: RSS {} -> {} KiB, timers {timers0} -> {timers1}",
        rss0 / 1024,
        rss1 / 1024
    );
    assert!(
        timers1 <= timers0 + 2,
        "abandoned timers left armed: {timers1}"
    );
    assert!(
        rss1 < rss0 + (16 << 20),
        "RSS grew from {} to {} KiB",
        rss0 / 1024,
        rss1 / 1024
    );
    // Dropped timers, tickers and tick receivers are collected too.
    let before = gort::stats().timers;
    let kept: Vec<_> = (0..1000).map(|_| Timer::new(HOUR)).collect();
    let ticks: Vec<_> = (0..1000).map(|_| tick(HOUR)).collect();
    let tickers: Vec<_> = (0..1000).map(|_| Ticker::new(HOUR)).collect();
    assert!(gort::stats().timers >= before + 3000);
    drop((kept, ticks, tickers));
    assert!(gort::stats().timers <= before + 2);
    // A clone of a timer's receiver keeps it: it still fires.
    let rx = Timer::new(Duration::from_millis(1)).chan().clone();
    assert!(rx.recv().is_ok());
}

#[test]
fn abandoned_timers_are_collected() {
    common::at_p1_and_p2(
        LIMIT,
        "abandoned_timers_are_collected",
        abandoned_after_body,
    );
}
