//! `gort::signal` through its public surface, each body in a child process
//! at GOMAXPROCS 1 and 2: a process sends itself SIGUSR1 100 times while
//! goroutines spin and every one arrives (counted); a burst is merged, not
//! lost entirely; several receivers each get a signal; `stop` and dropping
//! end delivery and give the signal its old disposition back (a default
//! SIGUSR2 then ends the process); gort's own signals are refused.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{is_child, run_child, with_timeout};
use gort::signal::{self, Signal};
use nix::sys::signal::kill;
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(120);

/// Sends `sig` to this whole process (any thread may take it).
fn send(sig: Signal) {
    kill(Pid::this(), sig).expect("kill");
}

/// Goroutines that spin (with a yield now and then) until dropped.
struct Spinners(Arc<AtomicBool>, Vec<gort::JoinHandle<()>>);

impl Spinners {
    fn start(n: usize) -> Spinners {
        let stop = Arc::new(AtomicBool::new(false));
        let hs = (0..n)
            .map(|_| {
                let stop = stop.clone();
                gort::go!(move || {
                    let mut x = 1u64;
                    while !stop.load(SeqCst) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                        }
                    }
                })
            })
            .collect();
        Spinners(stop, hs)
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
        self.1.drain(..).for_each(|h| h.join().unwrap());
    }
}

fn hundred_body() {
    let rx = signal::notify(&[Signal::SIGUSR1]);
    let spin = Spinners::start(3);
    let mut got = 0;
    for _ in 0..100 {
        send(Signal::SIGUSR1);
        assert_eq!(rx.recv(), Ok(Signal::SIGUSR1));
        got += 1;
    }
    // A burst: merged by the kernel and by the channel's capacity, but at
    // least one arrives and never more than were sent.
    for _ in 0..100 {
        send(Signal::SIGUSR1);
    }
    let mut burst = vec![rx.recv().unwrap()];
    while let Ok(s) = rx.recv_timeout(Duration::from_millis(50)) {
        burst.push(s);
    }
    drop(spin);
    assert_eq!(got, 100);
    assert!((1..=100).contains(&burst.len()));
    println!(
        "report: 100 of 100 one at a time, {} of a burst of 100",
        burst.len()
    );
}

#[test]
fn every_signal_arrives_while_goroutines_spin() {
    common::at_p1_and_p2(
        LIMIT,
        "every_signal_arrives_while_goroutines_spin",
        hundred_body,
    );
}

fn receivers_body() {
    let a = signal::notify(&[Signal::SIGUSR1, Signal::SIGHUP]);
    let b = signal::notify(&[Signal::SIGUSR1]);
    let c = signal::notify(&[Signal::SIGHUP]);
    send(Signal::SIGUSR1);
    assert_eq!(a.recv(), Ok(Signal::SIGUSR1));
    assert_eq!(b.recv(), Ok(Signal::SIGUSR1));
    send(Signal::SIGHUP);
    assert_eq!(c.recv(), Ok(Signal::SIGHUP));
    assert_eq!(a.recv(), Ok(Signal::SIGHUP));
    assert!(b.try_recv().is_err(), "b did not ask for SIGHUP");
    // Stopped: nothing more, while the others still get theirs.
    signal::stop(&b);
    send(Signal::SIGUSR1);
    assert_eq!(a.recv(), Ok(Signal::SIGUSR1));
    assert!(b.recv_timeout(Duration::from_millis(20)).is_err());
    // A select! beside other channels.
    let (_tx, never) = gort::chan::bounded::<()>(0);
    send(Signal::SIGHUP);
    gort::select! {
        recv(c) -> s => assert_eq!(s, Ok(Signal::SIGHUP)),
        recv(never) -> _ => unreachable!(),
    }
}

#[test]
fn several_receivers_each_get_the_signal() {
    common::at_p1_and_p2(
        LIMIT,
        "several_receivers_each_get_the_signal",
        receivers_body,
    );
}

#[test]
fn dropping_the_receiver_restores_the_default() {
    let name = "dropping_the_receiver_restores_the_default";
    if is_child(name) {
        return with_timeout(LIMIT, || {
            gort::go!(|| {
                let rx = signal::notify(&[Signal::SIGUSR2]);
                send(Signal::SIGUSR2);
                assert_eq!(rx.recv(), Ok(Signal::SIGUSR2));
                drop(rx);
                // SIGUSR2's default: the process ends here.
                send(Signal::SIGUSR2);
                std::thread::sleep(Duration::from_secs(30));
                println!("still alive");
            })
            .join()
            .unwrap()
        });
    }
    use std::os::unix::process::ExitStatusExt;
    let out = run_child(name, &[]);
    let so = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.signal(),
        Some(Signal::SIGUSR2 as i32),
        "the child should die of SIGUSR2: {:?}\n{so}",
        out.status
    );
    assert!(!so.contains("still alive"));
}

#[test]
#[should_panic(expected = "gort's own")]
fn gorts_own_signals_are_refused() {
    let _ = signal::notify(&[Signal::SIGURG]);
}
