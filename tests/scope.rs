//! `gort::scope`: goroutines that borrow the caller's locals. 1,000 of them
//! over a borrowed Vec; a panicking child re-raised only after every other
//! child finished; a joined panic that stays with the joiner; `f`'s own
//! panic waiting for the children; nested scopes and spawns from children;
//! a scoped child's tight loop preempted; all from a plain thread and from
//! a goroutine, at GOMAXPROCS 1 and 2.

mod common;

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use common::{m_threads, PeakWatcher};

const LIMIT: Duration = Duration::from_secs(120);

/// Runs `body` on this plain thread, then inside a goroutine.
fn from_thread_and_goroutine(body: fn()) {
    body();
    gort::go!(body).join().unwrap();
}

/// A panic payload we can recognise.
#[derive(Debug, PartialEq)]
struct Boom(u32);

/// 1,000 goroutines read a borrowed Vec and write their own slot of a
/// borrowed output; half hand back a value through `join`.
fn borrow_locals() {
    let input: Vec<u64> = (0..1_000).collect();
    let mut out = vec![0u64; 1_000];
    let peak = PeakWatcher::start(Duration::from_millis(1), m_threads);
    let joined: u64 = gort::scope(|s| {
        let mut hs = Vec::new();
        for (i, slot) in out.iter_mut().enumerate() {
            let input = &input;
            let h = s.go(move || {
                if i % 7 == 0 {
                    gort::yield_now();
                }
                *slot = input[i] * 2;
                input[i]
            });
            if i % 2 == 0 {
                hs.push(h);
            }
        }
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(out.iter().enumerate().all(|(i, &v)| v == 2 * i as u64));
    assert_eq!(joined, (0..1_000).step_by(2).sum::<u64>());
    let (peak, procs) = (peak.finish(), gort::gomaxprocs());
    assert!(peak <= procs + 3, "{peak} M threads at GOMAXPROCS {procs}");
}

fn borrow_locals_both() {
    from_thread_and_goroutine(borrow_locals);
}
at_gomaxprocs_1_and_2!(
    scope_1000_goroutines_borrow_a_local_vec,
    borrow_locals_both,
    LIMIT
);

/// One child panics (its handle dropped at once); the others wait until it
/// has panicked, yield a while and set their flags. `scope` re-raises the
/// child's own payload, and every flag is set when `catch_unwind` returns:
/// it waited for all of them.
fn unjoined_panic() {
    const OTHERS: usize = 50;
    let panicked = AtomicBool::new(false);
    let flags: Vec<AtomicBool> = (0..OTHERS).map(|_| AtomicBool::new(false)).collect();
    let r = catch_unwind(AssertUnwindSafe(|| {
        gort::scope(|s| {
            s.go(|| {
                panicked.store(true, SeqCst);
                resume_unwind(Box::new(Boom(7)));
            });
            for f in &flags {
                let panicked = &panicked;
                s.go(move || {
                    while !panicked.load(SeqCst) {
                        gort::yield_now();
                    }
                    for _ in 0..3 {
                        gort::yield_now();
                    }
                    f.store(true, SeqCst);
                });
            }
        })
    }));
    let payload = r.expect_err("scope did not re-raise the child's panic");
    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(7)));
    assert!(flags.iter().all(|f| f.load(SeqCst)), "returned too early");
}

/// A panicking child whose handle is kept until the child finished, then
/// dropped unjoined (the packet goes in the handle's drop, not the
/// child's): re-raised too. Two such panics: the first recorded wins.
fn unjoined_panic_dropped_late() {
    let r = catch_unwind(AssertUnwindSafe(|| {
        gort::scope(|s| {
            let a = s.go(|| resume_unwind(Box::new(Boom(1))));
            let b = s.go(|| resume_unwind(Box::new(Boom(2))));
            while !(a.is_finished() && b.is_finished()) {
                gort::yield_now();
            }
            drop(a);
            drop(b);
        })
    }));
    let payload = r.expect_err("scope did not re-raise");
    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(1)));
}

fn unjoined_panics() {
    from_thread_and_goroutine(unjoined_panic);
    from_thread_and_goroutine(unjoined_panic_dropped_late);
}
at_gomaxprocs_1_and_2!(
    scope_reraises_an_unjoined_panic_after_every_child_finished,
    unjoined_panics,
    LIMIT
);

/// A joined child's panic is the joiner's: `join` returns `Err` with the
/// payload, and `scope` returns normally.
fn joined_panic() {
    let n = 5;
    let (err, ok) = gort::scope(|s| {
        let bad = s.go(|| -> u32 { resume_unwind(Box::new(Boom(n))) });
        let good = s.go(|| n * 2);
        (bad.join().unwrap_err(), good.join().unwrap())
    });
    assert_eq!(err.downcast_ref::<Boom>(), Some(&Boom(5)));
    assert_eq!(ok, 10);
}

fn joined_panic_both() {
    from_thread_and_goroutine(joined_panic);
}
at_gomaxprocs_1_and_2!(
    a_joined_panic_goes_to_join_not_to_scope,
    joined_panic_both,
    LIMIT
);

/// `f` itself panics while children still run: `scope` waits for them all
/// (they finish only after `f` has panicked), then resumes `f`'s panic —
/// not a child's, though one child panicked unjoined too.
fn f_panics() {
    let f_panicked = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        gort::scope(|s| {
            for i in 0..20 {
                let (f_panicked, done) = (&f_panicked, &done);
                s.go(move || {
                    while !f_panicked.load(SeqCst) {
                        gort::yield_now();
                    }
                    done.fetch_add(1, SeqCst);
                    if i == 0 {
                        resume_unwind(Box::new(Boom(0)));
                    }
                });
            }
            f_panicked.store(true, SeqCst);
            resume_unwind(Box::new(Boom(99)));
        })
    }));
    let payload = r.expect_err("f's panic was swallowed");
    assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(99)));
    assert_eq!(
        done.load(SeqCst),
        20,
        "scope unwound before its children finished"
    );
}

fn f_panics_both() {
    from_thread_and_goroutine(f_panics);
}
at_gomaxprocs_1_and_2!(scope_waits_for_children_when_f_panics, f_panics_both, LIMIT);

/// A scope inside a scoped goroutine, borrowing from both levels, and
/// children that spawn siblings through the shared `&Scope`.
fn nested() {
    let outer: Vec<u32> = (1..=10).collect();
    let total = AtomicUsize::new(0);
    gort::scope(|s| {
        for chunk in outer.chunks(5) {
            let total = &total;
            s.go(move || {
                let inner_sum = AtomicUsize::new(0);
                gort::scope(|s2| {
                    for &x in chunk {
                        let inner_sum = &inner_sum;
                        s2.go(move || inner_sum.fetch_add(x as usize, SeqCst));
                    }
                });
                total.fetch_add(inner_sum.into_inner(), SeqCst);
            });
        }
        // A child spawns a grandchild into the same scope.
        let total = &total;
        s.go(move || {
            s.go(move || total.fetch_add(1_000, SeqCst));
        });
    });
    assert_eq!(total.into_inner(), 55 + 1_000);
}

fn nested_both() {
    from_thread_and_goroutine(nested);
}
at_gomaxprocs_1_and_2!(nested_scopes_and_spawns_from_children, nested_both, LIMIT);

/// A scoped child spinning on a flag that only another scoped child sets,
/// once the spinner has started: at GOMAXPROCS 1 that needs a signal
/// preemption of the spinner, from a plain thread and from a goroutine.
fn tight_loop() {
    let (started, stop) = (AtomicBool::new(false), AtomicBool::new(false));
    let spins = gort::scope(|s| {
        let h = s.go(|| {
            started.store(true, SeqCst);
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                n = n.wrapping_add(1);
            }
            n
        });
        s.go(|| {
            while !started.load(SeqCst) {
                gort::yield_now();
            }
            stop.store(true, SeqCst);
        });
        h.join().unwrap()
    });
    println!("> tight loop: {spins} spins before it was stopped");
}

fn tight_loop_both() {
    from_thread_and_goroutine(tight_loop);
}
at_gomaxprocs_1_and_2!(a_scoped_tight_loop_is_preempted, tight_loop_both, LIMIT);

#[test]
fn scope_returns_f_value_and_debug() {
    common::with_timeout(LIMIT, || {
        let mut v = vec![1, 2, 3];
        let n = gort::scope(|s| {
            let h = s.go(|| v.push(4));
            assert!(format!("{h:?}").starts_with("ScopedJoinHandle { id: "));
            assert!(format!("{s:?}").starts_with("Scope { running: "));
            h.join().unwrap();
            7
        });
        assert_eq!((n, v), (7, vec![1, 2, 3, 4]));
    });
}

#[test]
fn handles_and_scopes_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<gort::ScopedJoinHandle<'static, u8>>();
    send_sync::<gort::Scope<'static, 'static>>();
}
