//! echo — a TCP echo server: one goroutine per connection, each parked in
//! the netpoller while its client is quiet, so thousands of connections
//! cost a few threads.
//!
//! ```text
//! cargo run --release --example echo -- [port]      # default 7878
//! printf 'hello\n' | nc -q1 127.0.0.1 7878
//! ```
//!
//! It listens on 127.0.0.1 only. It runs until killed.

use std::io::{Read, Write};

use gort::net::{TcpListener, TcpStream};

/// Port when none is given.
const DEFAULT_PORT: u16 = 7878;

/// Echoes what `s` sends until it closes its side.
fn serve(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

#[gort::main]
fn main() {
    let port = match std::env::args().nth(1) {
        None => DEFAULT_PORT,
        Some(p) => p.parse().unwrap_or_else(|_| {
            eprintln!("usage: echo [port]   (bad port {p:?})");
            std::process::exit(2)
        }),
    };
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("echo: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1)
    });
    eprintln!("echo: listening on {}", l.local_addr().expect("local addr"));
    for s in l.incoming() {
        match s {
            Ok(s) => {
                gort::go!(move || serve(s));
            }
            Err(e) => eprintln!("echo: accept: {e}"),
        }
    }
}
