//! handoff — the G/M/P model's "Thread Management" scenarios, live:
//!
//! 1. A goroutine makes a blocking system call: its M blocks with it, the P
//!    is handed off, and — no M being idle — a new M is created for it, so
//!    the other goroutines keep running. When the call returns, the
//!    goroutine is queued and its old M is parked (not destroyed).
//! 2. Another goroutine makes a blocking call: the P is handed to the parked
//!    M; no new thread is made.
//!
//! It prints the scheduler's thread counts (`gort::stats()`: Ms alive,
//! created, idle) and the OS threads by name as it goes, and exits non-zero
//! if either property did not hold. GOMAXPROCS is set to 1 by the program
//! itself (`gort::set_gomaxprocs(1)` before the first goroutine), so one P
//! is handed back and forth. `main` is a plain thread here (no
//! `#[gort::main]`): it spawns the goroutines and waits for them.
//!
//! Run: `cargo run --release --example handoff`. docs/BLOCKING.md shows its
//! output and explains each line.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long each scenario's blocking call lasts.
const CALL: Duration = Duration::from_millis(200);

/// The names of this process's OS threads (/proc/self/task/*/comm).
fn os_threads() -> String {
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
    let names: Vec<String> = tasks.into_iter().map(|(_, n)| n).collect();
    format!("{} ({})", names.len(), names.join(", "))
}

/// One line of scheduler thread counts.
fn ms(s: &gort::Stats) -> String {
    format!(
        "Ms alive={} created={} idle={} handoffs={}",
        s.threads, s.threads_created, s.idle_threads, s.handoffs
    )
}

/// What one scenario saw.
struct Seen {
    during: gort::Stats,
    after: gort::Stats,
    ticks: u64,
}

/// Runs a goroutine named `name` that makes one blocking call of CALL,
/// while the ticker goroutine counts; reports what happened.
fn scenario(name: &'static str, ticker: &AtomicU64) -> Seen {
    let h = gort::Builder::new()
        .name(name)
        .spawn(|| {
            gort::syscall::blocking(|| {
                std::thread::sleep(CALL);
                // Still inside the call: the P has been handed off by now.
                (gort::stats(), os_threads())
            })
        })
        .expect("spawn");
    let before = ticker.load(Ordering::SeqCst);
    let (during, threads) = h.join().expect("the blocking goroutine finished");
    let ticks = ticker.load(Ordering::SeqCst) - before;
    println!("  during the call: {}", ms(&during));
    println!("    OS threads: {threads}");
    println!("    the ticker goroutine advanced {ticks} times meanwhile (on the handed-off P)");
    let after = gort::stats();
    println!("  after the call:  {}", ms(&after));
    Seen {
        during,
        after,
        ticks,
    }
}

fn main() -> ExitCode {
    // Before any goroutine exists, so the runtime starts with one P and no
    // M: the first goroutine below makes the first M.
    gort::set_gomaxprocs(1);

    // A goroutine that must keep running: it needs the P.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = Arc::new(AtomicU64::new(0));
    let (st, tk) = (stop.clone(), ticker.clone());
    let t = gort::go!(move || {
        while !st.load(Ordering::SeqCst) {
            tk.fetch_add(1, Ordering::SeqCst);
            gort::yield_now();
        }
    });
    while ticker.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    let start = gort::stats();
    println!(
        "GOMAXPROCS={}; a ticker goroutine is running",
        gort::gomaxprocs()
    );
    println!("at start:          {}", ms(&start));
    println!("  OS threads: {}", os_threads());

    println!("\nScenario 1: goroutine A calls blocking(|| sleep {CALL:?})");
    let one = scenario("A", &ticker);
    println!("\nScenario 2: goroutine B calls blocking(|| sleep {CALL:?})");
    let two = scenario("B", &ticker);

    stop.store(true, Ordering::SeqCst);
    t.join().expect("the ticker finished");

    let mut ok = true;
    let mut expect = |cond: bool, what: &str| {
        println!("{} {what}", if cond { "ok: " } else { "FAILED:" });
        ok &= cond;
    };
    println!();
    expect(
        one.during.threads_created == start.threads_created + 1
            && one.during.threads == start.threads + 1,
        "the first blocking call made one new M (threads 1 -> 2)",
    );
    expect(
        one.after.idle_threads >= 1,
        "after it returned, an M was parked on the idle list",
    );
    expect(
        two.during.threads_created == one.during.threads_created
            && two.during.threads == one.during.threads,
        "the second blocking call reused the parked M (no new thread)",
    );
    expect(
        one.ticks > 0 && two.ticks > 0,
        "the other goroutine kept running during both calls",
    );
    expect(
        two.after.handoffs >= start.handoffs + 2,
        "each call's P was handed off",
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
