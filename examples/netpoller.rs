//! netpoller — goroutines waiting on sockets cost no thread
//! (docs/GUIDE-netpoller.md): a TCP server on 127.0.0.1 with a goroutine per
//! connection, and clients that send a line, wait for the echo, think for a
//! few milliseconds, and go again. While they wait, every goroutine is
//! parked in the netpoller (`IO wait`); the poller wakes them when data
//! arrives, so a handful of threads serve them all. Prints the goroutine
//! and thread counts; exits non-zero if the echoes were wrong or the run
//! needed a thread per connection.
//!
//! ```text
//! cargo run --release --example netpoller -- netpoller.json   # trace the clients' run
//! cargo run --release -p gort-trace --bin trace_svg -- netpoller.json netpoller.svg
//! ```
//! With a path argument it traces (`gort::trace::start`/`stop`) from the
//! first connection to the last echo.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use gort::net::{TcpListener, TcpStream};

/// Client connections (each with a server goroutine: twice as many goroutines).
const CLIENTS: usize = 8;
/// Request/response rounds per client.
const ROUNDS: usize = 4;
/// A client's pause between rounds.
const THINK: Duration = Duration::from_millis(5);

#[gort::main]
fn main() {
    if std::env::var_os("GOMAXPROCS").is_none() {
        gort::set_gomaxprocs(2);
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    gort::go!(move || {
        for conn in listener.incoming() {
            let conn = conn.expect("accept");
            gort::go!(move || {
                let mut r = BufReader::new(conn.try_clone().expect("clone"));
                let mut w = conn;
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    w.write_all(line.as_bytes()).expect("echo");
                    line.clear();
                }
            });
        }
    });
    let trace = std::env::args().nth(1);
    if let Some(path) = &trace {
        gort::trace::start(path).expect("start the trace");
    }
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            gort::go!(move || {
                let conn = TcpStream::connect(addr).expect("connect");
                let mut r = BufReader::new(conn.try_clone().expect("clone"));
                let mut w = conn;
                let mut ok = 0;
                for i in 0..ROUNDS {
                    let msg = format!("client {c} round {i}\n");
                    w.write_all(msg.as_bytes()).expect("send");
                    let mut back = String::new();
                    r.read_line(&mut back).expect("recv");
                    ok += usize::from(back == msg);
                    gort::time::sleep(THINK);
                }
                ok
            })
        })
        .collect();
    let ok: usize = clients.into_iter().map(|h| h.join().expect("client")).sum();
    if trace.is_some() {
        let s = gort::trace::stop().expect("write the trace");
        println!(
            "netpoller: trace of {} slices in {}",
            s.slices,
            s.path.display()
        );
    }
    let s = gort::stats();
    println!(
        "netpoller: {ok}/{} echoes right; {} goroutines alive, {} Ms created for GOMAXPROCS={}",
        CLIENTS * ROUNDS,
        s.goroutines,
        s.threads_created,
        s.gomaxprocs
    );
    if ok != CLIENTS * ROUNDS || s.threads_created >= CLIENTS {
        std::process::exit(1);
    }
}
