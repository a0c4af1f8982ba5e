//! `gort::lock_os_thread` (Go's runtime.LockOSThread): the goroutine runs
//! only on its thread — across `yield_now`, channel parks, timer sleeps and
//! asynchronous preemptions — and no other goroutine runs on that thread
//! while it is locked. Calls nest. At GOMAXPROCS=2 with 1 ms slices, beside
//! goroutines that yield, send to it, and do move between threads.

mod common;
mod storm;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{is_child, with_timeout};
use storm::{limit, run_storm_child, wait_for_preemption, xorshift};

/// A token per OS thread (never 0).
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.with(|t| *t)
}

/// The token of the thread a goroutine is locked to right now, or 0.
static LOCKED_ON: AtomicU64 = AtomicU64::new(0);
/// Times another goroutine ran on the locked thread.
static INTRUDERS: AtomicU64 = AtomicU64::new(0);

/// Called by the other goroutines wherever they run.
fn look_around() {
    let me = thread_token();
    // SeqCst: a plain flag between goroutines on different threads; the
    // order of the two reads is what matters (see the locked goroutine).
    if LOCKED_ON.load(Ordering::SeqCst) == me {
        INTRUDERS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Rounds of (yield, channel park, timer sleep, preempted spin) of the
/// locked goroutine.
const ROUNDS: u64 = 12;

/// A call-free spin of about `steps` xorshift steps (preemption lands here).
fn spin(steps: u64) -> u64 {
    let mut x = 1u64;
    for _ in 0..steps {
        x = xorshift(x);
    }
    std::hint::black_box(x)
}

/// Spins in user code for `d` of wall time, several time slices, however
/// fast the build is (the step count alone is too short in release).
fn spin_for(d: Duration) -> u64 {
    let t0 = Instant::now();
    let mut x = 0;
    while t0.elapsed() < d {
        x ^= spin(10_000);
    }
    x
}

fn body() {
    with_timeout(limit(), || {
        wait_for_preemption();
        let before = gort::stats().preemptions;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = gort::chan::bounded::<u64>(0);

        // Others: yield, spin, send to the locked goroutine, and record how
        // often they change threads (so the test shows migration happens).
        let moved = Arc::new(AtomicU64::new(0));
        let others: Vec<_> = (0..5)
            .map(|i| {
                let (stop, tx, moved) = (stop.clone(), tx.clone(), moved.clone());
                gort::go!(move || {
                    let mut here = thread_token();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        look_around();
                        spin(20_000);
                        look_around();
                        if i == 0 {
                            // Only one sender: the locked goroutine parks on
                            // recv between messages.
                            let _ = tx.try_send(n);
                        }
                        gort::yield_now();
                        let now = thread_token();
                        if now != here {
                            moved.fetch_add(1, Ordering::Relaxed);
                            here = now;
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        drop(tx);

        let locked = gort::go!(move || {
            gort::lock_os_thread();
            gort::lock_os_thread(); // nested: needs two unlocks
            let home = thread_token();
            LOCKED_ON.store(home, Ordering::SeqCst);
            let mut checks = 0u64;
            let mut check = |what: &str| {
                assert_eq!(thread_token(), home, "moved off its thread after {what}");
                checks += 1;
            };
            for round in 0..ROUNDS {
                gort::yield_now();
                check("yield_now");
                rx.recv().expect("a sender is alive");
                check("a channel park");
                gort::time::sleep(Duration::from_micros(300));
                check("a timer sleep");
                spin_for(Duration::from_millis(3)); // preempted, in user code
                check("a preemption");
                if round == ROUNDS / 2 {
                    gort::unlock_os_thread(); // still locked once
                }
            }
            LOCKED_ON.store(0, Ordering::SeqCst);
            gort::unlock_os_thread();
            checks
        });
        let checks = locked.join().expect("the locked goroutine");
        stop.store(true, Ordering::Relaxed);
        for h in others {
            h.join().expect("other goroutine");
        }
        let s = gort::stats();
        let moved = moved.load(Ordering::Relaxed);
        let intruders = INTRUDERS.load(Ordering::SeqCst);
        println!(
            "storm: lock-os-thread P={} {checks} checks on the locked goroutine; others moved {moved} times; intruders={intruders}; preemptions={}",
            s.gomaxprocs,
            s.preemptions - before
        );
        assert_eq!(intruders, 0, "another goroutine ran on the locked thread");
        assert_eq!(checks, 4 * ROUNDS, "checks on the locked goroutine");
        assert!(moved > 0, "the others never moved: the test proved little");
        assert!(s.preemptions > before, "nothing was preempted");
    });
}

#[test]
fn lock_os_thread_pins_across_yields_parks_and_preemption() {
    if is_child("lock_os_thread_pins_across_yields_parks_and_preemption") {
        return body();
    }
    run_storm_child(
        "lock_os_thread_pins_across_yields_parks_and_preemption",
        2,
        &[],
    );
}

#[test]
fn unlocked_goroutine_is_free_to_move_and_lock_is_a_no_op_on_plain_threads() {
    with_timeout(limit(), || {
        // A plain thread: both calls do nothing and nothing breaks.
        gort::lock_os_thread();
        gort::unlock_os_thread();
        gort::unlock_os_thread(); // an extra unlock is harmless, as in Go
                                  // A goroutine that locks and unlocks gets back to normal.
        gort::go!(|| {
            gort::lock_os_thread();
            let home = thread_token();
            gort::yield_now();
            assert_eq!(thread_token(), home);
            gort::unlock_os_thread();
            gort::yield_now();
        })
        .join()
        .expect("goroutine");
    });
}
