//! Deadlock detection (Go's "all goroutines are asleep"), in child processes
//! that run a body as `#[gort::main]` does (`gort::__private::run_main`):
//! a program whose goroutines all wait forever prints Go's message and exits
//! with status 2; a program with a goroutine asleep on a timer or waiting on
//! a socket, or one whose main returns while others still wait, is not
//! reported.

mod common;

use std::time::Duration;

use common::{is_child, run_child, texts};
use gort::chan::bounded;

const MESSAGE: &str = "fatal error: all goroutines are asleep - deadlock!";

/// Runs child `name`; returns (exit code, stdout, stderr).
fn child(name: &str) -> (Option<i32>, String, String) {
    let out = run_child(name, &[("GOMAXPROCS", "2")]);
    let (o, e) = texts(&out);
    (out.status.code(), o, e)
}

fn expect_deadlock(name: &str) {
    let (code, stdout, stderr) = child(name);
    assert_eq!(
        code,
        Some(2),
        "{name}: exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains(MESSAGE), "{name}: stderr:\n{stderr}");
    assert!(!stdout.contains("UNREACHABLE"), "{name}: {stdout}");
}

fn expect_clean_exit(name: &str) {
    let (code, stdout, stderr) = child(name);
    assert_eq!(
        code,
        Some(0),
        "{name}: exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains(MESSAGE), "{name}: false report:\n{stderr}");
    assert!(stdout.contains("MAIN DONE"), "{name}: {stdout}");
}

/// Runs `body` as the main goroutine, the way `#[gort::main]` does.
fn as_main(body: impl FnOnce() + Send + 'static) {
    let _ = gort::__private::run_main(body);
}

#[test]
fn child_main_blocks_on_a_channel() {
    if !is_child("child_main_blocks_on_a_channel") {
        return;
    }
    as_main(|| {
        let (_tx, rx) = bounded::<u32>(0);
        let _ = rx.recv();
        println!("UNREACHABLE");
    });
}

#[test]
fn child_goroutines_wait_on_each_other() {
    if !is_child("child_goroutines_wait_on_each_other") {
        return;
    }
    as_main(|| {
        // Classic lock-order deadlock through channels, plus a WaitGroup and
        // a mutex nobody will release.
        let (a_tx, a_rx) = bounded::<()>(0);
        let (b_tx, b_rx) = bounded::<()>(0);
        let g1 = gort::go!(move || {
            let _ = a_rx.recv();
            let _ = b_tx.send(());
        });
        let g2 = gort::go!(move || {
            let _ = b_rx.recv();
            let _ = a_tx.send(());
        });
        let m = std::sync::Arc::new(gort::sync::Mutex::new(()));
        let held = m.lock();
        let m2 = m.clone();
        let g3 = gort::go!(move || drop(m2.lock()));
        let wg = gort::sync::WaitGroup::new();
        wg.add(1);
        wg.wait();
        drop((held, g1, g2, g3));
        println!("UNREACHABLE");
    });
}

#[test]
fn child_empty_select_forever() {
    if !is_child("child_empty_select_forever") {
        return;
    }
    as_main(|| {
        gort::go!(|| gort::time::sleep(Duration::from_millis(50)));
        // After the sleeper's timer fires and it exits, only main remains.
        gort::select! {}
        #[allow(unreachable_code)]
        {
            println!("UNREACHABLE");
        }
    });
}

#[test]
fn child_sleeper_is_not_a_deadlock() {
    if !is_child("child_sleeper_is_not_a_deadlock") {
        return;
    }
    as_main(|| {
        let (tx, rx) = bounded::<u32>(0);
        gort::go!(move || {
            // Every other goroutine is blocked meanwhile: only the timer
            // can wake anyone.
            gort::time::sleep(Duration::from_millis(300));
            tx.send(1).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        // A timed receive is not a deadlock either.
        let (_tx2, rx2) = bounded::<u32>(0);
        assert!(rx2.recv_timeout(Duration::from_millis(200)).is_err());
        // Nor a select with a timed default.
        gort::select! {
            recv(rx2) -> _ => {},
            default(Duration::from_millis(100)) => {},
        }
        println!("MAIN DONE");
    });
}

#[test]
fn child_main_returns_while_others_wait() {
    if !is_child("child_main_returns_while_others_wait") {
        return;
    }
    let (tx, rx) = bounded::<u32>(0);
    as_main(move || {
        // Leaked waiters: the program exits normally when main returns.
        for _ in 0..10 {
            let rx = rx.clone();
            gort::go!(move || rx.recv());
        }
        for _ in 0..10 {
            gort::yield_now();
        }
        println!("MAIN DONE");
    });
    // Give an M the chance to go idle (and wrongly report) before exiting.
    std::thread::sleep(Duration::from_millis(100));
    drop(tx);
}

#[test]
fn child_socket_waiter_is_not_a_deadlock() {
    if !is_child("child_socket_waiter_is_not_a_deadlock") {
        return;
    }
    let l = gort::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("local_addr");
    // A peer outside the runtime connects later; meanwhile every goroutine
    // is blocked, main on a channel and the acceptor in the netpoller.
    let peer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std::net::TcpStream::connect(addr).expect("connect")
    });
    as_main(move || {
        let (tx, rx) = bounded::<()>(0);
        gort::go!(move || {
            l.accept().expect("accept");
            tx.send(()).unwrap();
        });
        rx.recv().unwrap();
        println!("MAIN DONE");
    });
    drop(peer.join());
}

#[test]
fn no_report_while_a_goroutine_waits_on_a_socket() {
    expect_clean_exit("child_socket_waiter_is_not_a_deadlock");
}

#[test]
fn reports_main_blocked_on_a_channel() {
    expect_deadlock("child_main_blocks_on_a_channel");
}

#[test]
fn reports_goroutines_waiting_on_each_other() {
    expect_deadlock("child_goroutines_wait_on_each_other");
}

#[test]
fn reports_an_empty_select_once_the_timer_is_gone() {
    expect_deadlock("child_empty_select_forever");
}

#[test]
fn no_report_while_a_goroutine_sleeps() {
    expect_clean_exit("child_sleeper_is_not_a_deadlock");
}

#[test]
fn no_report_after_main_returns() {
    expect_clean_exit("child_main_returns_while_others_wait");
}
