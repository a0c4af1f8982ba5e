//! W8 blocking syscall handoff (docs/PERFORMANCE.md), P = 1: task A makes 100
//! sequential blocking calls of 10 ms (`std::thread::sleep`, which is
//! `nanosleep(2)`, inside `gort::syscall::blocking`) while 4 CPU tasks each
//! run W7's unit of work ([`gort_benches::xorshift_unit`]) 10,000 times.
//!
//! Check: A made 100 calls, each slept at least 10 ms, all 100 were counted
//! as blocking calls (`stats().syscalls`), and every CPU unit returned the
//! reference value. Figures: `ms_total` (first spawn to last join; ideal ≈
//! max(1,000 ms, the 40,000 units on one core)) and `os_threads_max`, the
//! peak of `Threads:` in /proc/self/status, sampled every 1 ms by a watcher
//! thread from just before the first spawn to just after the last join.
//!
//! `os_threads_max` is the raw figure W8 defines: it counts every
//! thread of the process, the watcher and the process's main thread
//! included. So that a reader can tell which ones the runtime added, the
//! watcher records the names (/proc/self/task/*/comm) when the peak is
//! reached; they go to stderr with the scheduler's counters, e.g.
//! `W8 peak threads: w8_handoff gort-sysmon gort-m0 gort-m1 w8-watcher`.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort_benches::{check, fail, report, xorshift_unit, XORSHIFT_SEED};

const NAME: &str = "W8";
/// Sequential blocking calls made by task A.
const CALLS: u64 = 100;
/// Length of each blocking call.
const CALL: Duration = Duration::from_millis(10);
/// CPU tasks running beside A.
const CPU_TASKS: usize = 4;
/// Units of W7 work per CPU task.
const UNITS: usize = 10_000;
/// The watcher's sampling period.
const SAMPLE: Duration = Duration::from_millis(1);

/// The process's thread count, from the `Threads:` line of /proc/self/status.
fn os_threads() -> usize {
    let s = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| fail(NAME, format!("read /proc/self/status: {e}")));
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| fail(NAME, "no Threads: line in /proc/self/status"))
}

/// The names of this process's threads (/proc/self/task/*/comm), by tid.
fn thread_names() -> Vec<String> {
    let mut tasks: Vec<(u64, String)> = std::fs::read_dir("/proc/self/task")
        .map(|rd| {
            rd.filter_map(|e| {
                let e = e.ok()?;
                let tid = e.file_name().to_str()?.parse().ok()?;
                let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
                Some((tid, comm.trim().to_string()))
            })
            .collect()
        })
        .unwrap_or_default();
    tasks.sort();
    tasks.into_iter().map(|(_, n)| n).collect()
}

/// The watcher: samples the thread count every SAMPLE until `stop`; keeps
/// the peak and the thread names at the moment it was first reached.
struct Watcher {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    names: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    fn start() -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicUsize::new(0));
        let names = Arc::new(Mutex::new(Vec::new()));
        let (st, pk, nm) = (stop.clone(), peak.clone(), names.clone());
        let thread = std::thread::Builder::new()
            .name("w8-watcher".into())
            .spawn(move || loop {
                // One sample after `stop` too, so the window's end is seen.
                let last = st.load(Ordering::SeqCst);
                let n = os_threads();
                if n > pk.load(Ordering::Relaxed) {
                    pk.store(n, Ordering::Relaxed);
                    *nm.lock().expect("names lock") = thread_names();
                }
                if last {
                    return;
                }
                std::thread::sleep(SAMPLE);
            })
            .unwrap_or_else(|e| fail(NAME, format!("spawn the watcher: {e}")));
        // The first sample is taken before the workload starts.
        while peak.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        Watcher {
            stop,
            peak,
            names,
            thread,
        }
    }

    /// Stops sampling; returns the peak and the names at the peak.
    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if self.thread.join().is_err() {
            fail(NAME, "the watcher panicked");
        }
        let names = self.names.lock().expect("names lock").clone();
        (self.peak.load(Ordering::Relaxed), names)
    }
}

/// Task A: CALLS sequential blocking calls of CALL each; returns the
/// shortest call seen.
fn task_a() -> Duration {
    let mut shortest = Duration::MAX;
    for _ in 0..CALLS {
        let took = gort::syscall::blocking(|| {
            let t = Instant::now();
            std::thread::sleep(CALL); // nanosleep(2)
            t.elapsed()
        });
        shortest = shortest.min(took);
    }
    shortest
}

/// A CPU task: UNITS units of W7 work; returns how many gave `want`.
fn cpu_task(want: u64) -> usize {
    (0..UNITS)
        .filter(|_| xorshift_unit(XORSHIFT_SEED) == want)
        .count()
}

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let want = xorshift_unit(XORSHIFT_SEED);
    let before = gort::stats();
    let mut cpu = Vec::with_capacity(CPU_TASKS);
    let watcher = Watcher::start();

    let start = Instant::now();
    let a = gort::go!(task_a);
    for _ in 0..CPU_TASKS {
        cpu.push(gort::go!(move || cpu_task(want)));
    }
    let a = a.join();
    let good: Vec<_> = cpu.drain(..).map(|h| h.join()).collect();
    let elapsed = start.elapsed();
    let (threads_max, names) = watcher.finish();

    let after = gort::stats();
    let shortest = a.unwrap_or_else(|_| fail(NAME, "task A panicked"));
    check(NAME, shortest >= CALL, || {
        format!("a blocking call returned after {shortest:?} < {CALL:?}")
    });
    let calls = after.syscalls - before.syscalls;
    check(NAME, calls == CALLS, || {
        format!("{calls} blocking calls counted, want {CALLS}")
    });
    for (i, g) in good.iter().enumerate() {
        match g {
            Ok(n) if *n == UNITS => {}
            Ok(n) => fail(NAME, format!("CPU task {i}: {n} of {UNITS} units right")),
            Err(_) => fail(NAME, format!("CPU task {i} panicked")),
        }
    }
    check(NAME, threads_max > 0, || "no thread sample".into());

    eprintln!(
        "W8 Ms created={} handoffs={} peak threads ({threads_max}): {}",
        after.threads_created - before.threads_created,
        after.handoffs - before.handoffs,
        names.join(" ")
    );
    report(NAME, p, elapsed.as_secs_f64() * 1e3, "ms_total");
    report(NAME, p, threads_max as f64, "os_threads_max");
}
