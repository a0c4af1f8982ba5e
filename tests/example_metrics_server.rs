//! examples/metrics_server.rs as a user runs it, in its `--self-check`
//! mode: it serves its metrics in Prometheus' text format over gort::net,
//! fetches its own page, and finds the goroutine gauges, the timers and
//! the latency histogram there.

mod common;

use std::process::Command;

#[test]
fn the_metrics_server_serves_prometheus_text() {
    let exe = common::example_exe("metrics_server");
    let out = Command::new(&exe)
        .arg("--self-check")
        .output()
        .expect("run the example");
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "self-check failed\n{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        so.contains("# TYPE gort_sched_latency_seconds histogram"),
        "{so}"
    );
    assert!(so.contains("gort_goroutines{state=\"running\"}"), "{so}");
}
