//! stats — a snapshot of the scheduler's counters, for programs, tests and
//! the schedtrace line. Each figure is read without stopping the world, so a
//! snapshot is approximate while goroutines run (as Go's are).

#![forbid(unsafe_code)]

/// Scheduler counters at one moment. See [`stats`].
///
/// ```
/// gort::go!(|| ()).join().unwrap();
/// let s: gort::Stats = gort::stats();
/// assert!(s.spawned >= 1);
/// assert!(s.ran_per_p.iter().sum::<u64>() >= 1); // the goroutine ran on some P
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Live goroutines (spawned and not finished).
    pub goroutines: usize,
    /// Current GOMAXPROCS (number of Ps).
    pub gomaxprocs: usize,
    /// Idle Ps.
    pub idle_procs: usize,
    /// OS threads that run goroutines (Ms) alive now.
    pub threads: usize,
    /// Ms created since start (idle Ms beyond a bound end their threads).
    pub threads_created: usize,
    /// Ms parked on the idle list.
    pub idle_threads: usize,
    /// Ms spinning (looking for work with a P).
    pub spinning_threads: usize,
    /// Goroutines in the global run queue.
    pub global_runq: usize,
    /// Successful steals from another P's queue.
    pub steals: u64,
    /// Batches taken from the global run queue.
    pub global_takes: u64,
    /// Goroutines spawned since start.
    pub spawned: u64,
    /// Goroutine executions (time slices) per P, by P id.
    pub ran_per_p: Vec<u64>,
    /// Asynchronous (signal) preemptions, in total.
    pub preemptions: u64,
    /// Asynchronous preemptions per P, by P id.
    pub preemptions_per_p: Vec<u64>,
    /// Blocking calls entered through `gort::syscall::blocking`.
    pub syscalls: u64,
    /// Ps that sysmon handed to another M because their M blocked (in an
    /// announced blocking call, or stuck in one nobody announced).
    pub handoffs: u64,
    /// Timers armed now: sleeps, deadlines of channel and socket waits,
    /// and the `gort::time` timers and tickers (a stopped or collected one
    /// is not counted), on the real clock and in every virtual-time
    /// bubble.
    pub timers: usize,
}

/// A snapshot of the scheduler's counters (starts the runtime if needed).
///
/// ```
/// let s = gort::stats();
/// assert_eq!(s.gomaxprocs, gort::gomaxprocs());
/// ```
pub fn stats() -> Stats {
    crate::sched::sched().snapshot()
}
