//! A goroutine that spends its slice inside the runtime — a loop of `go!`
//! calls — is still preempted (preempt.rs `coop_requested`: `spawn` yields
//! when sysmon asked the slice to end, as Go's function prologues do). A
//! signal that lands in runtime code is turned away, so without that check
//! such a loop holds GOMAXPROCS=1 for as long as it runs, and a sleeper next
//! to it starves (checked: without it the sleeper got 3-7 of its 20 naps in
//! 1.5 s of the loop, from the few signals that hit the loop's own code;
//! with it, all 20 in 0.26-0.95 s over 30 runs, unoptimised).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{child_ok, is_child, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);
const NAPS: u64 = 20;
/// The spawn loop gives up after this long (a failure).
const LOOP_DEADLINE: Duration = Duration::from_millis(3000);

#[test]
fn a_spawn_loop_does_not_starve_a_sleeper_at_gomaxprocs_1() {
    let name = "a_spawn_loop_does_not_starve_a_sleeper_at_gomaxprocs_1";
    if !is_child(name) {
        let (so, _) = child_ok(name, &[("GOMAXPROCS", "1")]);
        print!("{so}");
        return;
    }
    with_timeout(LIMIT, || {
        let naps = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, st) = (naps.clone(), stop.clone());
        let sleeper = gort::go!(move || {
            for _ in 0..NAPS {
                gort::time::sleep(Duration::from_millis(1));
                n.fetch_add(1, Ordering::SeqCst);
            }
            st.store(true, Ordering::SeqCst);
        });
        let n = naps.clone();
        let spawner = gort::go!(move || {
            let t = Instant::now();
            let mut spawned = 0u64;
            while !stop.load(Ordering::SeqCst) && t.elapsed() < LOOP_DEADLINE {
                drop(gort::go!(|| ()));
                spawned += 1;
            }
            (spawned, n.load(Ordering::SeqCst), t.elapsed())
        });
        let (spawned, naps_seen, took) = spawner.join().unwrap();
        sleeper.join().unwrap();
        println!("spawned {spawned} in {took:?}; the sleeper had {naps_seen} of {NAPS} naps");
        assert_eq!(naps_seen, NAPS, "the sleeper starved beside a spawn loop");
    });
}
