//! `gort::metrics::read` agrees with a known workload, at GOMAXPROCS 1 and
//! 2 (child processes): 200 goroutines parked on a channel show as
//! waiting, a spinner as running, a sleeper as a pending timer, a socket
//! reader as a netpoll wait, a `lock_os_thread` goroutine as a pinned
//! thread; created goroutines are counted; the latency histogram fills.
//! Read from the test's plain thread, which is no goroutine.

mod common;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{is_child, with_timeout};

const LIMIT: Duration = Duration::from_secs(120);

/// Reads metrics until `ok` holds (the workload settles), within the
/// watchdog; returns the reading.
fn until(ok: impl Fn(&gort::metrics::Metrics) -> bool) -> gort::metrics::Metrics {
    loop {
        let m = gort::metrics::read();
        if ok(&m) {
            return m;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn body() {
    let before = gort::metrics::read();
    let (tx, rx) = gort::chan::bounded::<()>(0);
    let parked: Vec<_> = (0..200)
        .map(|_| {
            let rx = rx.clone();
            gort::go!(move || rx.recv().ok())
        })
        .collect();
    let m = until(|m| m.goroutines_waiting >= 200);
    assert!(m.goroutines_created >= before.goroutines_created + 200);
    // A spinner runs; the others still wait.
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let spinner = gort::go!(move || {
        while !s2.load(SeqCst) {
            std::hint::spin_loop();
        }
    });
    let m = until(|m| m.goroutines_running >= 1);
    assert!(m.goroutines_waiting >= 200, "{m:?}");
    assert!(m.goroutines_running <= m.procs);
    stop.store(true, SeqCst);
    spinner.join().unwrap();
    drop(tx);
    parked
        .into_iter()
        .for_each(|h| assert!(h.join().unwrap().is_none()));
    // A sleeper's timer, a socket read, a pinned goroutine.
    let (done_tx, done_rx) = gort::chan::bounded::<()>(0);
    let sleeper = gort::go!(|| gort::time::sleep(Duration::from_secs(3600)));
    let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let reader = gort::go!(move || {
        let mut c = gort::net::TcpStream::connect(addr).unwrap();
        c.read(&mut [0u8; 1]).unwrap()
    });
    let (conn, _) = l.accept().unwrap();
    let pinned = gort::go!(move || {
        gort::lock_os_thread();
        done_rx.recv().ok();
        gort::unlock_os_thread();
    });
    let m = until(|m| m.timers_pending >= 1 && m.netpoll_waits >= 1 && m.threads_pinned >= 1);
    assert!(m.threads >= 1 && m.procs == gort::gomaxprocs());
    assert!(m.stack_bytes_in_use > 0 && m.stack_bytes_in_use <= m.stack_bytes_reserved);
    drop(conn); // the reader sees end of file
    assert_eq!(reader.join().unwrap(), 0);
    drop(done_tx);
    pinned.join().unwrap();
    until(|m| m.threads_pinned == 0 && m.netpoll_waits == 0);
    drop(sleeper); // parked for an hour; the process ends first
                   // The latency histogram has samples from all this switching.
    for _ in 0..100 {
        gort::go!(gort::yield_now).join().unwrap();
    }
    let h = gort::metrics::read().sched_latency;
    assert!(h.total() > 0, "no latency samples");
    println!(
        "report: latency p50 <= {:?}, p99 <= {:?}, {} samples",
        h.quantile(0.5).unwrap(),
        h.quantile(0.99).unwrap(),
        h.total()
    );
}

#[test]
fn metrics_agree_with_a_known_workload() {
    let name = "metrics_agree_with_a_known_workload";
    if is_child(name) {
        return with_timeout(LIMIT, body);
    }
    common::children_p1_and_p2(name);
}
