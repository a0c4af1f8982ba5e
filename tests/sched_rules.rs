//! Go's scheduling rules, observed from outside: GOMAXPROCS handling, thread
//! counts, stealing, the 61-tick global-queue check, yield interleaving.
//! Each rule runs in a child process so it gets its own GOMAXPROCS.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{child_ok, cpu_unit, is_child, m_threads, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn gomaxprocs_4_on_2_cores() {
    if !is_child("gomaxprocs_4_on_2_cores") {
        child_ok("gomaxprocs_4_on_2_cores", &[("GOMAXPROCS", "4")]);
        return;
    }
    with_timeout(LIMIT, || {
        assert_eq!(gort::gomaxprocs(), 4);
        let done = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..16u64)
            .map(|i| {
                let done = done.clone();
                gort::go!(move || {
                    // Short CPU bursts with yields between them: each burst is
                    // well under a time slice even unoptimised, so no
                    // asynchronous preemption parks a thread per goroutine
                    // (a preempted goroutine keeps its M: docs/CAVEATS.md).
                    let mut x = i;
                    for _ in 0..40 {
                        x = cpu_unit(x);
                        gort::yield_now();
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    x
                })
            })
            .collect();
        let mut max_threads = 0;
        while done.load(Ordering::SeqCst) < 16 {
            max_threads = max_threads.max(m_threads());
            std::thread::sleep(Duration::from_millis(1));
        }
        for h in hs {
            h.join().unwrap();
        }
        let ms = gort::stats().threads;
        println!("M threads max={max_threads} Ms created={ms}");
        assert!(ms <= 4 + 3, "Ms created {ms} > GOMAXPROCS + 3");
        assert!(
            max_threads <= 4 + 3,
            "{max_threads} live M threads > GOMAXPROCS + 3"
        );
    });
}

#[test]
fn stealing_spreads_work_over_both_ps() {
    if !is_child("stealing_spreads_work_over_both_ps") {
        child_ok("stealing_spreads_work_over_both_ps", &[("GOMAXPROCS", "2")]);
        return;
    }
    with_timeout(LIMIT, || {
        assert_eq!(gort::gomaxprocs(), 2);
        let before = gort::stats();
        // Batches of 100 stay below the local queue's 256 slots, so nothing
        // overflows to the global queue: the other P can only get work by
        // stealing from the spawner's P.
        let total = gort::go!(|| {
            let mut sum = 0;
            for batch in 0..10u64 {
                let hs: Vec<_> = (0..100u64)
                    .map(|i| gort::go!(move || cpu_unit(batch * 100 + i) & 1))
                    .collect();
                sum += hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
            }
            sum
        })
        .join()
        .unwrap();
        assert!(total <= 1000);
        let after = gort::stats();
        let ran: Vec<u64> = (0..2)
            .map(|p| after.ran_per_p[p] - before.ran_per_p.get(p).copied().unwrap_or(0))
            .collect();
        println!("steals={} ran per P={ran:?}", after.steals - before.steals);
        assert!(after.steals > before.steals, "no steal happened");
        assert!(
            ran.iter().all(|&n| n >= 10),
            "a P ran (almost) nothing: {ran:?}"
        );
    });
}

#[test]
fn global_queue_is_checked_every_61_ticks() {
    if !is_child("global_queue_is_checked_every_61_ticks") {
        child_ok(
            "global_queue_is_checked_every_61_ticks",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        // Two goroutines keep the single P's local queue non-empty forever by
        // yielding to each other; a G injected into the global queue (spawned
        // from this plain thread) must still run. Without the 61st-tick rule
        // the local queue never drains and the loop gives up after 1M yields.
        // The bound counts yields from the moment the injected G is known
        // to be queued (its spawn returned), not from the yielders' start:
        // how long the plain thread takes to spawn is the OS's business.
        let flag = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let yielders: Vec<_> = (0..2)
            .map(|_| {
                let (flag, queued, started) = (flag.clone(), queued.clone(), started.clone());
                gort::go!(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let (mut n, mut at_queued) = (0u64, None);
                    while !flag.load(Ordering::SeqCst) && n < 1_000_000 {
                        if at_queued.is_none() && queued.load(Ordering::SeqCst) {
                            at_queued = Some(n);
                        }
                        gort::yield_now();
                        n += 1;
                    }
                    // Ran before this yielder saw it queued: 0 yields after.
                    let after = at_queued.map_or(0, |q| n - q);
                    (flag.load(Ordering::SeqCst), after)
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < 2 {
            std::thread::yield_now();
        }
        let f = flag.clone();
        let injected = gort::go!(move || f.store(true, Ordering::SeqCst));
        queued.store(true, Ordering::SeqCst);
        for h in yielders {
            let (saw, n) = h.join().unwrap();
            println!("yielder saw the flag {n} yields after it was queued");
            assert!(saw, "injected goroutine never ran: 61-tick rule broken");
            assert!(n < 10_000, "took {n} yields");
        }
        injected.join().unwrap();
    });
}

#[test]
fn yield_now_interleaves_two_goroutines() {
    if !is_child("yield_now_interleaves_two_goroutines") {
        child_ok(
            "yield_now_interleaves_two_goroutines",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let log = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let (log, gate) = (log.clone(), gate.clone());
                gort::go!(move || {
                    gate.fetch_add(1, Ordering::SeqCst);
                    while gate.load(Ordering::SeqCst) < 2 {
                        gort::yield_now();
                    }
                    for _ in 0..100 {
                        log.lock().unwrap().push(name);
                        gort::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 200);
        let switches = log.windows(2).filter(|w| w[0] != w[1]).count();
        println!("switches between a and b: {switches} of 199");
        assert!(switches >= 190, "not interleaved: {:?}", &log[..20]);
    });
}

#[test]
fn invalid_gomaxprocs_falls_back_with_a_warning() {
    if is_child("invalid_gomaxprocs_falls_back_with_a_warning") {
        let want = std::thread::available_parallelism().unwrap().get();
        assert_eq!(gort::gomaxprocs(), want);
        assert_eq!(gort::go!(|| 1).join().unwrap(), 1);
        return;
    }
    for bad in ["0", "-1", "abc", "100000", ""] {
        let (_, se) = child_ok(
            "invalid_gomaxprocs_falls_back_with_a_warning",
            &[("GOMAXPROCS", bad)],
        );
        let warn: Vec<&str> = se.lines().filter(|l| l.contains("GOMAXPROCS")).collect();
        assert_eq!(
            warn.len(),
            1,
            "want one warning line for {bad:?}, stderr:\n{se}"
        );
        assert!(warn[0].contains("using"), "{}", warn[0]);
    }
}

#[test]
fn set_gomaxprocs_grows_and_shrinks() {
    if !is_child("set_gomaxprocs_grows_and_shrinks") {
        child_ok("set_gomaxprocs_grows_and_shrinks", &[("GOMAXPROCS", "1")]);
        return;
    }
    with_timeout(LIMIT, || {
        assert_eq!(gort::set_gomaxprocs(3), 1);
        assert_eq!(gort::gomaxprocs(), 3);
        let sum: u64 = (0..300u64)
            .map(|i| gort::go!(move || cpu_unit(i) & 1))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert!(sum <= 300);
        assert_eq!(gort::set_gomaxprocs(1), 3);
        assert_eq!(gort::set_gomaxprocs(0), 1, "0 only queries");
        let s = gort::go!(|| (0..100u64).map(cpu_unit).fold(0, |a, b| a ^ b))
            .join()
            .unwrap();
        let _ = s;
        let st = gort::stats();
        assert_eq!(st.gomaxprocs, 1);
        assert_eq!(gort::set_gomaxprocs(usize::MAX), 1);
        assert_eq!(gort::gomaxprocs(), gort::MAX_GOMAXPROCS);
        gort::set_gomaxprocs(2);
        assert_eq!(gort::go!(|| 9).join().unwrap(), 9);
    });
}
