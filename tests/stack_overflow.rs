//! Stack overflow through the public API: a goroutine that recurses forever is
//! named in a `fatal error: goroutine N stack overflow` report and the process
//! dies; a deep but legal recursion fits a bigger `Builder::stack_size` or
//! `GORT_STACK_SIZE`; bad sizes are refused or warned about; other faults keep
//! their default meaning. Crashes run in child processes (common::run_child).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{is_child, run_child, texts, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);

/// Frames of about 600 bytes: the 256 KiB default holds ~400 of them.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 64]);
    if n == 0 {
        return frame[1];
    }
    // Not a tail call: the addition needs this frame after the call returns.
    recurse(n - 1).wrapping_add(frame[(n % 64) as usize])
}

/// Deep enough to overflow the default stack, legal on 4 MiB.
const DEEP: u64 = 2_000;

/// Set once the parent thread has printed the recurser's id.
static ID_PRINTED: AtomicBool = AtomicBool::new(false);

/// Runs `f` on a goroutine named "recurser" (with `GORT_TEST_STACK` bytes of
/// stack if set) and prints its id before `f` starts, so the parent can look
/// for it in the report.
fn run_recurser(f: fn() -> u64) {
    let mut b = gort::Builder::new().name("recurser");
    if let Ok(v) = std::env::var("GORT_TEST_STACK") {
        b = b.stack_size(v.parse().expect("GORT_TEST_STACK is a number"));
    }
    let h = b
        .spawn(move || {
            while !ID_PRINTED.load(Ordering::SeqCst) {
                gort::yield_now();
            }
            f()
        })
        .expect("spawn");
    println!("recurser is goroutine {}", h.id());
    ID_PRINTED.store(true, Ordering::SeqCst);
    let r = h.join();
    println!("recurser returned {r:?}");
}

fn child_main(test: &str, f: fn() -> u64) {
    if is_child(test) {
        run_recurser(f);
    }
}

#[test]
fn child_infinite() {
    child_main("child_infinite", || recurse(u64::MAX));
}

#[test]
fn child_deep() {
    child_main("child_deep", || recurse(DEEP));
}

/// The id the child printed, from its stdout.
fn recurser_id(o: &Output) -> u64 {
    let (out, err) = texts(o);
    out.lines()
        .find_map(|l| l.split_once("recurser is goroutine ").map(|(_, id)| id))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("child printed no id\nstdout:\n{out}\nstderr:\n{err}"))
}

/// Runs an overflowing child with `envs` and checks the report; returns stderr.
fn expect_overflow(test: &str, envs: &[(&str, &str)], stack_size: usize) -> String {
    let o = run_child(test, envs);
    let (out, err) = texts(&o);
    assert!(
        !o.status.success(),
        "child should have died\nstdout:\n{out}\nstderr:\n{err}"
    );
    let id = recurser_id(&o);
    let want = format!("fatal error: goroutine {id} stack overflow (stack size {stack_size})");
    assert!(err.contains(&want), "want {want:?} in stderr:\n{err}");
    assert!(err.contains(&format!(
        "goroutine {id} 'recurser', created at tests/stack_overflow.rs:"
    )));
    assert!(err.contains("GORT_STACK_SIZE") && err.contains("Builder::stack_size"));
    assert_eq!(
        o.status.signal(),
        Some(libc_sigabrt()),
        "aborts: {:?}",
        o.status
    );
    err
}

/// SIGABRT's number on Linux (x86_64 and aarch64).
fn libc_sigabrt() -> i32 {
    6
}

#[test]
fn infinite_recursion_reports_the_goroutine_and_dies() {
    with_timeout(LIMIT, || {
        expect_overflow("child_infinite", &[], gort::DEFAULT_STACK_SIZE);
    });
}

#[test]
fn deep_recursion_overflows_the_default_stack() {
    with_timeout(LIMIT, || {
        expect_overflow("child_deep", &[], gort::DEFAULT_STACK_SIZE);
    });
}

#[test]
fn deep_recursion_fits_a_bigger_builder_stack() {
    with_timeout(LIMIT, || {
        let h = gort::Builder::new()
            .stack_size(4 << 20)
            .spawn(|| recurse(DEEP))
            .expect("spawn");
        let want: u64 = (1..=DEEP).sum();
        assert_eq!(h.join().unwrap(), want);
    });
}

#[test]
fn builder_stack_size_is_rounded_and_reported() {
    with_timeout(LIMIT, || {
        // 100,000 bytes round up to 25 pages.
        expect_overflow("child_infinite", &[("GORT_TEST_STACK", "100000")], 102_400);
    });
}

#[test]
fn gort_stack_size_raises_the_default() {
    with_timeout(LIMIT, || {
        let o = run_child("child_deep", &[("GORT_STACK_SIZE", "4M")]);
        let (out, err) = texts(&o);
        assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
        assert!(out.contains("recurser returned Ok("), "{out}");
        expect_overflow("child_infinite", &[("GORT_STACK_SIZE", "1M")], 1 << 20);
    });
}

#[test]
fn bad_gort_stack_size_is_warned_about_and_ignored() {
    with_timeout(LIMIT, || {
        let err = expect_overflow(
            "child_infinite",
            &[("GORT_STACK_SIZE", "12k")],
            gort::DEFAULT_STACK_SIZE,
        );
        assert!(
            err.contains("ignoring GORT_STACK_SIZE=\"12k\"")
                && err.contains(&format!("below the minimum of {}", gort::MIN_STACK_SIZE)),
            "{err}"
        );
        let err = expect_overflow(
            "child_infinite",
            &[("GORT_STACK_SIZE", "lots")],
            gort::DEFAULT_STACK_SIZE,
        );
        assert!(
            err.contains("ignoring GORT_STACK_SIZE=\"lots\" (not a size"),
            "{err}"
        );
        let err = expect_overflow(
            "child_infinite",
            &[("GORT_STACK_SIZE", "2G")],
            gort::DEFAULT_STACK_SIZE,
        );
        assert!(err.contains("above the maximum"), "{err}");
    });
}

#[test]
fn builder_refuses_bad_stack_sizes() {
    with_timeout(LIMIT, || {
        let e = gort::Builder::new()
            .stack_size(1000)
            .spawn(|| ())
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            e.to_string().contains(&gort::MIN_STACK_SIZE.to_string()),
            "{e}"
        );
        let e = gort::Builder::new()
            .stack_size(2 << 30)
            .spawn(|| ())
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("maximum"), "{e}");
        let e = gort::Builder::new().stack_size(0).spawn(|| ()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    });
}

#[test]
fn child_wild_write() {
    if is_child("child_wild_write") {
        gort::go!(|| {
            let p = std::hint::black_box(0x10usize) as *mut u64;
            // SAFETY: none; the write is meant to fault (page 0 is never
            // mapped), to show that a fault outside a guard page keeps its
            // default meaning.
            unsafe { p.write_volatile(1) };
        })
        .join()
        .unwrap();
    }
}

#[test]
fn other_faults_keep_their_default_action() {
    with_timeout(LIMIT, || {
        let o = run_child("child_wild_write", &[]);
        let (_, err) = texts(&o);
        assert_eq!(
            o.status.signal(),
            Some(11),
            "SIGSEGV: {:?}\n{err}",
            o.status
        );
        assert!(!err.contains("stack overflow"), "{err}");
    });
}

#[test]
fn child_thread_overflow() {
    if is_child("child_thread_overflow") {
        // Start the runtime, so its handler is installed in front of std's.
        gort::go!(|| ()).join().unwrap();
        let t = std::thread::Builder::new()
            .name("plain".into())
            .stack_size(256 << 10)
            .spawn(|| recurse(u64::MAX))
            .unwrap();
        let _ = t.join();
    }
}

#[test]
fn a_plain_thread_overflow_still_gets_stds_report() {
    with_timeout(LIMIT, || {
        let o = run_child("child_thread_overflow", &[]);
        let (_, err) = texts(&o);
        assert!(!o.status.success());
        assert!(
            err.contains("thread 'plain'") && err.contains("has overflowed its stack"),
            "std's handler was not chained:\n{err}"
        );
        assert!(!err.contains("goroutine"), "{err}");
    });
}
