//! `gort::trace::FlightRecorder`: its output parses as the tracer's JSON,
//! holds only the last window (goroutines that ran before it are gone,
//! those of the window are there), stays within `max_bytes`, and recording
//! goes on after a write. One at a time with a trace.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gort::trace::{FlightRecorder, FlightRecorderConfig};

/// Runs `n` short goroutines that yield a few times; returns their ids.
fn burst(n: usize) -> HashSet<u64> {
    let hs: Vec<_> = (0..n)
        .map(|_| {
            gort::go!(|| {
                for _ in 0..3 {
                    gort::yield_now();
                }
            })
        })
        .collect();
    hs.into_iter()
        .map(|h| {
            let id = h.id();
            h.join().unwrap();
            id
        })
        .collect()
}

/// The goroutine ids whose slices the trace JSON holds.
fn slice_goids(json: &str) -> HashSet<u64> {
    let v = gort_trace::json::parse(json).expect("the window parses");
    let events = v
        .get("traceEvents")
        .and_then(|e| e.as_array())
        .expect("traceEvents");
    events
        .iter()
        .filter_map(|e| e.get("name").and_then(|n| n.as_str()))
        .filter_map(|n| n.strip_prefix('G').and_then(|id| id.parse().ok()))
        .collect()
}

/// The tracer has one session: the tests take turns.
static SESSION: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_window_holds_only_the_last_moments() {
    let _turn = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    let min_age = Duration::from_millis(200);
    let mut fr = FlightRecorder::new(FlightRecorderConfig {
        min_age,
        max_bytes: 4 << 20,
    });
    fr.start().unwrap();
    assert!(gort::trace::start(std::env::temp_dir().join("gort-never.json")).is_err());
    let early = burst(200);
    // Past the window: keep the scheduler busy for twice min_age.
    let t = Instant::now();
    while t.elapsed() < min_age * 2 {
        burst(20);
    }
    let late = burst(200);
    let mut out = Vec::new();
    let n = fr.write_to(&mut out).unwrap();
    assert_eq!(n as usize, out.len());
    let seen = slice_goids(std::str::from_utf8(&out).unwrap());
    assert!(
        seen.is_disjoint(&early),
        "goroutines from before the window are in it"
    );
    let found = late.iter().filter(|g| seen.contains(g)).count();
    assert!(
        found >= 190,
        "only {found} of the window's 200 goroutines are in it"
    );
    // Recording went on.
    let again = burst(10);
    let mut out2 = Vec::new();
    fr.write_to(&mut out2).unwrap();
    assert!(slice_goids(std::str::from_utf8(&out2).unwrap()).is_superset(&again));
    fr.stop();
    assert!(!gort::trace::is_tracing());
    assert!(fr.write_to(&mut Vec::new()).is_err());
}

#[test]
fn max_bytes_bounds_the_window() {
    let _turn = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    let max_bytes = 64 << 10;
    let mut fr = FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_secs(3600),
        max_bytes,
    });
    fr.start().unwrap();
    for _ in 0..50 {
        burst(100);
    }
    let kept = gort::trace::buffered_events();
    fr.stop();
    // Events are 32 bytes; each thread trims to its share of max_bytes,
    // but keeps its ring of the last 256 events whatever the share.
    let threads = gort::stats().threads_created + 4;
    let bound = max_bytes / 32 + 256 * threads;
    println!("kept {kept} events, bound {bound}, threads {threads}");
    assert!(kept <= bound, "{kept} events kept, bound {bound}");
}
