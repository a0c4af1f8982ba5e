//! The netpoller's contract with the scheduler: a goroutine waiting on a
//! socket parks (its P runs others, at GOMAXPROCS=1 too); nothing spins
//! while goroutines only wait (the blocked poller is the sleep); sysmon
//! polls when every P is busy; a read deadline racing with readiness wakes
//! the reader exactly once; and a goroutine waiting on I/O is not a
//! deadlock, while a real one is still reported soon after the last timer
//! is cancelled. Settings read once per process run in child processes.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{is_child, run_child, texts, with_timeout};
use gort::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(60);

/// Waits until at least `n` goroutines are parked in the netpoller (`[IO
/// wait]` in the goroutine dump), polling every millisecond; panics after 10 s.
fn wait_io_waiters(n: usize) {
    let t = Instant::now();
    loop {
        let mut dump = Vec::new();
        gort::debug::dump_goroutines(&mut dump).unwrap();
        let parked = String::from_utf8_lossy(&dump).matches("[IO wait").count();
        if parked >= n {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{parked} of {n} goroutines parked in the netpoller after 10 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A connected pair (client, server side).
fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Process CPU time (user + system) in ms, from /proc/self/stat (10 ms
/// ticks).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the file are 12 and 13 after the command name.
    (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) * 10
}

/// Child body: at GOMAXPROCS=1, 100 readers wait on their sockets while a
/// goroutine computes and yields; the readers get their data afterwards.
#[test]
fn child_readers_leave_the_only_p() {
    if !is_child("child_readers_leave_the_only_p") {
        return;
    }
    with_timeout(LIMIT, || {
        assert_eq!(gort::gomaxprocs(), 1);
        let mut writers = Vec::new();
        let readers: Vec<_> = (0..100u8)
            .map(|i| {
                let (c, mut s) = pair();
                writers.push((i, c));
                gort::go!(move || {
                    let mut b = [0u8; 1];
                    s.read_exact(&mut b).unwrap();
                    b[0]
                })
            })
            .collect();
        let worked = gort::go!(|| {
            let mut x = 0u64;
            for i in 0..1000 {
                x = std::hint::black_box(x.wrapping_add(i));
                gort::yield_now();
            }
            x
        })
        .join()
        .unwrap();
        assert_eq!(worked, (0..1000).sum::<u64>());
        for (i, c) in &mut writers {
            c.write_all(&[*i]).unwrap();
        }
        for (i, r) in readers.into_iter().enumerate() {
            assert_eq!(r.join().unwrap(), i as u8);
        }
        println!("OK readers parked");
    });
}

#[test]
fn readers_leave_the_only_p() {
    let out = with_timeout(LIMIT, || {
        run_child("child_readers_leave_the_only_p", &[("GOMAXPROCS", "1")])
    });
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("OK readers parked"), "{stdout}\n{stderr}");
}

#[test]
fn waiting_costs_no_cpu() {
    with_timeout(LIMIT, || {
        // 200 goroutines blocked in reads, one in a 300 ms sleep: the
        // runtime must sleep in the poller, not spin.
        let mut keep = Vec::new();
        for _ in 0..200 {
            let (c, mut s) = pair();
            keep.push(c);
            gort::go!(move || {
                let mut b = [0u8; 1];
                let _ = s.read(&mut b);
            });
        }
        wait_io_waiters(200);
        let cpu0 = cpu_ms();
        let t = Instant::now();
        gort::go!(|| gort::time::sleep(Duration::from_millis(300)))
            .join()
            .unwrap();
        let cpu = cpu_ms() - cpu0;
        let took = t.elapsed();
        eprintln!("300 ms of waiting cost {cpu} ms of CPU ({took:?})");
        assert!(took >= Duration::from_millis(300));
        assert!(cpu <= 60, "{cpu} ms of CPU while only waiting");
        drop(keep); // the readers see end of file
    });
}

/// Child body: GOMAXPROCS=1 and a goroutine that computes without a yield
/// point until a reader has woken; the reader's data arrives meanwhile and
/// only sysmon's poll can wake it (the only P never reaches its own).
#[test]
fn child_sysmon_polls_when_every_p_is_busy() {
    if !is_child("child_sysmon_polls_when_every_p_is_busy") {
        return;
    }
    with_timeout(LIMIT, || {
        let (mut c, mut s) = pair();
        let woke = Arc::new(AtomicBool::new(false));
        let w = woke.clone();
        let reader = gort::go!(move || {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            w.store(true, SeqCst);
        });
        wait_io_waiters(1);
        let running = Arc::new(AtomicBool::new(false));
        let (wk, run) = (woke.clone(), running.clone());
        // Loops without a yield point until the reader has woken: on the
        // only P, which therefore never polls itself.
        let busy = gort::go!(move || {
            run.store(true, SeqCst);
            let mut x = 0u64;
            while !wk.load(SeqCst) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            x
        });
        let t = Instant::now();
        while !running.load(SeqCst) {
            assert!(t.elapsed() < Duration::from_secs(10), "busy never ran");
            std::thread::sleep(Duration::from_millis(1));
        }
        c.write_all(b"!").unwrap();
        // Ends only if sysmon's poll woke the reader (else the watchdog).
        busy.join().unwrap();
        reader.join().unwrap();
        eprintln!("reader woke after {:?}, with the only P busy", t.elapsed());
        println!("OK sysmon polled");
    });
}

#[test]
fn sysmon_polls_when_every_p_is_busy() {
    let out = with_timeout(LIMIT, || {
        run_child(
            "child_sysmon_polls_when_every_p_is_busy",
            &[("GOMAXPROCS", "1")],
        )
    });
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("OK sysmon polled"), "{stdout}\n{stderr}");
}

#[test]
fn deadline_and_readiness_race_wake_once() {
    with_timeout(LIMIT, || {
        // Data arrives around the read deadline: either outcome is fine,
        // a double wake-up would abort ("goroutine readied twice").
        let (mut c, s) = pair();
        s.set_read_timeout(Some(Duration::from_micros(500)))
            .unwrap();
        let reader = gort::go!(move || {
            let (mut got, mut timeouts) = (0u32, 0u32);
            let mut b = [0u8; 1];
            while got < 300 {
                match (&s).read(&mut b) {
                    Ok(1) => got += 1,
                    Ok(_) => panic!("eof"),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => timeouts += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            (got, timeouts)
        });
        let writer = gort::go!(move || {
            for i in 0..300u32 {
                gort::time::sleep(Duration::from_micros(300 + (i % 7) as u64 * 100));
                c.write_all(b"x").unwrap();
            }
            c
        });
        let _c = writer.join().unwrap();
        let (got, timeouts) = reader.join().unwrap();
        eprintln!("{got} reads, {timeouts} timeouts");
        assert_eq!(got, 300);
    });
}

/// Runs `body` as the main goroutine, the way `#[gort::main]` does.
fn as_main(body: impl FnOnce() + Send + 'static) {
    let _ = gort::__private::run_main(body);
}

/// Child body: main waits for a goroutine that waits on a socket whose
/// data comes from a plain thread 300 ms later: not a deadlock.
#[test]
fn child_io_waiter_is_not_a_deadlock() {
    if !is_child("child_io_waiter_is_not_a_deadlock") {
        return;
    }
    let (mut c, mut s) = pair();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        c.write_all(b"late").unwrap();
    });
    as_main(move || {
        let got = gort::go!(move || {
            let mut b = [0u8; 4];
            s.read_exact(&mut b).unwrap();
            b
        })
        .join()
        .unwrap();
        assert_eq!(&got, b"late");
        println!("MAIN DONE");
    });
}

#[test]
fn io_waiter_is_not_a_deadlock() {
    let out = with_timeout(LIMIT, || {
        run_child("child_io_waiter_is_not_a_deadlock", &[("GOMAXPROCS", "2")])
    });
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("MAIN DONE"), "{stdout}\n{stderr}");
    assert!(!stderr.contains("deadlock"), "{stderr}");
}

/// Child body: a long timeout is cancelled (its value came), then main
/// blocks forever. The poller, asleep until the cancelled deadline, must
/// look again so the deadlock is reported now, not in an hour.
#[test]
fn child_deadlock_after_a_cancelled_timer() {
    if !is_child("child_deadlock_after_a_cancelled_timer") {
        return;
    }
    as_main(|| {
        let (tx, rx) = gort::chan::bounded::<u32>(1);
        gort::go!(move || {
            gort::time::sleep(Duration::from_millis(20));
            tx.send(1).unwrap();
            std::mem::forget(tx);
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(3600)), Ok(1));
        let _ = rx.recv();
        println!("UNREACHABLE");
    });
}

#[test]
fn deadlock_after_a_cancelled_timer_is_reported_soon() {
    let t = Instant::now();
    let out = with_timeout(LIMIT, || {
        run_child(
            "child_deadlock_after_a_cancelled_timer",
            &[("GOMAXPROCS", "2")],
        )
    });
    let took = t.elapsed();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("all goroutines are asleep"), "{stderr}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}
