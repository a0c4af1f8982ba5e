//! `GORT_TRACE=path.json`: a child process runs the stealing
//! scenario at GOMAXPROCS=2 with tracing on from the start; the file it
//! leaves at exit is valid JSON in the Chrome trace-event format, with
//! goroutine slices on both P tracks and on M tracks, and steal events.

mod common;
mod trace_util;

use std::collections::BTreeSet;

use common::{is_child, run_child, texts};
use trace_util::{events, parse_json, stealing_workload, J};

#[test]
fn child_stealing_traced() {
    if is_child("child_stealing_traced") {
        assert_eq!(gort::gomaxprocs(), 2); // starts the runtime
        assert!(gort::trace::is_tracing(), "GORT_TRACE started a trace");
        let rounds = stealing_workload(64);
        println!("stole after {rounds} round(s)");
        // The trace is written when the process exits.
    }
}

fn num(e: &J, k: &str) -> f64 {
    e.get(k)
        .and_then(J::num)
        .unwrap_or_else(|| panic!("{k} in {e:?}"))
}

#[test]
fn gort_trace_writes_a_chrome_trace_of_stealing() {
    let path =
        std::env::temp_dir().join(format!("gort-trace-stealing-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let out = run_child(
        "child_stealing_traced",
        &[("GOMAXPROCS", "2"), ("GORT_TRACE", path.to_str().unwrap())],
    );
    let (so, se) = texts(&out);
    assert!(out.status.success(), "child failed:\n{so}\n{se}");
    let text = std::fs::read_to_string(&path).expect("the child wrote the trace at exit");
    std::fs::remove_file(&path).unwrap();
    let doc = parse_json(&text).unwrap_or_else(|e| panic!("not JSON: {e}"));
    let evs = events(&doc);

    let name = |e: &J| e.get("name").and_then(J::str).unwrap_or("").to_string();
    let ph = |e: &J| e.get("ph").and_then(J::str).unwrap_or("").to_string();
    // Track names: processes "Ps" and "Ms", threads "P0", "P1", "M..".
    let meta: BTreeSet<String> = evs
        .iter()
        .filter(|e| ph(e) == "M")
        .filter_map(|e| e.get("args")?.get("name")?.str().map(str::to_string))
        .collect();
    for want in ["Ps", "Ms", "P0", "P1"] {
        assert!(meta.contains(want), "{want} missing from {meta:?}");
    }
    // Slices: complete events named G<id>, with a goroutine id, on P and M tracks.
    let slices: Vec<&J> = evs.iter().filter(|e| ph(e) == "X").collect();
    let mut p_tracks = BTreeSet::new();
    let mut m_tracks = BTreeSet::new();
    for s in &slices {
        assert!(name(s).starts_with('G'), "{s:?}");
        assert!(num(s, "dur") >= 0.0 && num(s, "ts") >= 0.0, "{s:?}");
        let args = s.get("args").expect("args");
        assert!(num(args, "g") >= 1.0, "{s:?}");
        assert!(args.get("end").and_then(J::str).is_some(), "{s:?}");
        match num(s, "pid") as u32 {
            1 => p_tracks.insert(num(s, "tid") as u64),
            2 => m_tracks.insert(num(s, "tid") as u64),
            other => panic!("slice on pid {other}"),
        };
    }
    println!(
        "{} events, {} slices, P tracks {p_tracks:?}, M tracks {m_tracks:?}",
        evs.len(),
        slices.len()
    );
    assert!(p_tracks.len() >= 2, "slices on P tracks {p_tracks:?}");
    assert!(m_tracks.len() >= 2, "slices on M tracks {m_tracks:?}");
    // Steals: instant events on the thief's P track, naming the victim.
    let steals: Vec<&J> = evs
        .iter()
        .filter(|e| ph(e) == "i" && name(e) == "steal")
        .collect();
    assert!(!steals.is_empty(), "no steal event");
    for s in &steals {
        assert_eq!(num(s, "pid"), 1.0);
        let args = s.get("args").unwrap();
        assert_ne!(num(args, "from"), num(s, "tid"), "a P stole from itself");
        assert!(num(args, "n") >= 1.0);
    }
    // Parks carry Go's wait reasons (the spawner joins its children).
    assert!(
        evs.iter().any(|e| name(e) == "park (join)"),
        "no park event with its reason"
    );
}
