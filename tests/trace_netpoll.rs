//! The netpoller in diagnostics: a goroutine reading a quiet
//! socket shows `[IO wait]` in the goroutine dump, and the trace of its
//! wake-up has a `netpoll` event and a slice that ended in `park (IO wait)`.

mod common;
mod trace_util;

use std::io::{Read, Write};
use std::time::Duration;

use common::with_timeout;
use trace_util::{events, parse_json, J};

#[test]
fn io_wait_in_the_dump_and_netpoll_in_the_trace() {
    with_timeout(Duration::from_secs(60), || {
        let path =
            std::env::temp_dir().join(format!("gort-trace-netpoll-{}.json", std::process::id()));
        gort::trace::start(&path).unwrap();
        let (mut a, mut b) = gort::net::UnixStream::pair().unwrap();
        let reader = gort::go!(move || {
            let mut buf = [0u8; 5];
            b.read_exact(&mut buf).unwrap();
            buf
        });
        // Wait until the reader is parked in the poller.
        let head = format!("goroutine {} [IO wait]:", reader.id());
        loop {
            let mut v = Vec::new();
            gort::debug::dump_goroutines(&mut v).unwrap();
            if String::from_utf8_lossy(&v).contains(&head) {
                break;
            }
            std::thread::yield_now();
        }
        a.write_all(b"hello").unwrap();
        assert_eq!(&reader.join().unwrap(), b"hello");
        gort::trace::stop().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let doc = parse_json(&text).unwrap();
        let name = |e: &J| e.get("name").and_then(J::str).unwrap_or("").to_string();
        let evs = events(&doc);
        assert!(evs.iter().any(|e| name(e) == "netpoll"), "no netpoll event");
        assert!(
            evs.iter().any(|e| name(e) == "park (IO wait)"),
            "no park (IO wait) event"
        );
    });
}
