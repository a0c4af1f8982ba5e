//! The mprotect fallback for kernels without `MADV_GUARD_INSTALL` (Linux <
//! 6.13), forced here with `GORT_STACK_GUARD=mprotect` in child processes:
//! guards still catch overflows; each one costs mappings, so spawning stops
//! with a clear error naming `vm.max_map_count` before the process runs out of
//! them (`Builder::spawn` returns it, `go!` panics with it), and the runtime
//! keeps working afterwards.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{is_child, run_child, texts, with_timeout};

const LIMIT: Duration = Duration::from_secs(120);
const MPROTECT: (&str, &str) = ("GORT_STACK_GUARD", "mprotect");

fn maps_lines() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}

fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65530)
}

/// What the chain found at its end.
#[derive(Default)]
struct End {
    /// Links alive when spawning failed.
    live: usize,
    /// Builder::spawn's error, and go!'s panic message.
    spawn_err: Option<std::io::Error>,
    go_panic: Option<String>,
    /// /proc/self/maps lines at that moment.
    maps: usize,
}

/// Spawns links until Builder::spawn fails; each link parks joining the next.
/// The last one records what failed, waits for the gate, and the chain unwinds.
fn link(live: Arc<AtomicUsize>, gate: Arc<AtomicBool>, end: Arc<Mutex<End>>) {
    let n = live.fetch_add(1, Ordering::SeqCst) + 1;
    let (l, g, e) = (live.clone(), gate.clone(), end.clone());
    match gort::Builder::new().spawn(move || link(l, g, e)) {
        Ok(h) => h.join().expect("link"),
        Err(err) => {
            let go_panic = catch_unwind(AssertUnwindSafe(|| gort::go!(|| ())))
                .err()
                .map(|p| match p.downcast::<String>() {
                    Ok(s) => *s,
                    Err(_) => "non-string panic".into(),
                });
            *end.lock().unwrap() = End {
                live: n,
                spawn_err: Some(err),
                go_panic,
                maps: maps_lines(),
            };
            while !gate.load(Ordering::SeqCst) {
                gort::yield_now();
            }
        }
    }
}

#[test]
fn child_budget() {
    if !is_child("child_budget") {
        return;
    }
    let live = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicBool::new(false));
    let end = Arc::new(Mutex::new(End::default()));
    let root = {
        let (l, g, e) = (live.clone(), gate.clone(), end.clone());
        gort::go!(move || link(l, g, e))
    };
    while end.lock().unwrap().spawn_err.is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let e = std::mem::take(&mut *end.lock().unwrap());
    let err = e.spawn_err.expect("spawn error");
    println!(
        "spawn failed with {} goroutines live, {} maps lines (max {}): {err}",
        e.live,
        e.maps,
        max_map_count()
    );
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
    let msg = err.to_string();
    assert!(
        msg.contains("vm.max_map_count") && msg.contains("MADV_GUARD_INSTALL"),
        "{msg}"
    );
    let panic = e.go_panic.expect("go! should panic");
    assert!(
        panic.contains("vm.max_map_count"),
        "go! panicked with: {panic}"
    );
    // The budget is most of the limit, and the process stayed under it.
    assert!(e.live > max_map_count() / 4, "only {} goroutines", e.live);
    assert!(e.maps < max_map_count(), "{} maps lines", e.maps);
    gate.store(true, Ordering::SeqCst);
    root.join().expect("root");
    // Stacks are pooled, so goroutines run again once the chain is gone.
    let sum: usize = (0..1000)
        .map(|i| gort::go!(move || i))
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(sum, 499_500);
    println!("runtime still works");
}

#[test]
fn spawn_fails_cleanly_when_mprotect_guards_exhaust_the_budget() {
    with_timeout(LIMIT, || {
        let o = run_child("child_budget", &[MPROTECT]);
        let (out, err) = texts(&o);
        println!("{out}");
        assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
        assert!(out.contains("runtime still works"), "{out}");
    });
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 64]);
    if n == 0 {
        return frame[1];
    }
    recurse(n - 1).wrapping_add(frame[(n % 64) as usize])
}

#[test]
fn child_overflow() {
    if is_child("child_overflow") {
        let _ = gort::go!(|| recurse(u64::MAX)).join();
    }
}

#[test]
fn mprotect_guards_catch_overflows_too() {
    with_timeout(LIMIT, || {
        let o = run_child("child_overflow", &[MPROTECT]);
        let (_, err) = texts(&o);
        assert!(!o.status.success());
        assert!(
            err.contains("stack overflow (stack size 262144)"),
            "stderr:\n{err}"
        );
    });
}

#[test]
fn a_bad_guard_setting_is_warned_about() {
    with_timeout(LIMIT, || {
        let o = run_child("child_overflow", &[("GORT_STACK_GUARD", "none")]);
        let (_, err) = texts(&o);
        assert!(err.contains("ignoring GORT_STACK_GUARD=\"none\""), "{err}");
        assert!(err.contains("stack overflow"), "still guarded:\n{err}");
    });
}
