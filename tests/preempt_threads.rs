//! Threads stay bounded by GOMAXPROCS however many CPU-bound goroutines run.
//! A goroutine switched out by SIGURG keeps its thread until its next
//! cooperative switch, so the scheduler must not suspend one per goroutine
//! (sched/admit.rs). Each case runs in a child process with its own
//! GOMAXPROCS and time slice, counts the process's gort threads every 2 ms
//! from a plain watcher thread, and checks the peak against Go's shape:
//! the main thread plus the gort threads stay at or below 2 × GOMAXPROCS + 5
//! (GOMAXPROCS + 4 for the article's 16 goroutines at GOMAXPROCS = 4).
//! The cases take a lock so that two children never share the 2 cores.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{child_ok, is_child, with_timeout, PeakWatcher};

/// The watchdog for one child's body.
const LIMIT: Duration = Duration::from_secs(120);

/// One child at a time (they measure a whole machine's worth of threads).
static SERIAL: Mutex<()> = Mutex::new(());

/// Threads of this process whose name starts with `gort-` (Ms, sysmon,
/// the symbol-table reader).
fn gort_threads() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with("gort-"))
        })
        .count()
}

/// Call-free integer work until `d` has passed since the goroutine started
/// (a clock read every few thousand steps). Returns the last value.
fn spin_for(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    loop {
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = std::hint::black_box(x);
        }
        if start.elapsed() >= d {
            return x;
        }
    }
}

/// What one hogs run saw.
#[derive(Debug)]
struct Seen {
    peak_threads: usize,
    sleeper_wakes: usize,
    /// Hogs finished when the goroutine spawned late first ran.
    done_at_late_start: usize,
}

/// `n` CPU goroutines of `work` each, spawned from one goroutine; beside
/// them, with `late_after`, a 1 ms sleeper and a goroutine that after
/// `late_after` spawns one more and notes how many hogs had finished when it
/// started. All started from a main goroutine, as under `#[gort::main]`.
fn hogs(n: usize, work: Duration, late_after: Option<Duration>) -> Seen {
    let watcher = PeakWatcher::start(Duration::from_millis(2), gort_threads);
    let (sleeper_wakes, done_at_late_start) = gort::go!(move || hogs_main(n, work, late_after))
        .join()
        .expect("main goroutine");
    Seen {
        // The main thread counted in.
        peak_threads: watcher.finish() + 1,
        sleeper_wakes,
        done_at_late_start,
    }
}

fn hogs_main(n: usize, work: Duration, late_after: Option<Duration>) -> (usize, usize) {
    let done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(AtomicBool::new(false));
    let stop = all_done.clone();
    let sleeper = late_after.map(|_| {
        gort::go!(move || {
            let mut wakes = 0;
            while !stop.load(Ordering::Relaxed) {
                gort::time::sleep(Duration::from_millis(1));
                wakes += 1;
            }
            wakes
        })
    });
    let d = done.clone();
    let late = late_after.map(|after| {
        gort::go!(move || {
            gort::time::sleep(after);
            let d2 = d.clone();
            gort::go!(move || d2.load(Ordering::SeqCst))
                .join()
                .expect("late goroutine")
        })
    });
    let d = done.clone();
    let spawner = gort::go!(move || {
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let d = d.clone();
                gort::go!(move || {
                    let x = spin_for(work);
                    d.fetch_add(1, Ordering::SeqCst);
                    x
                })
            })
            .collect();
        let mut joined = 0;
        for h in hs {
            h.join().expect("hog");
            joined += 1;
        }
        joined
    });
    assert_eq!(spawner.join().expect("spawner"), n, "every hog completed");
    all_done.store(true, Ordering::Relaxed);
    let sleeper_wakes = sleeper.map_or(0, |h| h.join().expect("sleeper"));
    let done_at_late_start = late.map_or(0, |h| h.join().expect("late spawner"));
    (sleeper_wakes, done_at_late_start)
}

/// Runs `test`'s child (one at a time) with `envs` and echoes its summary.
fn run(test: &str, envs: &[(&str, &str)]) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (so, _) = child_ok(test, envs);
    let line = so.lines().find_map(|l| l.find("hogs:").map(|i| &l[i..]));
    println!("{test}: {}", line.unwrap_or_default());
}

/// What a hogs child must see.
struct Want {
    /// Peak threads, the main thread included.
    max_threads: usize,
    /// Wake-ups the 1 ms sleeper must get while the hogs run.
    min_wakes: usize,
}

/// In `test`'s child: runs [`hogs`] and checks `want`, that every hog
/// completed and that the late goroutine did not wait for all of them.
fn hogs_child(test: &str, n: usize, work: Duration, late_after: Option<Duration>, want: Want) {
    if !is_child(test) {
        return;
    }
    let seen = with_timeout(LIMIT, move || hogs(n, work, late_after));
    println!("hogs: {seen:?}");
    assert!(seen.peak_threads <= want.max_threads, "{seen:?}");
    assert!(seen.sleeper_wakes >= want.min_wakes, "{seen:?}");
    assert!(
        seen.done_at_late_start < n,
        "the late goroutine waited: {seen:?}"
    );
}

/// 300 CPU goroutines at P = 1: threads ≤ 2P + 5 = 7, the sleeper keeps
/// waking, a goroutine spawned late starts before the hogs are done.
#[test]
fn three_hundred_hogs_p1() {
    run(
        "three_hundred_hogs_p1_child",
        &[("GOMAXPROCS", "1"), ("GORT_TIMESLICE", "2ms")],
    );
}

#[test]
fn three_hundred_hogs_p1_child() {
    let want = Want {
        max_threads: 2 + 5,
        min_wakes: 20,
    };
    let (work, late) = (Duration::from_millis(5), Some(Duration::from_millis(300)));
    hogs_child("three_hundred_hogs_p1_child", 300, work, late, want);
}

/// 500 CPU goroutines at P = 2: threads ≤ 2P + 5 = 9, and as above.
#[test]
fn five_hundred_hogs_p2() {
    run(
        "five_hundred_hogs_p2_child",
        &[("GOMAXPROCS", "2"), ("GORT_TIMESLICE", "2ms")],
    );
}

#[test]
fn five_hundred_hogs_p2_child() {
    let want = Want {
        max_threads: 2 * 2 + 5,
        min_wakes: 20,
    };
    let (work, late) = (Duration::from_millis(5), Some(Duration::from_millis(300)));
    hogs_child("five_hundred_hogs_p2_child", 500, work, late, want);
}

/// The article's scenario: 16 CPU goroutines, and nothing else, at
/// GOMAXPROCS = 4 on this machine's cores stay within GOMAXPROCS + 4 = 8
/// threads.
#[test]
fn article_sixteen_at_p4() {
    run("article_sixteen_at_p4_child", &[("GOMAXPROCS", "4")]);
}

#[test]
fn article_sixteen_at_p4_child() {
    let want = Want {
        max_threads: 4 + 4,
        min_wakes: 0,
    };
    let (work, late) = (Duration::from_millis(100), None);
    hogs_child("article_sixteen_at_p4_child", 16, work, late, want);
}

/// 20,000 short CPU goroutines at a 1 ms slice complete (once, threads
/// grew until thread creation failed), within 2P + 5 threads.
#[test]
fn twenty_thousand_short_hogs() {
    run(
        "twenty_thousand_short_hogs_child",
        &[("GOMAXPROCS", "2"), ("GORT_TIMESLICE", "1ms")],
    );
}

#[test]
fn twenty_thousand_short_hogs_child() {
    let want = Want {
        max_threads: 2 * 2 + 5,
        min_wakes: 20,
    };
    let (work, late) = (
        Duration::from_micros(1200),
        Some(Duration::from_millis(300)),
    );
    hogs_child("twenty_thousand_short_hogs_child", 20_000, work, late, want);
}

/// Past `gort::debug::set_max_threads`, Go's fatal message and a non-zero
/// exit: 20 goroutines blocked in a std Barrier (a call nobody announced:
/// each keeps its thread) against a limit of 6 threads.
#[test]
fn thread_limit_is_fatal_with_gos_message() {
    const T: &str = "thread_limit_child";
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = common::run_child(T, &[("GOMAXPROCS", "2")]);
    let (so, se) = common::texts(&out);
    assert!(!out.status.success(), "the child survived:\n{so}\n{se}");
    assert!(
        se.contains("runtime: program exceeds 6-thread limit")
            && se.contains("fatal error: thread exhaustion"),
        "stderr:\n{se}"
    );
}

#[test]
fn thread_limit_child() {
    if !is_child("thread_limit_child") {
        return;
    }
    const N: usize = 20;
    assert_eq!(gort::debug::set_max_threads(6), 10_000, "Go's default");
    with_timeout(LIMIT, || {
        // All N goroutines block at once only if N threads exist; this
        // thread is the last to arrive, so a runtime that stayed within the
        // limit would release them and the child would pass (a failure).
        let barrier = Arc::new(std::sync::Barrier::new(N + 1));
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let b = barrier.clone();
                gort::go!(move || {
                    b.wait();
                })
            })
            .collect();
        barrier.wait();
        for h in hs {
            h.join().expect("waiter");
        }
    });
    println!("all {N} finished: the limit did not stop the program");
}
