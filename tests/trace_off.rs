//! Tracing is off by default: a workload that steals, parks,
//! yields, blocks in system calls and hands off Ps records nothing — no
//! event is buffered and no buffer is even made (each event site is a
//! single flag load; docs/GUIDE-stealing.md has the W4 cost figure).

mod common;
mod trace_util;

use std::time::Duration;

use common::with_timeout;
use trace_util::stealing_workload;

#[test]
fn nothing_is_recorded_when_tracing_is_off() {
    with_timeout(Duration::from_secs(60), || {
        gort::set_gomaxprocs(2);
        assert!(!gort::trace::is_tracing());
        stealing_workload(32);
        let (tx, rx) = gort::chan::bounded::<u32>(0);
        let h = gort::go!(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
                gort::yield_now();
            }
            gort::syscall::blocking(|| std::thread::sleep(Duration::from_millis(30)));
        });
        let got: u32 = rx.iter().sum();
        h.join().unwrap();
        assert_eq!(got, 4950);
        assert!(gort::stats().steals > 0);
        assert_eq!(gort::trace::buffered_events(), 0);
        assert!(gort::trace::stop().is_err(), "nothing to stop");
    });
}
