//! A program's own signal handler is user code, and it may run on top of
//! anything, malloc included. A preemption inside it would run the
//! scheduler inside that signal context, on a thread whose malloc may be
//! half-way through an update. The SIGURG handler compares the interrupted
//! signal mask with its M's: a running handler blocks its own signal, so
//! no preemption lands there.
//!
//! A SIGUSR1 handler spins 15 ms; a plain thread sends SIGUSR1 to a gort M
//! thread every 20 ms for 10 s while goroutines allocate and check their
//! results, at GOMAXPROCS 1 and 2 with a 1 ms slice. No hang (a watchdog),
//! no heap corruption (every result equals the one computed on a plain
//! thread; glibc aborts on a corrupted heap), and no goroutine ever runs
//! inside another's handler: each checks, every round, that its thread does
//! not have SIGUSR1 blocked (as it would in there).

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(10);
const WORKERS: u64 = 4;
const SEEDS: u64 = 8;

/// Handler runs so far.
static HANDLED: AtomicU64 = AtomicU64::new(0);

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Spins 15 ms: async-signal-safe (a clock and arithmetic).
extern "C" fn on_usr1(_sig: libc::c_int) {
    let until = now_ns() + 15_000_000;
    let mut x = 1u64;
    while now_ns() < until {
        for _ in 0..100 {
            x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(7));
        }
    }
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

fn install() {
    // SAFETY: sigaction is plain data; zeroed is a valid start.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_usr1 as *const () as libc::sighandler_t;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: the handler is async-signal-safe; `sa` is valid.
    let rc = unsafe { libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "sigaction");
}

/// Kernel ids of this process's gort M threads.
fn m_threads() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with("gort-m"))
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// True if this thread has SIGUSR1 blocked: it is inside the handler.
fn usr1_blocked() -> bool {
    // SAFETY: sigset_t is plain data; all-zero is valid.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new set only reads this thread's mask into `set`.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set) };
    // SAFETY: `set` is a valid sigset.
    unsafe { libc::sigismember(&set, libc::SIGUSR1) == 1 }
}

/// An allocation-heavy round with a checksum.
fn round(seed: u64) -> u64 {
    let mut m: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut x = seed | 1;
    for i in 0..400u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m.insert(x % 97, vec![(i % 251) as u8; (x % 300) as usize]);
        if i % 7 == 0 {
            m.remove(&(i % 97));
        }
    }
    m.iter()
        .fold(0, |a, (k, v)| a.wrapping_mul(31) ^ k ^ v.len() as u64)
}

fn body() {
    install();
    let reference: Vec<u64> = std::thread::spawn(|| (0..SEEDS).map(round).collect())
        .join()
        .unwrap();
    let reference = Arc::new(reference);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let ms = m_threads();
                if !ms.is_empty() {
                    let tid = ms[i % ms.len()];
                    // SAFETY: getpid has no preconditions.
                    let pid = unsafe { libc::getpid() };
                    // SAFETY: tgkill takes plain integers.
                    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
                    i += 1;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let until = Instant::now() + RUN;
    let hs: Vec<_> = (0..WORKERS)
        .map(|w| {
            let reference = reference.clone();
            gort::go!(move || {
                let mut n = 0u64;
                while Instant::now() < until {
                    let s = (w + n) % SEEDS;
                    assert_eq!(round(s), reference[s as usize], "round {s}");
                    assert!(!usr1_blocked(), "a goroutine ran inside a signal handler");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let rounds: u64 = hs.into_iter().map(|h| h.join().expect("worker")).sum();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    println!(
        "nested-signal: {rounds} rounds, {} handler runs, {} preemptions",
        HANDLED.load(Ordering::Relaxed),
        gort::stats().preemptions
    );
    assert!(HANDLED.load(Ordering::Relaxed) > 0, "the handler ran");
}

sliced_children!(
    user_handler_is_never_preempted_p1,
    user_handler_is_never_preempted_p2,
    "nested-signal:",
    body,
    Duration::from_secs(60)
);
