//! http_hello — a minimal HTTP/1.1 server that answers every request with
//! `hello`: keep-alive and pipelining, one goroutine per connection, for
//! load generators such as wrk.
//!
//! ```text
//! cargo run --release --example http_hello -- [port]    # default 8080
//! curl -s http://127.0.0.1:8080/                          # hello
//! wrk -t2 -c256 -d10s http://127.0.0.1:8080/
//! ```
//!
//! Requests are read into a buffer and answered as soon as their head (and
//! any `Content-Length` body) is complete; the answers to several pipelined
//! requests go out in one write. `Connection: close`, or HTTP/1.0 without
//! `Connection: keep-alive`, closes after the answer. A head larger than
//! 64 KiB gets a 431 and the connection is closed. It listens on 127.0.0.1
//! only and runs until killed.

use std::io::{Read, Write};

use gort::net::{TcpListener, TcpStream};

/// Port when none is given.
const DEFAULT_PORT: u16 = 8080;
/// The largest request head (and buffered body) accepted.
const MAX_REQUEST: usize = 64 * 1024;

const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
const HELLO_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
const TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What a request head says about the connection and its body.
struct Head {
    keep_alive: bool,
    body_len: usize,
}

/// Parses a complete request head (up to and including the blank line).
fn parse_head(head: &[u8]) -> Head {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut keep_alive = !request_line.ends_with("HTTP/1.0");
    let mut body_len = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().unwrap_or(0);
        }
    }
    Head {
        keep_alive,
        body_len,
    }
}

/// Answers the requests of one connection until it closes.
fn serve(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        // Answer every complete request in the buffer.
        let mut start = 0;
        let mut close = false;
        while let Some(end) = buf[start..len].windows(4).position(|w| w == b"\r\n\r\n") {
            let head_len = end + 4;
            let head = parse_head(&buf[start..start + head_len]);
            if start + head_len + head.body_len > len {
                break; // the body is not all here yet
            }
            start += head_len + head.body_len;
            if head.keep_alive {
                out.extend_from_slice(HELLO);
            } else {
                out.extend_from_slice(HELLO_CLOSE);
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            let _ = s.shutdown(std::net::Shutdown::Write);
            return;
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if len == buf.len() {
            if buf.len() >= MAX_REQUEST {
                let _ = s.write_all(TOO_LARGE);
                return;
            }
            buf.resize(buf.len() * 2, 0);
        }
        match s.read(&mut buf[len..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => len += n,
        }
    }
}

#[gort::main]
fn main() {
    let port = match std::env::args().nth(1) {
        None => DEFAULT_PORT,
        Some(p) => p.parse().unwrap_or_else(|_| {
            eprintln!("usage: http_hello [port]   (bad port {p:?})");
            std::process::exit(2)
        }),
    };
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("http_hello: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1)
    });
    eprintln!(
        "http_hello: listening on http://{}/",
        l.local_addr().expect("local addr")
    );
    for s in l.incoming() {
        match s {
            Ok(s) => {
                gort::go!(move || serve(s));
            }
            Err(e) => eprintln!("http_hello: accept: {e}"),
        }
    }
}
