//! Virtual time (`gort::testing::run_virtual`, `#[gort::test(virtual_time)]`,
//! `testing::wait`), each body at GOMAXPROCS 1 and 2 in a child process:
//! an hour-long context deadline and a 10,000-tick ticker finish at once
//! with exact virtual times; 10,000 timers of 1,000 goroutines fire in
//! deadline order, each at exactly its deadline; ping-pong between sleepers
//! never lets the clock jump past work that was about to run; `wait`
//! returns once the others are blocked; goroutines that compute hold the
//! clock; and a deadlock inside a bubble is reported as a panic, not a
//! hang.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::chan::bounded;
use gort::context::{self, ContextError};
use gort::signal::Signal;
use gort::testing::{run_virtual, wait};
use gort::time::{now, sleep, Ticker, Timer};
use nix::sys::signal::kill;
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(120);
const HOUR: Duration = Duration::from_secs(3600);

/// Real time a virtual-time program may take, at most: a small fraction of
/// the virtual time it covers (an hour and more), so a clock that did not
/// jump fails, while a loaded machine has ample room.
const REAL_BOUND: Duration = Duration::from_secs(60);

fn hour_deadline_body() {
    let real = Instant::now();
    let (err, waited) = run_virtual(|| {
        let (ctx, _cancel) = context::background().with_timeout(HOUR);
        let t0 = now();
        assert_eq!(ctx.deadline(), Some(t0 + HOUR));
        let (_tx, never) = bounded::<()>(0);
        gort::select! {
            recv(never) -> _ => unreachable!(),
            recv(ctx.done()) -> _ => {}
        }
        (ctx.err(), now() - t0)
    });
    assert_eq!(err, Some(ContextError::DeadlineExceeded));
    assert_eq!(waited, HOUR);
    let took = real.elapsed();
    assert!(took < REAL_BOUND, "an hour of virtual time took {took:?}");
    println!("report: 1-hour context deadline in {took:?} real");
}

#[test]
fn an_hour_long_context_deadline_passes_at_once() {
    common::at_p1_and_p2(
        LIMIT,
        "an_hour_long_context_deadline_passes_at_once",
        hour_deadline_body,
    );
}

fn ticker_body() {
    const TICKS: u32 = 10_000;
    let real = Instant::now();
    let late = run_virtual(|| {
        let period = Duration::from_secs(1);
        let t0 = now();
        let t = Ticker::new(period);
        let mut off = 0u32;
        for k in 1..=TICKS {
            let at = t.chan().recv().unwrap();
            // Every tick at exactly its phase: the clock jumped to it.
            if at != t0 + period * k || now() != at {
                off += 1;
            }
        }
        t.stop();
        off
    });
    assert_eq!(late, 0, "{late} ticks were not on their exact virtual time");
    let took = real.elapsed();
    assert!(took < REAL_BOUND, "{TICKS} virtual seconds took {took:?}");
    println!("report: {TICKS} ticks in {took:?} real");
}

#[test]
fn ten_thousand_ticks_take_no_real_time() {
    common::at_p1_and_p2(LIMIT, "ten_thousand_ticks_take_no_real_time", ticker_body);
}

fn many_timers_body() {
    let real = Instant::now();
    let order = run_virtual(|| {
        let t0 = now();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..1000u64)
            .map(|i| {
                let fired = fired.clone();
                gort::go!(move || {
                    for j in 0..10u64 {
                        // Distinct deadlines, interleaved across goroutines.
                        let k = j * 1000 + i + 1;
                        let at = t0 + Duration::from_millis(k);
                        gort::time::sleep_until(at);
                        assert_eq!(now(), at, "woke at the wrong virtual time");
                        fired.lock().unwrap().push(k);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        Arc::try_unwrap(fired).unwrap().into_inner().unwrap()
    });
    assert_eq!(order.len(), 10_000);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted, "timers fired out of deadline order");
    println!("report: 10,000 timers in {:?} real", real.elapsed());
}

#[test]
fn ten_thousand_timers_fire_in_order_at_their_deadlines() {
    common::at_p1_and_p2(
        LIMIT,
        "ten_thousand_timers_fire_in_order_at_their_deadlines",
        many_timers_body,
    );
}

fn ping_pong_body() {
    // Two goroutines hand a token back and forth, each sleeping 1 ms before
    // passing it on. If the clock ever moved while the receiver of a send
    // had not yet run (a park the bubble counted too early), a sleep would
    // start late and the total would exceed 2 * ROUNDS ms.
    const ROUNDS: u32 = 2000;
    let total = run_virtual(|| {
        let t0 = now();
        let (a_tx, a_rx) = bounded::<u32>(0);
        let (b_tx, b_rx) = bounded::<u32>(0);
        let b = gort::go!(move || {
            while let Ok(n) = b_rx.recv() {
                sleep(Duration::from_millis(1));
                if a_tx.send(n + 1).is_err() {
                    break;
                }
            }
        });
        let mut n = 0;
        for _ in 0..ROUNDS {
            sleep(Duration::from_millis(1));
            b_tx.send(n).unwrap();
            n = a_rx.recv().unwrap();
        }
        drop(b_tx);
        b.join().unwrap();
        assert_eq!(n, ROUNDS);
        now() - t0
    });
    assert_eq!(total, Duration::from_millis(2 * u64::from(ROUNDS)));
}

#[test]
fn ping_pong_between_sleepers_keeps_exact_time() {
    common::at_p1_and_p2(
        LIMIT,
        "ping_pong_between_sleepers_keeps_exact_time",
        ping_pong_body,
    );
}

fn fan_in_body() {
    // 200 producers each send 20 values, sleeping a different period between
    // them; a consumer with a select! timeout counts. The clock must end at
    // the slowest producer's last send, and every value must arrive.
    let (got, end) = run_virtual(|| {
        let t0 = now();
        let (tx, rx) = bounded::<u64>(4000);
        for p in 0..200u64 {
            let tx = tx.clone();
            gort::go!(move || {
                for _ in 0..20 {
                    sleep(Duration::from_millis(p + 1));
                    tx.send(p).unwrap();
                }
            });
        }
        drop(tx);
        let mut got = 0;
        let mut timeouts = 0;
        loop {
            gort::select! {
                recv(rx) -> v => match v {
                    Ok(_) => got += 1,
                    Err(_) => break,
                },
                default(Duration::from_secs(1)) => timeouts += 1,
            }
        }
        assert_eq!(
            timeouts, 0,
            "a 1 s timeout fired while producers were due sooner"
        );
        (got, now() - t0)
    });
    assert_eq!(got, 4000);
    assert_eq!(end, Duration::from_millis(200 * 20));
}

#[test]
fn fan_in_with_select_timeouts_ends_at_the_last_send() {
    common::at_p1_and_p2(
        LIMIT,
        "fan_in_with_select_timeouts_ends_at_the_last_send",
        fan_in_body,
    );
}

fn wait_body() {
    run_virtual(|| {
        let started = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded::<()>(0);
        let mut hs = Vec::new();
        for _ in 0..50 {
            let (started, rx) = (started.clone(), rx.clone());
            hs.push(gort::go!(move || {
                // Some real work before blocking.
                let mut x = 0u64;
                for i in 0..10_000u64 {
                    x = x.wrapping_mul(31).wrapping_add(i);
                }
                std::hint::black_box(x);
                started.fetch_add(1, SeqCst);
                let _ = rx.recv();
            }));
        }
        let t0 = now();
        wait();
        // Every other goroutine is blocked in recv: all have started, and
        // no time passed.
        assert_eq!(started.load(SeqCst), 50);
        assert_eq!(now(), t0);
        // A sleeper: wait returns once it sleeps, before its timer fires.
        let woke = Arc::new(AtomicUsize::new(0));
        let w = woke.clone();
        let s = gort::go!(move || {
            sleep(HOUR);
            w.store(1, SeqCst);
        });
        wait();
        assert_eq!(woke.load(SeqCst), 0);
        assert_eq!(now(), t0);
        drop(tx);
        drop(rx);
        for h in hs {
            h.join().unwrap();
        }
        s.join().unwrap();
        assert_eq!(woke.load(SeqCst), 1);
        assert_eq!(now(), t0 + HOUR);
    });
}

#[test]
fn wait_returns_when_the_others_are_blocked() {
    common::at_p1_and_p2(LIMIT, "wait_returns_when_the_others_are_blocked", wait_body);
}

fn timer_objects_body() {
    run_virtual(|| {
        let t0 = now();
        // Stop and reset on the virtual clock.
        let t = Timer::new(Duration::from_secs(10));
        sleep(Duration::from_secs(5));
        assert!(t.reset(Duration::from_secs(10)));
        let at = t.chan().recv().unwrap();
        assert_eq!(at, t0 + Duration::from_secs(15));
        // after_func runs its goroutine inside the bubble, at its time.
        let (tx, rx) = bounded(1);
        let _f = gort::time::after_func(Duration::from_secs(60), move || {
            let _ = tx.try_send(now());
        });
        assert_eq!(rx.recv().unwrap(), t0 + Duration::from_secs(75));
        // A receive timeout.
        let (_keep, never) = bounded::<()>(0);
        let r = never.recv_timeout(Duration::from_secs(7));
        assert!(r.is_err());
        assert_eq!(now(), t0 + Duration::from_secs(82));
    });
}

#[test]
fn timers_stop_reset_and_after_func_run_on_the_virtual_clock() {
    common::at_p1_and_p2(
        LIMIT,
        "timers_stop_reset_and_after_func_run_on_the_virtual_clock",
        timer_objects_body,
    );
}

fn busy_body() {
    // Goroutines that compute (and are preempted) are not blocked: the
    // clock waits for them. Each hog marks its end; the sleeper wakes only
    // after all have, however long they take in real time.
    let (done_at_wake, elapsed) = run_virtual(|| {
        let t0 = now();
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..8u64 {
            let done = done.clone();
            gort::go!(move || {
                let mut x = i;
                for k in 0..3_000_000u64 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(k);
                }
                std::hint::black_box(x);
                done.fetch_add(1, SeqCst);
            });
        }
        sleep(Duration::from_secs(1));
        (done.load(SeqCst), now() - t0)
    });
    assert_eq!(
        done_at_wake, 8,
        "the clock moved while goroutines were computing"
    );
    assert_eq!(elapsed, Duration::from_secs(1));
}

#[test]
fn the_clock_waits_for_goroutines_that_compute() {
    common::at_p1_and_p2(
        LIMIT,
        "the_clock_waits_for_goroutines_that_compute",
        busy_body,
    );
}

/// Goroutine `id`'s wait reason as its dump header shows it ("chan
/// receive", "chan receive (durable)", ...), if it is parked.
fn wait_reason_of(id: u64) -> Option<String> {
    let mut out = Vec::new();
    gort::debug::dump_goroutines(&mut out).expect("dump goroutines");
    let head = format!("goroutine {id} [");
    let text = String::from_utf8_lossy(&out);
    let rest = text.lines().find_map(|l| l.strip_prefix(head.as_str()))?;
    let end = rest.find([']', ','])?;
    Some(rest[..end].to_string())
}

fn outside_things_body() {
    // Made outside the bubble: two channels, a wait group, a goroutine, a
    // context (whose done channel is first asked for inside); and signals
    // come from outside.
    let (tx, rx) = bounded::<u32>(0);
    let (tx2, rx2) = bounded::<u32>(0);
    let (stop_tx, stop_rx) = bounded::<()>(0);
    let (ids_tx, ids_rx) = bounded::<Vec<(u64, &str)>>(1);
    let wg = gort::sync::WaitGroup::new();
    wg.add(1);
    let outsider = gort::go!(move || stop_rx.recv().map(|()| 7u32));
    let (ctx, cancel) = context::background().with_cancel();
    let done = wg.clone();
    let feeder = gort::go!(move || {
        // Once each goroutine of the bubble waits on its outside thing
        // while the sleeper's timer is pending (a bubble that looked idle
        // would jump an hour), answer them all; report any wait the dump
        // calls durable.
        let waits = ids_rx.recv().unwrap();
        let durable = loop {
            let now: Vec<_> = waits.iter().map(|&(id, _)| wait_reason_of(id)).collect();
            let parked = |(&(_, r), got): (&(u64, &str), &Option<String>)| {
                got.as_deref()
                    .is_some_and(|g| g.strip_suffix(" (durable)").unwrap_or(g) == r)
            };
            if waits.iter().zip(&now).all(parked) {
                let wrong = now
                    .into_iter()
                    .flatten()
                    .filter(|g| g.ends_with("(durable)"));
                break wrong.collect::<Vec<_>>();
            }
            sleep(Duration::from_millis(1));
        };
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        done.done();
        cancel.cancel();
        stop_tx.send(()).unwrap();
        kill(Pid::this(), Signal::SIGUSR2).unwrap();
        durable
    });
    let (got, moved, at_the_end) = run_virtual(move || {
        let t0 = now();
        let sleeper = gort::go!(move || sleep(HOUR));
        let a = gort::go!(move || (rx.recv().unwrap(), now() - t0));
        let b = gort::go!(move || {
            let (_own_tx, own) = bounded::<u32>(0);
            gort::select! {
                recv(rx2) -> v => (v.unwrap(), now() - t0),
                recv(own) -> _ => unreachable!(),
            }
        });
        let c = gort::go!(move || {
            wg.wait();
            now() - t0
        });
        let d = gort::go!(move || {
            let _ = ctx.done().recv();
            now() - t0
        });
        let e = gort::go!(move || (outsider.join().unwrap().unwrap(), now() - t0));
        let sig = gort::signal::notify(&[Signal::SIGUSR2]);
        let f = gort::go!(move || {
            assert_eq!(sig.recv(), Ok(Signal::SIGUSR2));
            now() - t0
        });
        let waits = vec![
            (sleeper.id(), "sleep"),
            (a.id(), "chan receive"),
            (b.id(), "select"),
            (c.id(), "sync.WaitGroup.Wait"),
            (d.id(), "chan receive"),
            (e.id(), "join"),
            (f.id(), "chan receive"),
        ];
        ids_tx.send(waits).unwrap();
        let (from_outsider, te) = e.join().unwrap();
        let (va, ta) = a.join().unwrap();
        let (vb, tb) = b.join().unwrap();
        let tc = c.join().unwrap();
        let td = d.join().unwrap();
        let tf = f.join().unwrap();
        sleeper.join().unwrap();
        (
            (from_outsider, va, vb),
            [ta, tb, tc, td, te, tf],
            now() - t0,
        )
    });
    let durable = feeder.join().unwrap();
    assert!(
        durable.is_empty(),
        "durable waits on outside things: {durable:?}"
    );
    assert_eq!(got, (7, 1, 2));
    // Each wait was checked above (the dump); this checks the bubble: its
    // clock held until the last of them was answered.
    assert_eq!(
        moved,
        [Duration::ZERO; 6],
        "the clock moved while the bubble waited on things made outside it"
    );
    assert_eq!(at_the_end, HOUR);
}

#[test]
fn waits_on_things_made_outside_the_bubble_hold_the_clock() {
    common::at_p1_and_p2(
        LIMIT,
        "waits_on_things_made_outside_the_bubble_hold_the_clock",
        outside_things_body,
    );
}

fn counted_timers_body() {
    let before = gort::stats().timers;
    let during = run_virtual(|| {
        let sleepers: Vec<_> = (1..=3u32)
            .map(|k| gort::go!(move || sleep(HOUR * k)))
            .collect();
        wait();
        let during = (gort::stats().timers, gort::metrics::read().timers_pending);
        for h in sleepers {
            h.join().unwrap();
        }
        during
    });
    assert_eq!(
        during,
        (before + 3, before + 3),
        "a bubble's timers counted"
    );
    assert_eq!(gort::stats().timers, before, "fired timers still counted");
}

#[test]
fn stats_and_metrics_count_a_bubble_timers() {
    common::at_p1_and_p2(
        LIMIT,
        "stats_and_metrics_count_a_bubble_timers",
        counted_timers_body,
    );
}

fn timer_clock_body() {
    // Made outside: real time, even when reset inside.
    let outside = Timer::new(HOUR);
    let inside = run_virtual(move || {
        let (t0, real) = (now(), Instant::now());
        outside.reset(Duration::from_millis(5));
        outside.chan().recv().unwrap();
        assert!(real.elapsed() >= Duration::from_millis(5), "not real time");
        assert_eq!(now(), t0, "the virtual clock moved");
        Timer::new(HOUR)
    });
    // Made inside: the ended bubble's clock is stopped for good, so a
    // reset outside falls back to real time.
    let real = Instant::now();
    inside.reset(Duration::from_millis(5));
    inside.chan().recv().unwrap();
    assert!(real.elapsed() >= Duration::from_millis(5));
}

#[test]
fn a_timer_keeps_the_clock_it_was_made_on() {
    common::at_p1_and_p2(
        LIMIT,
        "a_timer_keeps_the_clock_it_was_made_on",
        timer_clock_body,
    );
}

fn wait_group_rounds_body() {
    // One WaitGroup, a round in each of two bubbles: each round's adds tie
    // it to that round's bubble.
    let wg = gort::sync::WaitGroup::new();
    for round in 0..2 {
        let wg = wg.clone();
        let took = run_virtual(move || {
            let t0 = now();
            wg.add(1);
            let w = wg.clone();
            let h = gort::go!(move || {
                sleep(HOUR);
                w.done();
            });
            wg.wait();
            h.join().unwrap();
            now() - t0
        });
        assert_eq!(took, HOUR, "round {round}");
    }
}

#[test]
fn a_wait_group_belongs_to_the_bubble_of_its_adds() {
    common::at_p1_and_p2(
        LIMIT,
        "a_wait_group_belongs_to_the_bubble_of_its_adds",
        wait_group_rounds_body,
    );
}

#[test]
#[should_panic(expected = "deadlock: all goroutines in bubble are blocked")]
fn a_deadlock_in_a_bubble_is_reported() {
    common::with_timeout(LIMIT, || {
        run_virtual(|| {
            let (tx, rx) = bounded::<()>(0);
            let h = gort::go!(move || rx.recv());
            sleep(Duration::from_secs(1));
            let _ = h.join(); // never: nobody sends, and tx lives
            drop(tx);
        })
    });
}

#[test]
fn the_deadlock_report_names_the_blocked_goroutines() {
    let msg = common::with_timeout(LIMIT, || {
        let r = std::panic::catch_unwind(|| {
            run_virtual(|| {
                let (tx, rx) = bounded::<()>(0);
                let h = gort::go!(move || rx.recv());
                let _ = h.join();
                drop(tx);
            })
        });
        let payload = r.expect_err("the deadlock was not reported");
        payload
            .downcast_ref::<String>()
            .cloned()
            .expect("a String message")
    });
    assert!(msg.contains("2 blocked"), "{msg}");
    assert!(
        msg.contains("[join (durable)]") && msg.contains("[chan receive (durable)]"),
        "{msg}"
    );
}

#[test]
#[should_panic(expected = "main bubble goroutine has exited but blocked goroutines remain")]
fn blocked_goroutines_left_by_main_are_reported() {
    common::with_timeout(LIMIT, || {
        run_virtual(|| {
            gort::go!(|| sleep(HOUR));
        })
    });
}

#[test]
#[should_panic(expected = "the main goroutine's own panic")]
fn a_panic_in_the_bubble_reaches_the_caller() {
    common::with_timeout(LIMIT, || {
        run_virtual(|| {
            sleep(HOUR);
            panic!("the main goroutine's own panic");
        })
    });
}

#[test]
fn nested_bubbles_and_wait_outside_are_refused() {
    common::with_timeout(LIMIT, || {
        let nested = run_virtual(|| std::panic::catch_unwind(|| run_virtual(|| ())).is_err());
        assert!(nested, "run_virtual inside a bubble did not panic");
        let outside = gort::go!(|| std::panic::catch_unwind(wait).is_err())
            .join()
            .unwrap();
        assert!(outside, "wait outside a bubble did not panic");
    });
}

#[test]
fn real_time_outside_the_bubble_is_untouched() {
    common::with_timeout(LIMIT, || {
        // A goroutine outside the bubble sleeps for real while the bubble's
        // hour passes; neither disturbs the other.
        let outside = gort::go!(|| {
            let t = Instant::now();
            sleep(Duration::from_millis(20));
            (t.elapsed(), Instant::now().saturating_duration_since(now()))
        });
        let inside = run_virtual(|| {
            let t0 = now();
            sleep(HOUR);
            now() - t0
        });
        assert_eq!(inside, HOUR);
        let (slept, skew) = outside.join().unwrap();
        assert!(slept >= Duration::from_millis(20));
        assert_eq!(
            skew,
            Duration::ZERO,
            "gort::time::now() outside a bubble is not real time"
        );
    });
}

#[gort::test(virtual_time)]
fn the_attribute_runs_the_body_in_a_bubble() {
    let t0 = now();
    let h = gort::go!(move || {
        sleep(Duration::from_secs(30));
        now() - t0
    });
    sleep(Duration::from_secs(10));
    assert_eq!(now() - t0, Duration::from_secs(10));
    assert_eq!(h.join().unwrap(), Duration::from_secs(30));
}

#[gort::test(virtual_time)]
fn the_attribute_accepts_a_result() -> Result<(), Box<dyn std::error::Error>> {
    sleep(HOUR);
    Ok(())
}
