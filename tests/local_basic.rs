//! Goroutine-local storage (`gort::local!`, runtime/src/goroutine/local.rs): one value
//! per goroutine that follows it across yields and threads, made on first
//! use, dropped when the goroutine exits (before `join` returns); per thread
//! on a plain thread.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::with_timeout;

const LIMIT: Duration = Duration::from_secs(30);

gort::local! {
    static ID: Cell<u64> = Cell::new(0);
    static TRAIL: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

/// A token per OS thread, to see where a goroutine runs.
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.with(|t| *t)
}

#[test]
fn each_goroutine_has_its_own_value_across_yields_and_threads() {
    with_timeout(LIMIT, || {
        let moved = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(10);
        let hs: Vec<_> = (1..=64u64)
            .map(|i| {
                let moved = moved.clone();
                gort::go!(move || {
                    assert_eq!(ID.get(), 0, "a new goroutine starts from the initializer");
                    ID.set(i);
                    let mut here = thread_token();
                    let mut rounds = 0;
                    // Switch out until some goroutine has been seen to
                    // change threads (the value must follow it), at least 50
                    // times. A yield goes back to the same P's queue, and
                    // with both Ps busy nobody steals, so after the first
                    // 50 rounds each round sleeps instead: the timer readies
                    // the goroutine on whichever P's M fires it.
                    while rounds < 50
                        || (moved.load(Ordering::Relaxed) == 0 && Instant::now() < deadline)
                    {
                        TRAIL.with_borrow_mut(|t| t.push(i));
                        if rounds < 50 {
                            gort::yield_now();
                        } else {
                            gort::time::sleep(Duration::from_micros(200));
                        }
                        let now = thread_token();
                        if now != here {
                            moved.fetch_add(1, Ordering::Relaxed);
                            here = now;
                        }
                        assert_eq!(ID.get(), i, "goroutine {i} saw another's value");
                        rounds += 1;
                    }
                    let trail = TRAIL.with_borrow(|t| t.clone());
                    assert_eq!(trail.len(), rounds);
                    assert!(trail.iter().all(|&x| x == i));
                    i
                })
            })
            .collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 64 * 65 / 2);
        let moved = moved.load(Ordering::Relaxed);
        println!(
            "goroutines changed threads {moved} times (GOMAXPROCS={})",
            gort::gomaxprocs()
        );
        if gort::gomaxprocs() > 1 {
            assert!(
                moved > 0,
                "no goroutine ever moved: the test proved nothing"
            );
        }
    });
}

/// Counts drops, and checks what its destructor can still reach.
struct Tracked {
    drops: Arc<AtomicUsize>,
    /// What `ID` held when this value was dropped (None: not reachable).
    saw: Arc<Mutex<Vec<Option<u64>>>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let id = ID.try_with(Cell::get).ok();
        self.saw.lock().unwrap().push(id);
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn no_tracked() -> Option<Tracked> {
    None
}

gort::local! {
    static TRACKED: RefCell<Option<Tracked>> = RefCell::new(no_tracked());
}

#[test]
fn values_are_dropped_when_the_goroutine_exits_before_join_returns() {
    with_timeout(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let saw = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (1..=20u64)
            .map(|i| {
                let t = Tracked {
                    drops: drops.clone(),
                    saw: saw.clone(),
                };
                gort::go!(move || {
                    // ID first, TRACKED second: newest first means TRACKED's
                    // destructor still sees ID.
                    ID.set(i);
                    TRACKED.with_borrow_mut(|s| *s = Some(t));
                    gort::yield_now();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            20,
            "every value dropped by join"
        );
        let mut seen: Vec<u64> = saw.lock().unwrap().iter().map(|x| x.unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=20).collect::<Vec<_>>(),
            "each dropped on its own goroutine"
        );
    });
}

#[test]
fn a_destructor_cannot_revive_a_dropped_key() {
    with_timeout(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let saw = Arc::new(Mutex::new(Vec::new()));
        let t = Tracked {
            drops: drops.clone(),
            saw: saw.clone(),
        };
        // TRACKED first, ID second: ID is dropped first, so TRACKED's
        // destructor gets AccessError instead of a fresh ID.
        gort::go!(move || {
            TRACKED.with_borrow_mut(|s| *s = Some(t));
            ID.set(5);
        })
        .join()
        .unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(*saw.lock().unwrap(), vec![None]);
    });
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("PanicOnDrop (on purpose)");
    }
}

gort::local! {
    static BOMB: RefCell<Option<PanicOnDrop>> = const { RefCell::new(None) };
}

#[test]
fn a_panicking_destructor_fails_the_join_and_the_rest_are_dropped() {
    with_timeout(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let t = Tracked {
            drops: drops.clone(),
            saw: Arc::new(Mutex::new(Vec::new())),
        };
        let r = gort::go!(move || {
            TRACKED.with_borrow_mut(|s| *s = Some(t));
            BOMB.with_borrow_mut(|b| *b = Some(PanicOnDrop));
            7
        })
        .join();
        let err = r.expect_err("the destructor's panic is the goroutine's");
        assert_eq!(
            err.downcast_ref::<&str>(),
            Some(&"PanicOnDrop (on purpose)")
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the other value was dropped too"
        );
    });
}

gort::local! {
    static BASE: Cell<u64> = Cell::new(100);
    /// An initializer that uses another key.
    static DERIVED: Cell<u64> = Cell::new(BASE.get() + 1);
}

#[test]
fn initializers_and_closures_may_use_other_keys() {
    with_timeout(LIMIT, || {
        let v = gort::go!(|| {
            BASE.set(41);
            DERIVED.with(|d| {
                // Nested: another key inside a `with` closure, and a yield.
                ID.with(|id| id.set(d.get()));
                gort::yield_now();
                d.get() + ID.get()
            })
        })
        .join()
        .unwrap();
        assert_eq!(v, 84);
    });
}

#[test]
fn plain_threads_get_per_thread_values_dropped_at_thread_exit() {
    with_timeout(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let ids: HashSet<u64> = (1..=4u64)
            .map(|i| {
                let drops = drops.clone();
                std::thread::spawn(move || {
                    assert_eq!(ID.get(), 0);
                    ID.set(i);
                    TRACKED.with_borrow_mut(|s| {
                        *s = Some(Tracked {
                            drops,
                            saw: Arc::new(Mutex::new(Vec::new())),
                        })
                    });
                    // A goroutine spawned from here has its own value.
                    let inner = gort::go!(|| ID.get()).join().unwrap();
                    assert_eq!(inner, 0);
                    ID.get()
                })
            })
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(ids, (1..=4).collect());
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    });
}
