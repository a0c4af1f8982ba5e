//! metrics_server — gort's runtime metrics (`gort::metrics::read`) served
//! in Prometheus' text format over gort::net, beside a small workload to
//! watch: sleepers, a ticker, a spinner.
//!
//! ```text
//! cargo run --release --example metrics_server -- [port]    # default 9090
//! curl -s http://127.0.0.1:9090/metrics
//! cargo run --example metrics_server -- --self-check        # fetch once, check, exit
//! ```
//!
//! One goroutine per connection, HTTP/1.0, any path answers the metrics.
//! `--self-check` listens on a free port, fetches its own page, checks that
//! the goroutine gauges and the latency histogram are there, prints the
//! page and exits 0 (1 otherwise).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use gort::net::{TcpListener, TcpStream};

/// Prometheus' text format for one reading.
fn render(m: &gort::metrics::Metrics) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, values: &[(&str, u64)]| {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# HELP gort_{name} {help}\n# TYPE gort_{name} {kind}");
        for (labels, v) in values {
            let _ = writeln!(out, "gort_{name}{labels} {v}");
        }
    };
    gauge(
        "goroutines",
        "Goroutines by state.",
        &[
            ("{state=\"running\"}", m.goroutines_running as u64),
            ("{state=\"runnable\"}", m.goroutines_runnable as u64),
            ("{state=\"waiting\"}", m.goroutines_waiting as u64),
            ("{state=\"syscall\"}", m.goroutines_syscall as u64),
        ],
    );
    gauge(
        "goroutines_created_total",
        "Goroutines created.",
        &[("", m.goroutines_created)],
    );
    gauge(
        "threads",
        "OS threads that run goroutines.",
        &[
            ("{state=\"all\"}", m.threads as u64),
            ("{state=\"idle\"}", m.threads_idle as u64),
            ("{state=\"pinned\"}", m.threads_pinned as u64),
        ],
    );
    gauge("procs", "GOMAXPROCS.", &[("", m.procs as u64)]);
    gauge(
        "preemptions_total",
        "Signal preemptions.",
        &[("", m.preemptions)],
    );
    gauge(
        "handoffs_total",
        "Ps handed off from blocked threads.",
        &[("", m.handoffs)],
    );
    gauge(
        "steals_total",
        "Goroutines stolen between Ps.",
        &[("", m.steals)],
    );
    gauge(
        "netpoll_waits",
        "Goroutines parked on I/O.",
        &[("", m.netpoll_waits as u64)],
    );
    gauge("timers", "Timers armed.", &[("", m.timers_pending as u64)]);
    gauge(
        "stack_bytes",
        "Goroutine stack memory.",
        &[
            ("{state=\"in_use\"}", m.stack_bytes_in_use as u64),
            ("{state=\"reserved\"}", m.stack_bytes_reserved as u64),
        ],
    );
    histogram(&mut out, &m.sched_latency);
    out
}

/// The scheduling latency as a Prometheus histogram (cumulative buckets).
fn histogram(out: &mut String, h: &gort::metrics::Histogram) {
    let name = "gort_sched_latency_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from runnable to running (sampled)."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    let mut cumulative = 0;
    for (i, c) in h.counts.iter().enumerate() {
        cumulative += c;
        match h.bounds.get(i + 1) {
            Some(le) => {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{le=\"{}\"}} {cumulative}",
                    le.as_secs_f64()
                );
            }
            None => {
                let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
            }
        }
    }
    let _ = writeln!(out, "{name}_sum {}", h.sum.as_secs_f64());
    let _ = writeln!(out, "{name}_count {cumulative}");
}

/// Answers one request with the current metrics.
fn serve(mut conn: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = render(&gort::metrics::read());
    let reply = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(reply.as_bytes());
}

/// Something to watch: sleepers, a ticker and a spinner that yields.
fn workload() {
    for i in 0..100u64 {
        gort::go!(move || loop {
            gort::time::sleep(Duration::from_millis(10 + i));
        });
    }
    gort::go!(|| {
        let t = gort::time::Ticker::new(Duration::from_millis(5));
        loop {
            let _ = t.chan().recv();
        }
    });
    gort::go!(|| loop {
        for _ in 0..100_000 {
            std::hint::spin_loop();
        }
        gort::yield_now();
    });
}

/// Fetches the page from `addr` and checks it.
fn self_check(addr: std::net::SocketAddr) -> bool {
    let mut page = String::new();
    let fetched = TcpStream::connect(addr).and_then(|mut c| {
        c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")?;
        c.read_to_string(&mut page)
    });
    if let Err(e) = fetched {
        eprintln!("metrics_server: fetching {addr}: {e}");
        return false;
    }
    println!("{page}");
    [
        "gort_goroutines{state=\"waiting\"}",
        "gort_sched_latency_seconds_count",
        "gort_timers",
    ]
    .iter()
    .all(|k| page.contains(k))
}

#[gort::main]
fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let check = arg.as_deref() == Some("--self-check");
    let port: u16 = match arg.as_deref() {
        None => 9090,
        Some("--self-check") => 0,
        Some(p) => match p.parse() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("usage: metrics_server [port | --self-check]");
                return ExitCode::from(2);
            }
        },
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("metrics_server: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    workload();
    gort::go!(move || {
        for conn in listener.incoming().flatten() {
            gort::go!(move || serve(conn));
        }
    });
    if check {
        return if self_check(addr) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    println!("metrics at http://{addr}/metrics");
    gort::select! {}
}
