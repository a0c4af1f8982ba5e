//! `gort::sync::Once` and `OnceLock`: one initializer under 1,000
//! contending goroutines while the others park (a blocked thread per waiter
//! would deadlock GOMAXPROCS 1, and the thread count is watched), Go's
//! panic rule for Once, std's retry rule for OnceLock, `set` races, and the
//! cell's value handling. The contention tests run at GOMAXPROCS 1 and 2.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{m_threads, wait_parked, with_timeout, PeakWatcher};
use gort::sync::{Once, OnceLock};

const LIMIT: Duration = Duration::from_secs(120);
/// Callers in the contention tests.
const CALLERS: usize = 1_000;
/// A caller waiting in a Once shows this in a dump (Go's Once waits on its
/// mutex).
const REASON: &str = "sync.Mutex.Lock";

/// Asserts that the M threads seen stayed within GOMAXPROCS + 3 (a waiter
/// that blocked its thread would make sysmon start an M per waiter).
fn assert_few_threads(peak: PeakWatcher, what: &str) {
    let (peak, procs) = (peak.finish(), gort::gomaxprocs());
    println!("> {what}: M threads peak {peak} at GOMAXPROCS {procs}");
    assert!(peak <= procs + 3, "{what}: {peak} M threads");
}

/// 1,000 goroutines call `call_once` together. The initializer (run by
/// whichever came first) sleeps until the 999 others are parked in the
/// Once, then writes a value with a Relaxed store: it ran once, every
/// caller sees the value (the Once orders it), the threads stayed few.
fn once_runs_once_while_the_rest_park() {
    let once = Arc::new(Once::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let value = Arc::new(AtomicUsize::new(0));
    let peak = PeakWatcher::start(Duration::from_millis(1), m_threads);
    let hs: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (once, runs, value) = (once.clone(), runs.clone(), value.clone());
            gort::go!(move || {
                once.call_once(|| {
                    runs.fetch_add(1, SeqCst);
                    wait_parked(REASON, CALLERS - 1);
                    value.store(42, Relaxed);
                });
                value.load(Relaxed)
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 42, "a caller returned before the init");
    }
    assert_eq!(runs.load(SeqCst), 1);
    assert!(once.is_completed());
    assert_few_threads(peak, "Once");
}
at_gomaxprocs_1_and_2!(
    once_runs_the_initializer_once_and_parks_1000_waiters,
    once_runs_once_while_the_rest_park,
    LIMIT
);

/// Goroutines and plain threads race into a Once whose initializer panics
/// once every other goroutine is parked: the runner gets the panic, every
/// waiter is released and returns normally, and the Once is complete
/// (Go's rule), so a later call does not run its closure.
fn once_panic_counts_as_done() {
    const G: usize = 100;
    let once = Arc::new(Once::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let call = {
        let (once, runs) = (once.clone(), runs.clone());
        move || {
            catch_unwind(AssertUnwindSafe(|| {
                once.call_once(|| {
                    runs.fetch_add(1, SeqCst);
                    wait_parked(REASON, G - 1);
                    panic!("init failed");
                })
            }))
            .is_err()
        }
    };
    let gs: Vec<_> = (0..G).map(|_| gort::go!(call.clone())).collect();
    let ts: Vec<_> = (0..2).map(|_| std::thread::spawn(call.clone())).collect();
    let mut panicked = 0;
    for h in gs {
        panicked += usize::from(h.join().unwrap());
    }
    for t in ts {
        panicked += usize::from(t.join().unwrap());
    }
    assert_eq!((runs.load(SeqCst), panicked), (1, 1));
    assert!(once.is_completed(), "a panicked init counts as done");
    once.call_once(|| panic!("ran again"));
}
at_gomaxprocs_1_and_2!(
    once_panic_counts_as_done_and_releases_the_waiters,
    once_panic_counts_as_done,
    LIMIT
);

/// 1,000 goroutines call `get_or_init` together; the first initializer
/// sleeps until the others are parked. One value is made, and every caller
/// gets a reference to that one value.
fn oncelock_get_or_init_contention() {
    let cell: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let peak = PeakWatcher::start(Duration::from_millis(1), m_threads);
    let hs: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (cell, runs) = (cell.clone(), runs.clone());
            gort::go!(move || {
                let v = cell.get_or_init(|| {
                    runs.fetch_add(1, SeqCst);
                    wait_parked(REASON, CALLERS - 1);
                    format!("made by {i}")
                });
                (v as *const String as usize, v.clone())
            })
        })
        .collect();
    let got: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(runs.load(SeqCst), 1);
    let (addr, value) = got[0].clone();
    assert!(value.starts_with("made by "));
    assert!(got.iter().all(|g| *g == (addr, value.clone())), "one value");
    assert_eq!(cell.get(), Some(&value));
    assert_few_threads(peak, "OnceLock");
}
at_gomaxprocs_1_and_2!(
    oncelock_get_or_init_makes_one_value_for_1000_goroutines,
    oncelock_get_or_init_contention,
    LIMIT
);

/// 100 goroutines and 4 plain threads race to `set` their own number:
/// exactly one wins, every loser gets its own value back, and the cell
/// holds the winner's.
fn oncelock_set_race() {
    for _round in 0..20 {
        let cell = Arc::new(OnceLock::new());
        let set = |i: usize| {
            let cell = cell.clone();
            move || match cell.set(i) {
                Ok(()) => Some(i),
                Err(back) => {
                    assert_eq!(back, i, "a loser got another value back");
                    None
                }
            }
        };
        let gs: Vec<_> = (0..100).map(|i| gort::go!(set(i))).collect();
        let ts: Vec<_> = (100..104).map(|i| std::thread::spawn(set(i))).collect();
        let mut winners: Vec<usize> = gs.into_iter().filter_map(|h| h.join().unwrap()).collect();
        winners.extend(ts.into_iter().filter_map(|t| t.join().unwrap()));
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        assert_eq!(cell.get(), Some(&winners[0]));
    }
}
at_gomaxprocs_1_and_2!(
    oncelock_set_has_exactly_one_winner,
    oncelock_set_race,
    LIMIT
);

/// The first initializer panics once the other callers are parked: the
/// cell stays empty, its caller gets the panic, and exactly one of the
/// waiters runs its own initializer, whose value everyone else gets.
fn oncelock_panic_then_retry() {
    const G: usize = 50;
    let cell: Arc<OnceLock<usize>> = Arc::new(OnceLock::new());
    let attempts = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..G)
        .map(|_| {
            let (cell, attempts) = (cell.clone(), attempts.clone());
            gort::go!(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    *cell.get_or_init(|| {
                        let k = attempts.fetch_add(1, SeqCst);
                        if k == 0 {
                            wait_parked(REASON, G - 1);
                            panic!("first init fails");
                        }
                        k
                    })
                }))
                .ok()
            })
        })
        .collect();
    let got: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got.iter().filter(|r| r.is_none()).count(), 1, "one panic");
    assert!(got.iter().flatten().all(|&v| v == 1), "{got:?}");
    assert_eq!(attempts.load(SeqCst), 2, "one failed init, one retry");
    assert_eq!(cell.get(), Some(&1));
}
at_gomaxprocs_1_and_2!(
    oncelock_panic_leaves_it_empty_and_a_waiter_retries,
    oncelock_panic_then_retry,
    LIMIT
);

/// Counts drops of its values.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn oncelock_values_are_taken_and_dropped_once() {
    with_timeout(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let c = || Counted(drops.clone());
        // Dropped with the cell.
        let cell = OnceLock::new();
        assert!(cell.set(c()).is_ok());
        let back = cell.set(c()).unwrap_err(); // given back, not dropped
        assert_eq!(drops.load(SeqCst), 0);
        drop(back);
        drop(cell);
        assert_eq!(drops.load(SeqCst), 2);
        // take, then refill; into_inner.
        let mut cell = OnceLock::from(c());
        let taken = cell.take().expect("full");
        assert!(cell.take().is_none() && cell.get().is_none());
        cell.set(c()).unwrap();
        let inner = cell.into_inner().expect("full");
        assert_eq!(drops.load(SeqCst), 2);
        drop((taken, inner));
        assert_eq!(drops.load(SeqCst), 4);
        // An empty cell drops nothing.
        drop(OnceLock::<Counted>::new());
        assert_eq!(drops.load(SeqCst), 4);
    });
}

#[test]
fn oncelock_api() {
    static GLOBAL: OnceLock<Vec<u32>> = OnceLock::new();
    assert_eq!(GLOBAL.get(), None);
    assert_eq!(GLOBAL.get_or_init(|| vec![1, 2]), &[1, 2]);
    let mut cell: OnceLock<u32> = OnceLock::default();
    assert_eq!(format!("{cell:?}"), "OnceLock(<uninit>)");
    assert!(cell.get_mut().is_none());
    assert_eq!(*cell.get_or_init(|| 5), 5);
    *cell.get_mut().unwrap() += 1;
    assert_eq!(format!("{cell:?}"), "OnceLock(6)");
    assert_eq!(cell.clone(), cell);
    assert_ne!(cell, OnceLock::new());
    assert_eq!(OnceLock::<u32>::new().clone(), OnceLock::new());
}

#[test]
fn once_api() {
    static ONCE: Once = Once::new();
    assert!(!ONCE.is_completed());
    let mut n = 0;
    ONCE.call_once(|| n += 1);
    ONCE.call_once(|| n += 1);
    assert_eq!(n, 1);
    assert!(ONCE.is_completed());
    assert_eq!(format!("{ONCE:?}"), "Once { completed: true }");
    assert!(!Once::default().is_completed());
}

#[test]
fn send_and_sync_as_std() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Once>();
    send_sync::<OnceLock<String>>();
    // Sync needs T: Sync + Send (std's bound); a Send-only T gives Send.
    send::<OnceLock<std::cell::Cell<u8>>>();
}
