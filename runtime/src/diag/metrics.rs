//! metrics — [`read`], Go's runtime/metrics for gort: how many goroutines
//! run, wait to run and wait for something; threads, Ps, preemptions,
//! hand-offs, steals, I/O waits, timers; how long goroutines wait to run
//! (a histogram, Go's `/sched/latencies:seconds`); goroutine stack memory.
//!
//! Cheap enough to call every second: everything is a counter or a scan
//! of the Ms and Ps (never of the goroutines), plus the stack pool's lock
//! once. benches' `metrics_read` measures it.
//!
//! The latency histogram is sampled, as Go's is: every 8th time a
//! goroutine becomes runnable it is timed (g.rs), and the wait is recorded
//! when it starts running.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::p::PStatus;
use crate::sched::{self, sched};

/// Histogram buckets: [0, 1 µs), then [2^(i-1), 2^i) µs, the last one
/// open-ended (about 17 minutes and up).
const BUCKETS: usize = 32;

/// Counts per bucket. Relaxed: statistics.
static LATENCY: [AtomicU64; BUCKETS] = [const { AtomicU64::new(0) }; BUCKETS];
/// Sum of the recorded waits, nanoseconds. Relaxed: a statistic.
static LATENCY_SUM_NS: AtomicU64 = AtomicU64::new(0);

/// Records one runnable-to-running wait of `ns` nanoseconds.
pub(crate) fn record_latency(ns: u64) {
    let us = ns / 1000;
    let i = if us == 0 {
        0
    } else {
        (64 - us.leading_zeros() as usize).min(BUCKETS - 1)
    };
    LATENCY[i].fetch_add(1, Ordering::Relaxed);
    LATENCY_SUM_NS.fetch_add(ns, Ordering::Relaxed);
}

/// A histogram of durations: `counts[i]` samples fell in
/// `[bounds[i], bounds[i + 1])` (the last bucket has no upper bound).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Histogram {
    /// Lower bound of each bucket.
    pub bounds: Vec<Duration>,
    /// Samples per bucket.
    pub counts: Vec<u64>,
    /// The sum of all samples (for a mean, or Prometheus' `_sum`).
    pub sum: Duration,
}

impl Histogram {
    /// Samples in all buckets.
    ///
    /// ```
    /// gort::go!(|| gort::yield_now()).join().unwrap();
    /// let h = gort::metrics::read().sched_latency;
    /// assert_eq!(h.total(), h.counts.iter().sum::<u64>());
    /// ```
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The smallest bucket bound below which at least `q` (0..=1) of the
    /// samples fall; None without samples.
    ///
    /// ```
    /// for _ in 0..100 {
    ///     gort::go!(|| gort::yield_now()).join().unwrap();
    /// }
    /// let h = gort::metrics::read().sched_latency;
    /// if h.total() > 0 {
    ///     assert!(h.quantile(0.5).unwrap() <= h.quantile(0.99).unwrap());
    /// }
    /// ```
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let want = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Some(self.bounds.get(i + 1).copied().unwrap_or(Duration::MAX));
            }
        }
        None
    }
}

/// The runtime's metrics at one moment (see [`read`]); Go's names in each
/// field's doc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Goroutines running user code on a P (`/sched/goroutines/running`).
    pub goroutines_running: usize,
    /// Goroutines ready to run, queued (`/sched/goroutines/runnable`).
    pub goroutines_runnable: usize,
    /// Goroutines parked: on a channel, a lock, a timer, I/O
    /// (`/sched/goroutines/waiting`).
    pub goroutines_waiting: usize,
    /// Goroutines in a blocking system call (`/sched/goroutines/not-in-go`).
    pub goroutines_syscall: usize,
    /// Goroutines created since the start (`/sched/goroutines-created`).
    pub goroutines_created: u64,
    /// OS threads that run goroutines (Ms) alive (`/sched/threads/total`).
    pub threads: usize,
    /// Ms parked with nothing to do.
    pub threads_idle: usize,
    /// Ms pinned to one goroutine (`lock_os_thread`).
    pub threads_pinned: usize,
    /// Ps: GOMAXPROCS (`/sched/gomaxprocs`).
    pub procs: usize,
    /// Ps with nothing to run.
    pub procs_idle: usize,
    /// Asynchronous (signal) preemptions so far.
    pub preemptions: u64,
    /// Ps handed to another M because theirs blocked.
    pub handoffs: u64,
    /// Goroutines stolen from another P's queue.
    pub steals: u64,
    /// Goroutines parked on I/O (the netpoller) now.
    pub netpoll_waits: usize,
    /// Timers armed now.
    pub timers_pending: usize,
    /// Time from runnable to running, sampled (`/sched/latencies:seconds`).
    pub sched_latency: Histogram,
    /// Goroutine stack bytes held by goroutines (or cached by Ps for the
    /// next ones), guard pages included.
    pub stack_bytes_in_use: usize,
    /// Goroutine stack bytes carved from the OS in all.
    pub stack_bytes_reserved: usize,
}

/// Reads the runtime's metrics (starts the runtime if needed). Each figure
/// is read without stopping the world, so a reading is approximate while
/// goroutines run, as Go's is.
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<()>(0);
/// let parked = gort::go!(move || rx.recv().ok());
/// while gort::metrics::read().goroutines_waiting == 0 {
///     gort::yield_now();
/// }
/// drop(tx);
/// parked.join().unwrap();
/// assert!(gort::metrics::read().goroutines_created >= 1);
/// ```
pub fn read() -> Metrics {
    let s = sched();
    let st = s.snapshot();
    let (running, syscall) = on_ms();
    let runnable = st.global_runq + s.all_ps().map(|p| p.runq_len()).sum::<usize>();
    let (stack_in_use, stack_reserved) = crate::stack::stack_bytes();
    Metrics {
        goroutines_running: running,
        goroutines_runnable: runnable,
        goroutines_waiting: st.goroutines.saturating_sub(running + syscall + runnable),
        goroutines_syscall: syscall,
        goroutines_created: st.spawned,
        threads: st.threads,
        threads_idle: st.idle_threads,
        threads_pinned: crate::g::pinned(),
        procs: st.gomaxprocs,
        procs_idle: st.idle_procs,
        preemptions: st.preemptions,
        handoffs: st.handoffs,
        steals: st.steals,
        netpoll_waits: crate::io::netpoll::waiters(),
        timers_pending: st.timers,
        sched_latency: latency(),
        stack_bytes_in_use: stack_in_use,
        stack_bytes_reserved: stack_reserved,
    }
}

/// Goroutines on an M now: (running on a P, in a blocking call).
fn on_ms() -> (usize, usize) {
    let s = sched();
    let ps: Vec<_> = s.all_ps().collect();
    let (mut running, mut syscall) = (0, 0);
    for m in sched::all_ms() {
        // Relaxed: a snapshot; the pointer is only tested for null.
        if m.cur_g.load(Ordering::Relaxed).is_null() {
            continue;
        }
        let held = ps
            .iter()
            .find(|p| p.holder().is_some_and(|h| std::ptr::eq(h, &*m)));
        match held.map(|p| p.status()) {
            Some(PStatus::Running) => running += 1,
            _ => syscall += 1,
        }
    }
    (running, syscall)
}

/// The latency histogram now.
fn latency() -> Histogram {
    let bounds = (0..BUCKETS)
        .map(|i| match i {
            0 => Duration::ZERO,
            i => Duration::from_micros(1 << (i - 1)),
        })
        .collect();
    let counts = LATENCY.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let sum = Duration::from_nanos(LATENCY_SUM_NS.load(Ordering::Relaxed));
    Histogram {
        bounds,
        counts,
        sum,
    }
}
