//! The benchmark workloads (docs/PERFORMANCE.md) for tokio (a peer in
//! `bench compare`): `peer_tokio W3` runs W3 once with P = `GOMAXPROCS`
//! worker threads of a multi-thread runtime and prints the same
//! `name= p= value= unit=` lines as gort's `w*` binaries, after the same
//! checks.
//!
//! Where tokio has no exact equivalent, the closest API is used and said so:
//! W3 uses `mpsc::channel(1)` (tokio has no rendezvous channel), W5 one
//! `broadcast` channel closed to release, W8 `task::block_in_place` (tokio's
//! blocking-call handoff: the worker's core goes to another thread). Tasks
//! are stackless futures, so W6's loop cannot be preempted: it prints
//! `starved=1`, W6's result for a runtime without preemption. For the
//! same reason a W11 task woken by its timer (checked by the workers between
//! tasks) runs only when the hogs queued before it have run to completion.

#![forbid(unsafe_code)]

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort_benches::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

fn main() {
    let w = std::env::args()
        .nth(1)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let p = procs_from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(p)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&w, e));
    match w.as_str() {
        "W1" => rt.block_on(spawn_root(w1(p))),
        "W2" => rt.block_on(spawn_root(w2(p))),
        "W3" => rt.block_on(spawn_root(w3(p))),
        "W4" => rt.block_on(spawn_root(w4(p))),
        "W5" => rt.block_on(spawn_root(w5(p))),
        "W6" => w6(&rt, p),
        "W7" => rt.block_on(spawn_root(w7(p))),
        "W8" => w8(&rt, p),
        "W9" => rt.block_on(spawn_root(w9(p))),
        "W10" => rt.block_on(spawn_root(w10(p))),
        "W11" => rt.block_on(spawn_root(w11(p))),
        "W12" => w12(&rt, p),
        _ => fail(
            "peer_tokio",
            format!("usage: peer_tokio W1..W12 (got {w:?})"),
        ),
    }
}

/// Runs the workload in a task on the workers ("from one task"), not on the
/// thread that calls block_on.
async fn spawn_root(f: impl Future<Output = ()> + Send + 'static) {
    if tokio::spawn(f).await.is_err() {
        fail("tokio", "the root task panicked");
    }
}

async fn join_all<T>(hs: Vec<JoinHandle<T>>, w: &str) -> Vec<T> {
    let mut out = Vec::with_capacity(hs.len());
    for h in hs {
        out.push(h.await.unwrap_or_else(|_| fail(w, "a task panicked")));
    }
    out
}

async fn w1(p: usize) {
    const N: u64 = 1_000_000;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hs = Vec::with_capacity(N as usize);
    let start = Instant::now();
    for _ in 0..N {
        hs.push(tokio::spawn(async {
            COUNTER.fetch_add(1, Relaxed);
        }));
    }
    join_all(hs, "W1").await;
    let el = start.elapsed();
    let c = COUNTER.load(Relaxed);
    check("W1", c == N, || format!("counter = {c}, want {N}"));
    report("W1", p, el.as_nanos() as f64 / N as f64, "ns_per_task");
}

fn skynet(num: u64, size: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let c = size / 10;
        let hs: Vec<_> = (0..10)
            .map(|i| tokio::spawn(skynet(num + i * c, c)))
            .collect();
        join_all(hs, "W2").await.into_iter().sum()
    })
}

async fn w2(p: usize) {
    let start = Instant::now();
    let sum = tokio::spawn(skynet(0, 1_000_000))
        .await
        .unwrap_or_else(|_| fail("W2", "a task panicked"));
    let el = start.elapsed();
    check("W2", sum == 499_999_500_000, || format!("sum = {sum}"));
    report("W2", p, el.as_secs_f64() * 1e3, "ms_total");
}

async fn w3(p: usize) {
    const R: u64 = 1_000_000;
    let (v, el) = pingpong(R, "W3").await;
    check("W3", v == R, || format!("final value {v}, want {R}"));
    report("W3", p, el.as_nanos() as f64 / R as f64, "ns_per_roundtrip");
}

/// Two tasks bounce an integer over two `mpsc::channel(1)`s, `r` round
/// trips (W3, and W12's reference): the final value and the time.
async fn pingpong(r: u64, w: &'static str) -> (u64, Duration) {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let start = Instant::now();
    let ponger = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(black_box(v) + 1).await.is_err() {
                break;
            }
        }
    });
    let pinger = tokio::spawn(async move {
        let mut v = 0u64;
        for _ in 0..r {
            ping_tx.send(v).await.expect("ponger is alive");
            v = pong_rx.recv().await.expect("ponger answers");
        }
        v
    });
    let v = pinger.await.unwrap_or_else(|_| fail(w, "panicked"));
    let _ = ponger.await;
    (v, start.elapsed())
}

async fn w4(p: usize) {
    const Y: u64 = 1_000_000;
    let yielder = || async {
        let mut n = 0u64;
        for _ in 0..Y {
            tokio::task::yield_now().await;
            n = black_box(n + 1);
        }
        n
    };
    let start = Instant::now();
    let hs = vec![tokio::spawn(yielder()), tokio::spawn(yielder())];
    let ns = join_all(hs, "W4").await;
    let el = start.elapsed();
    check("W4", ns == [Y, Y], || format!("yields = {ns:?}"));
    report(
        "W4",
        p,
        el.as_nanos() as f64 / (2 * Y) as f64,
        "ns_per_switch",
    );
}

async fn w5(p: usize) {
    const N: u64 = 1_000_000;
    let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let arrived = Arc::new(AtomicU64::new(0));
    let mut hs = Vec::with_capacity(N as usize);
    let before = vm_hwm_bytes().unwrap_or_else(|e| fail("W5", e));
    let start = Instant::now();
    for _ in 0..N {
        let (mut rx, arrived) = (tx.subscribe(), arrived.clone());
        hs.push(tokio::spawn(async move {
            arrived.fetch_add(1, SeqCst);
            rx.recv().await.is_err() // Closed: released
        }));
    }
    while arrived.load(SeqCst) < N {
        tokio::task::yield_now().await;
    }
    let peak = vm_hwm_bytes().unwrap_or_else(|e| fail("W5", e));
    drop(tx);
    let released = join_all(hs, "W5").await.iter().filter(|&&r| r).count() as u64;
    let el = start.elapsed();
    check("W5", released == N, || {
        format!("{released} of {N} released")
    });
    let per = peak.saturating_sub(before) as f64 / N as f64;
    report("W5", p, per, "bytes_per_task");
    report("W5", p, el.as_secs_f64() * 1e3, "ms_total");
}

fn w6(rt: &tokio::runtime::Runtime, p: usize) {
    static STOP: AtomicBool = AtomicBool::new(false);
    let nap = Duration::from_millis(1);
    let start = Instant::now();
    let hog = rt.spawn(async {
        let mut x = 0u64;
        while !STOP.load(Relaxed) {
            x = black_box(x.wrapping_add(1));
        }
        x
    });
    let sleeper = rt.spawn(async move {
        let mut late = Vec::new();
        while !STOP.load(Relaxed) {
            let want = Instant::now() + nap;
            tokio::time::sleep(nap).await;
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
    let (spins, late) = rt.block_on(async { (hog.await, sleeper.await) });
    check("W6", start.elapsed() >= Duration::from_secs(2), String::new);
    let (Ok(spins), Ok(mut late)) = (spins, late) else {
        fail("W6", "a task panicked")
    };
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

async fn w7(p: usize) {
    const T: usize = 10_000;
    let want = xorshift_unit(XORSHIFT_SEED);
    let mut hs = Vec::with_capacity(T);
    let start = Instant::now();
    for _ in 0..T {
        hs.push(tokio::spawn(async { xorshift_unit(XORSHIFT_SEED) }));
    }
    let rs = join_all(hs, "W7").await;
    let el = start.elapsed();
    let wrong = rs.iter().filter(|&&x| x != want).count();
    check("W7", wrong == 0, || format!("{wrong} wrong results"));
    report("W7", p, el.as_secs_f64() * 1e3, "ms_total");
}

fn w8(rt: &tokio::runtime::Runtime, p: usize) {
    let want = xorshift_unit(XORSHIFT_SEED);
    let watcher = ThreadPeak::start();
    let start = Instant::now();
    let a = rt.spawn(async {
        let mut shortest = Duration::MAX;
        for _ in 0..100 {
            let took = tokio::task::block_in_place(|| {
                let t = Instant::now();
                std::thread::sleep(Duration::from_millis(10)); // nanosleep(2)
                t.elapsed()
            });
            shortest = shortest.min(took);
        }
        shortest
    });
    let cpu: Vec<_> = (0..4)
        .map(|_| {
            rt.spawn(async move {
                (0..10_000)
                    .filter(|_| xorshift_unit(XORSHIFT_SEED) == want)
                    .count()
            })
        })
        .collect();
    let (a, good) = rt.block_on(async { (a.await, join_all(cpu, "W8").await) });
    let el = start.elapsed();
    let threads = watcher.finish();
    let shortest = a.unwrap_or_else(|_| fail("W8", "task A panicked"));
    check("W8", shortest >= Duration::from_millis(10), || {
        format!("a call took {shortest:?}")
    });
    check("W8", good == [10_000; 4], || {
        format!("units right: {good:?}")
    });
    report("W8", p, el.as_secs_f64() * 1e3, "ms_total");
    report("W8", p, threads as f64, "os_threads_max");
}

async fn w9(p: usize) {
    const C: u64 = 1000;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| fail("W9", e));
    let addr = l.local_addr().unwrap_or_else(|e| fail("W9", e));
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap_or_else(|e| fail("W9", e));
            tokio::spawn(async move {
                s.set_nodelay(true).ok();
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) => return,
                        Ok(n) => s
                            .write_all(&buf[..n])
                            .await
                            .unwrap_or_else(|e| fail("W9", e)),
                        Err(e) => fail("W9", e),
                    }
                }
            });
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(tokio::sync::Barrier::new(C as usize + 1));
    let clients: Vec<_> = (0..C)
        .map(|c| {
            let (stop, go) = (stop.clone(), go.clone());
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| fail("W9", e));
                s.set_nodelay(true).ok();
                let mut lat: Vec<u32> = Vec::with_capacity(4096);
                go.wait().await;
                let (mut back, mut r) = ([0u8; 64], 0u64);
                while !stop.load(SeqCst) {
                    let m = echo_message(c, r);
                    let t = Instant::now();
                    s.write_all(&m).await.unwrap_or_else(|e| fail("W9", e));
                    s.read_exact(&mut back)
                        .await
                        .unwrap_or_else(|e| fail("W9", e));
                    let us = t.elapsed().as_micros();
                    check("W9", back == m, || format!("client {c}: wrong echo"));
                    lat.push(u32::try_from(us).unwrap_or(u32::MAX));
                    r += 1;
                }
                lat
            })
        })
        .collect();
    go.wait().await;
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, SeqCst);
    let mut lat: Vec<u32> = join_all(clients, "W9").await.concat();
    let el = start.elapsed();
    check("W9", lat.len() >= C as usize, || {
        format!("{} round trips", lat.len())
    });
    lat.sort_unstable();
    let p99 = lat[(lat.len() * 99).div_ceil(100) - 1];
    report("W9", p, lat.len() as f64 / el.as_secs_f64(), "rps");
    report("W9", p, f64::from(p99), "p99_us");
}

async fn w10(p: usize) {
    const K: usize = 100_000;
    let ds = w10_durations(K);
    let cpu0 = cpu_ms();
    let start = Instant::now();
    let hs: Vec<_> = ds
        .iter()
        .map(|&d| {
            tokio::spawn(async move {
                let t = Instant::now();
                tokio::time::sleep(d).await;
                t.elapsed().checked_sub(d)
            })
        })
        .collect();
    let late = join_all(hs, "W10").await;
    let el = start.elapsed();
    let cpu = cpu_ms() - cpu0;
    let early = late.iter().filter(|l| l.is_none()).count();
    check("W10", early == 0, || format!("{early} tasks woke early"));
    let mut late: Vec<Duration> = late.into_iter().flatten().collect();
    late.sort_unstable();
    report("W10", p, quantile_ms(&late, 0.5), "p50_ms");
    report("W10", p, quantile_ms(&late, 0.99), "p99_ms");
    report("W10", p, el.as_secs_f64() * 1e3, "ms_total");
    report("W10", p, cpu as f64, "cpu_ms");
}

/// W11's sleeper: naps 1 ms until `stop`; the lateness of every wake-up (the
/// one that sees `stop` included).
async fn w11_sleeper(stop: Arc<AtomicBool>) -> Vec<Duration> {
    let nap = Duration::from_millis(1);
    let mut late = Vec::with_capacity(16_384);
    loop {
        let want = Instant::now() + nap;
        tokio::time::sleep(nap).await;
        late.push(Instant::now().saturating_duration_since(want));
        if stop.load(Relaxed) {
            return late;
        }
    }
}

/// W11's late task: wakes at `at`, spawns one task; how long that task took
/// to start running.
async fn w11_late(at: Instant) -> Duration {
    tokio::time::sleep_until(at.into()).await;
    let spawned = Instant::now();
    let ran = tokio::spawn(async { Instant::now() })
        .await
        .unwrap_or_else(|_| fail("W11", "the late task panicked"));
    ran.saturating_duration_since(spawned)
}

async fn w11(p: usize) {
    let want = w11_hog();
    let stop = Arc::new(AtomicBool::new(false));
    let mut hs = Vec::with_capacity(W11_HOGS);
    let watcher = ThreadPeak::every(Duration::from_millis(2));
    let start = Instant::now();
    let naps = tokio::spawn(w11_sleeper(stop.clone()));
    let late = tokio::spawn(w11_late(start + Duration::from_millis(300)));
    for _ in 0..W11_HOGS {
        hs.push(tokio::spawn(async { w11_hog() }));
    }
    let rs = join_all(hs, "W11").await;
    let el = start.elapsed();
    stop.store(true, Relaxed);
    let (naps, late) = (naps.await, late.await);
    let threads = watcher.finish();
    let wrong = rs.iter().filter(|&&x| x != want).count();
    check("W11", wrong == 0, || format!("{wrong} wrong results"));
    let (Ok(mut naps), Ok(late)) = (naps, late) else {
        fail("W11", "a task panicked")
    };
    naps.sort_unstable();
    report("W11", p, el.as_secs_f64() * 1e3, "ms_total");
    report("W11", p, threads as f64, "os_threads_max");
    report("W11", p, quantile_ms(&naps, 0.99), "sleeper_p99_ms");
    report("W11", p, late.as_secs_f64() * 1e3, "late_spawn_ms");
}

/// W12's reference: two tokio tasks bounce one integer over two
/// `mpsc::channel(1)`s, R = 100,000 round trips (the shape of gort's
/// goroutine-and-task bridge); then `Runtime::block_on` of a ready future,
/// 1,000,000 calls.
fn w12(rt: &tokio::runtime::Runtime, p: usize) {
    const R: u64 = 100_000;
    const CALLS: u64 = 1_000_000;
    let (v, el) = rt.block_on(pingpong(R, "W12"));
    check("W12", v == R, || format!("final value {v}, want {R}"));
    report(
        "W12",
        p,
        el.as_nanos() as f64 / R as f64,
        "ns_per_roundtrip",
    );
    let start = Instant::now();
    let mut sum = 0u64;
    for i in 0..CALLS {
        sum += rt.block_on(std::future::ready(black_box(i)));
    }
    check("W12", sum == CALLS * (CALLS - 1) / 2, || {
        format!("sum {sum}")
    });
    report(
        "W12",
        p,
        start.elapsed().as_nanos() as f64 / CALLS as f64,
        "ns_per_call",
    );
}
