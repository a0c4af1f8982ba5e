//! The benchmark workloads (docs/PERFORMANCE.md) for may 0.3 (a peer in
//! `bench compare`): `peer_may W3` runs W3 once with P = `GOMAXPROCS` may
//! workers and prints the same `name= p= value= unit=` lines as gort's `w*`
//! binaries, after the same checks.
//!
//! may has only unbounded channels: W2 reports through join handles, W3
//! bounces over two `mpsc` channels (strict alternation keeps at most one
//! value in flight, as a rendezvous would), W5 parks on one `mpmc` channel.
//! may has no preemption (W6 prints `starved=1`) and no blocking-call API:
//! W8's `nanosleep` runs on the worker itself. may resumes a coroutine whose
//! sleep ended on its timer thread, outside the workers: W11's sleeper wakes
//! on time while the hogs hold every worker, but the coroutine its late
//! coroutine spawns from there queues behind the hogs. may maps each
//! coroutine's stack with its own guard-page VMA, so W2/W5 may die past
//! ~32,700 live coroutines under the default `vm.max_map_count`: the driver
//! records the exit.

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort_benches::*;
use may::coroutine::JoinHandle;

/// Spawns a may coroutine.
fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: may's contract for `spawn`: the closure must not hold
    // thread-local references across a yield and must not block the worker
    // for long. The workloads here use no thread-locals; W6 and W8 block a
    // worker on purpose, which is what they measure (may cannot preempt or
    // hand off), and that affects only timing, not memory safety.
    unsafe { may::coroutine::spawn(f) }
}

fn join<T>(h: JoinHandle<T>, w: &str) -> T {
    h.join().unwrap_or_else(|_| fail(w, "a coroutine panicked"))
}

fn main() {
    let w = std::env::args()
        .nth(1)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let p = procs_from_env();
    may::config().set_workers(p);
    let f: fn(usize) = match w.as_str() {
        "W1" => w1,
        "W2" => w2,
        "W3" => w3,
        "W4" => w4,
        "W5" => w5,
        "W6" => return w6(p),
        "W7" => w7,
        "W8" => return w8(p),
        "W9" => w9,
        "W10" => w10,
        "W11" => w11,
        _ => fail("peer_may", format!("usage: peer_may W1..W11 (got {w:?})")),
    };
    // "From one task": the workload runs in a coroutine.
    join(go(move || f(p)), &w);
}

fn w1(p: usize) {
    const N: u64 = 1_000_000;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hs = Vec::with_capacity(N as usize);
    let start = Instant::now();
    for _ in 0..N {
        hs.push(go(|| {
            COUNTER.fetch_add(1, Relaxed);
        }));
    }
    hs.into_iter().for_each(|h| join(h, "W1"));
    let el = start.elapsed();
    let c = COUNTER.load(Relaxed);
    check("W1", c == N, || format!("counter = {c}, want {N}"));
    report("W1", p, el.as_nanos() as f64 / N as f64, "ns_per_task");
}

fn skynet(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let c = size / 10;
    let hs: Vec<_> = (0..10)
        .map(|i| go(move || skynet(num + i * c, c)))
        .collect();
    hs.into_iter().map(|h| join(h, "W2")).sum()
}

fn w2(p: usize) {
    let start = Instant::now();
    let sum = join(go(|| skynet(0, 1_000_000)), "W2");
    let el = start.elapsed();
    check("W2", sum == 499_999_500_000, || format!("sum = {sum}"));
    report("W2", p, el.as_secs_f64() * 1e3, "ms_total");
}

fn w3(p: usize) {
    const R: u64 = 1_000_000;
    let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
    let start = Instant::now();
    let ponger = go(move || {
        for v in ping_rx.iter() {
            if pong_tx.send(black_box(v) + 1).is_err() {
                break;
            }
        }
    });
    let pinger = go(move || {
        let mut v = 0u64;
        for _ in 0..R {
            ping_tx.send(v).expect("ponger is alive");
            v = pong_rx.recv().expect("ponger answers");
        }
        v
    });
    let v = join(pinger, "W3");
    join(ponger, "W3");
    let el = start.elapsed();
    check("W3", v == R, || format!("final value {v}, want {R}"));
    report("W3", p, el.as_nanos() as f64 / R as f64, "ns_per_roundtrip");
}

fn w4(p: usize) {
    const Y: u64 = 1_000_000;
    fn yielder() -> u64 {
        let mut n = 0u64;
        for _ in 0..Y {
            may::coroutine::yield_now();
            n = black_box(n + 1);
        }
        n
    }
    let start = Instant::now();
    let (a, b) = (go(yielder), go(yielder));
    let (a, b) = (join(a, "W4"), join(b, "W4"));
    let el = start.elapsed();
    check("W4", a == Y && b == Y, || format!("yields = ({a}, {b})"));
    report(
        "W4",
        p,
        el.as_nanos() as f64 / (2 * Y) as f64,
        "ns_per_switch",
    );
}

fn w5(p: usize) {
    const N: u64 = 1_000_000;
    let (tx, rx) = may::sync::mpmc::channel::<()>();
    let arrived = Arc::new(AtomicU64::new(0));
    let mut hs = Vec::with_capacity(N as usize);
    let before = vm_hwm_bytes().unwrap_or_else(|e| fail("W5", e));
    let start = Instant::now();
    for _ in 0..N {
        let (rx, arrived) = (rx.clone(), arrived.clone());
        hs.push(go(move || {
            arrived.fetch_add(1, SeqCst);
            rx.recv().is_err() // the sender is gone: released
        }));
    }
    drop(rx);
    while arrived.load(SeqCst) < N {
        may::coroutine::yield_now();
    }
    let peak = vm_hwm_bytes().unwrap_or_else(|e| fail("W5", e));
    drop(tx);
    let released = hs.into_iter().map(|h| join(h, "W5"));
    let released = released.filter(|&r| r).count() as u64;
    let el = start.elapsed();
    check("W5", released == N, || {
        format!("{released} of {N} released")
    });
    let per = peak.saturating_sub(before) as f64 / N as f64;
    report("W5", p, per, "bytes_per_task");
    report("W5", p, el.as_secs_f64() * 1e3, "ms_total");
}

fn w6(p: usize) {
    static STOP: AtomicBool = AtomicBool::new(false);
    let nap = Duration::from_millis(1);
    let start = Instant::now();
    let hog = go(|| {
        let mut x = 0u64;
        while !STOP.load(Relaxed) {
            x = black_box(x.wrapping_add(1));
        }
        x
    });
    let sleeper = go(move || {
        let mut late = Vec::new();
        while !STOP.load(Relaxed) {
            let want = Instant::now() + nap;
            may::coroutine::sleep(nap);
            let woke = Instant::now();
            if STOP.load(Relaxed) {
                break;
            }
            late.push(woke.saturating_duration_since(want));
        }
        late
    });
    std::thread::sleep(Duration::from_secs(2));
    STOP.store(true, Relaxed);
    let (spins, mut late) = (join(hog, "W6"), join(sleeper, "W6"));
    check("W6", start.elapsed() >= Duration::from_secs(2), String::new);
    check("W6", spins > 0, || "the tight loop never ran".into());
    if late.is_empty() {
        return report("W6", p, 1.0, "starved");
    }
    late.sort_unstable();
    report("W6", p, quantile_ms(&late, 0.5), "p50_ms");
    report("W6", p, quantile_ms(&late, 0.99), "p99_ms");
    report("W6", p, quantile_ms(&late, 1.0), "max_ms");
    report("W6", p, late.len() as f64, "wakeups");
    report("W6", p, 0.0, "starved");
}

fn w7(p: usize) {
    const T: usize = 10_000;
    let want = xorshift_unit(XORSHIFT_SEED);
    let mut hs = Vec::with_capacity(T);
    let start = Instant::now();
    for _ in 0..T {
        hs.push(go(|| xorshift_unit(XORSHIFT_SEED)));
    }
    let rs: Vec<u64> = hs.into_iter().map(|h| join(h, "W7")).collect();
    let el = start.elapsed();
    let wrong = rs.iter().filter(|&&x| x != want).count();
    check("W7", wrong == 0, || format!("{wrong} wrong results"));
    report("W7", p, el.as_secs_f64() * 1e3, "ms_total");
}

fn w8(p: usize) {
    let want = xorshift_unit(XORSHIFT_SEED);
    let watcher = ThreadPeak::start();
    let start = Instant::now();
    let a = go(|| {
        let mut shortest = Duration::MAX;
        for _ in 0..100 {
            let t = Instant::now();
            std::thread::sleep(Duration::from_millis(10)); // nanosleep(2)
            shortest = shortest.min(t.elapsed());
        }
        shortest
    });
    let cpu: Vec<_> = (0..4)
        .map(|_| {
            go(move || {
                (0..10_000)
                    .filter(|_| xorshift_unit(XORSHIFT_SEED) == want)
                    .count()
            })
        })
        .collect();
    let shortest = join(a, "W8");
    let good: Vec<usize> = cpu.into_iter().map(|h| join(h, "W8")).collect();
    let el = start.elapsed();
    let threads = watcher.finish();
    check("W8", shortest >= Duration::from_millis(10), || {
        format!("a call took {shortest:?}")
    });
    check("W8", good == [10_000; 4], || {
        format!("units right: {good:?}")
    });
    report("W8", p, el.as_secs_f64() * 1e3, "ms_total");
    report("W8", p, threads as f64, "os_threads_max");
}

fn w9(p: usize) {
    const C: u64 = 1000;
    let l = may::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail("W9", e));
    let addr = l.local_addr().unwrap_or_else(|e| fail("W9", e));
    go(move || {
        for s in l.incoming() {
            let mut s = s.unwrap_or_else(|e| fail("W9", e));
            go(move || {
                s.set_nodelay(true).ok();
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => s.write_all(&buf[..n]).unwrap_or_else(|e| fail("W9", e)),
                        Err(e) => fail("W9", e),
                    }
                }
            });
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = may::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = may::sync::mpmc::channel::<()>();
    let clients: Vec<_> = (0..C)
        .map(|c| {
            let (stop, ready, gate) = (stop.clone(), ready_tx.clone(), go_rx.clone());
            go(move || {
                let mut s = may::net::TcpStream::connect(addr).unwrap_or_else(|e| fail("W9", e));
                s.set_nodelay(true).ok();
                let mut lat: Vec<u32> = Vec::with_capacity(4096);
                ready.send(()).ok();
                let _ = gate.recv(); // closed when all are connected
                let (mut back, mut r) = ([0u8; 64], 0u64);
                while !stop.load(SeqCst) {
                    let m = echo_message(c, r);
                    let t = Instant::now();
                    s.write_all(&m).unwrap_or_else(|e| fail("W9", e));
                    s.read_exact(&mut back).unwrap_or_else(|e| fail("W9", e));
                    let us = t.elapsed().as_micros();
                    check("W9", back == m, || format!("client {c}: wrong echo"));
                    lat.push(u32::try_from(us).unwrap_or(u32::MAX));
                    r += 1;
                }
                lat
            })
        })
        .collect();
    drop(go_rx);
    for _ in 0..C {
        ready_rx.recv().unwrap_or_else(|e| fail("W9", e));
    }
    let start = Instant::now();
    drop(go_tx);
    may::coroutine::sleep(Duration::from_secs(5));
    stop.store(true, SeqCst);
    let mut lat: Vec<u32> = clients.into_iter().flat_map(|h| join(h, "W9")).collect();
    let el = start.elapsed();
    check("W9", lat.len() >= C as usize, || {
        format!("{} round trips", lat.len())
    });
    lat.sort_unstable();
    let p99 = lat[(lat.len() * 99).div_ceil(100) - 1];
    report("W9", p, lat.len() as f64 / el.as_secs_f64(), "rps");
    report("W9", p, f64::from(p99), "p99_us");
}

fn w10(p: usize) {
    const K: usize = 100_000;
    let ds = w10_durations(K);
    let cpu0 = cpu_ms();
    let start = Instant::now();
    let hs: Vec<_> = ds
        .iter()
        .map(|&d| {
            go(move || {
                let t = Instant::now();
                may::coroutine::sleep(d);
                t.elapsed().checked_sub(d)
            })
        })
        .collect();
    let late: Vec<_> = hs.into_iter().map(|h| join(h, "W10")).collect();
    let el = start.elapsed();
    let cpu = cpu_ms() - cpu0;
    let early = late.iter().filter(|l| l.is_none()).count();
    check("W10", early == 0, || {
        format!("{early} coroutines woke early")
    });
    let mut late: Vec<Duration> = late.into_iter().flatten().collect();
    late.sort_unstable();
    report("W10", p, quantile_ms(&late, 0.5), "p50_ms");
    report("W10", p, quantile_ms(&late, 0.99), "p99_ms");
    report("W10", p, el.as_secs_f64() * 1e3, "ms_total");
    report("W10", p, cpu as f64, "cpu_ms");
}

/// W11's sleeper: naps 1 ms until `stop`; the lateness of every wake-up (the
/// one that sees `stop` included).
fn w11_sleeper(stop: &AtomicBool) -> Vec<Duration> {
    let nap = Duration::from_millis(1);
    let mut late = Vec::with_capacity(16_384);
    loop {
        let want = Instant::now() + nap;
        may::coroutine::sleep(nap);
        late.push(Instant::now().saturating_duration_since(want));
        if stop.load(Relaxed) {
            return late;
        }
    }
}

/// W11's late coroutine: wakes at `at`, spawns one coroutine; how long that
/// one took to start running.
fn w11_late(at: Instant) -> Duration {
    may::coroutine::sleep(at.saturating_duration_since(Instant::now()));
    let spawned = Instant::now();
    let ran = join(go(Instant::now), "W11");
    ran.saturating_duration_since(spawned)
}

fn w11(p: usize) {
    let want = w11_hog();
    let stop = Arc::new(AtomicBool::new(false));
    let mut hs = Vec::with_capacity(W11_HOGS);
    let watcher = ThreadPeak::every(Duration::from_millis(2));
    let start = Instant::now();
    let st = stop.clone();
    let naps = go(move || w11_sleeper(&st));
    let late = go(move || w11_late(start + Duration::from_millis(300)));
    for _ in 0..W11_HOGS {
        hs.push(go(w11_hog));
    }
    let rs: Vec<u64> = hs.into_iter().map(|h| join(h, "W11")).collect();
    let el = start.elapsed();
    stop.store(true, Relaxed);
    let (mut naps, late) = (join(naps, "W11"), join(late, "W11"));
    let threads = watcher.finish();
    let wrong = rs.iter().filter(|&&x| x != want).count();
    check("W11", wrong == 0, || format!("{wrong} wrong results"));
    naps.sort_unstable();
    report("W11", p, el.as_secs_f64() * 1e3, "ms_total");
    report("W11", p, threads as f64, "os_threads_max");
    report("W11", p, quantile_ms(&naps, 0.99), "sleeper_p99_ms");
    report("W11", p, late.as_secs_f64() * 1e3, "late_spawn_ms");
}
