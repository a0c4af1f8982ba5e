//! crawler — the concurrent fetcher a Go programmer would write, in gort:
//! a context with a deadline, an errgroup with a limit, and cancellation of
//! everything in flight on the first error.
//!
//! ```text
//! cargo run --release --example crawler
//! ```
//!
//! It starts three local HTTP servers on 127.0.0.1 (gort::net): `pages`
//! answers at once, `slow` after two seconds, and `broken` answers 500.
//! Then three crawls, each an `ErrGroup` of fetches, at most four at once:
//! 1. twelve pages: all arrive;
//! 2. pages, the slow one and the broken one: the 500 fails the group, its
//!    context is cancelled, and the slow fetch stops at once instead of
//!    after two seconds (the fetch closes its socket from
//!    `context::after_func`, as Go's HTTP client does);
//! 3. the slow page under a 100 ms deadline: `context deadline exceeded`.
//!
//! Exits 0 when each crawl ends as described, 1 otherwise.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::context::{self, Context};
use gort::net::{TcpListener, TcpStream};
use gort::sync::ErrGroup;

/// How long the slow server thinks before it answers.
const SLOW: Duration = Duration::from_secs(2);
/// Fetches in flight at once, per crawl.
const LIMIT: usize = 4;

/// What a server does with a request for `path`.
#[derive(Clone, Copy)]
enum Behaviour {
    Pages,
    Slow,
    Broken,
}

/// Serves HTTP/1.0 on a fresh port, one goroutine per connection.
fn serve(behaviour: Behaviour) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    gort::go!(move || {
        for conn in listener.incoming().flatten() {
            gort::go!(move || answer(conn, behaviour));
        }
    });
    Ok(addr)
}

/// Reads one request head and answers it.
fn answer(mut conn: TcpStream, behaviour: Behaviour) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let path = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let (status, body) = match behaviour {
        Behaviour::Pages => ("200 OK", format!("<h1>{path}</h1>").repeat(10)),
        Behaviour::Slow => {
            gort::time::sleep(SLOW);
            ("200 OK", "finally".to_string())
        }
        Behaviour::Broken => ("500 Internal Server Error", "oops".to_string()),
    };
    let reply = format!(
        "HTTP/1.0 {status}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(reply.as_bytes());
}

/// GETs `path` from `addr` unless `ctx` ends first: Go's
/// `http.NewRequestWithContext` + `client.Do`. Returns the body's length.
fn fetch(ctx: &Context, addr: SocketAddr, path: &str) -> Result<usize, String> {
    if let Some(e) = ctx.err() {
        return Err(e.to_string());
    }
    let mut conn = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    // Cancelling the context closes the socket: a read parked on it
    // returns at once.
    let closer = conn.try_clone().map_err(|e| e.to_string())?;
    let stop = context::after_func(ctx, move || {
        let _ = closer.shutdown(Shutdown::Both);
    });
    let result = exchange(&mut conn, path);
    stop.stop();
    // The context's reason beats the socket's: "deadline exceeded", not
    // "connection reset".
    if let Some(e) = ctx.err() {
        return Err(format!("GET {path}: {e}"));
    }
    result.map_err(|e| format!("GET {path}: {e}"))
}

/// Writes the request and reads the whole reply; checks the status.
fn exchange(conn: &mut TcpStream, path: &str) -> Result<usize, String> {
    write!(conn, "GET {path} HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&reply);
    let status = text.lines().next().unwrap_or("");
    if !status.contains(" 200 ") {
        return Err(format!(
            "status {:?}",
            status.trim_start_matches("HTTP/1.0 ")
        ));
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok(body.len())
}

/// Fetches every URL with at most LIMIT in flight; the first failure
/// cancels the rest. Returns the bytes fetched, or the first error.
fn crawl(parent: &Context, urls: &[(SocketAddr, String)]) -> Result<usize, String> {
    let (group, ctx) = ErrGroup::<String>::with_context(parent);
    group.set_limit(LIMIT);
    let total = Arc::new(Mutex::new(0));
    for (addr, path) in urls.iter().cloned() {
        let (ctx, total) = (ctx.clone(), total.clone());
        group.go(move || {
            let n = fetch(&ctx, addr, &path)?;
            *total.lock().unwrap() += n;
            Ok(())
        });
    }
    group.wait()?;
    let n = *total.lock().unwrap();
    Ok(n)
}

/// Runs one crawl and says whether it ended as expected.
fn run(
    title: &str,
    ctx: &Context,
    urls: &[(SocketAddr, String)],
    want: fn(&Result<usize, String>) -> bool,
) -> bool {
    let start = Instant::now();
    let r = crawl(ctx, urls);
    let took = start.elapsed();
    let ok = want(&r) && took < SLOW;
    match &r {
        Ok(n) => println!("{title}: {} pages, {n} bytes in {took:.1?}", urls.len()),
        Err(e) => println!("{title}: failed in {took:.1?}: {e}"),
    }
    ok
}

#[gort::main]
fn main() -> ExitCode {
    let servers = (|| {
        Ok::<_, io::Error>((
            serve(Behaviour::Pages)?,
            serve(Behaviour::Slow)?,
            serve(Behaviour::Broken)?,
        ))
    })();
    let Ok((pages, slow, broken)) = servers else {
        eprintln!("crawler: cannot listen on 127.0.0.1: {:?}", servers.err());
        return ExitCode::FAILURE;
    };
    let page = |i: usize| (pages, format!("/page/{i}"));
    let bg = context::background();

    let all: Vec<_> = (0..12).map(page).collect();
    let ok1 = run("crawl 1 (all good)", &bg, &all, |r| r.is_ok());

    let mut mixed: Vec<_> = (0..6).map(page).collect();
    mixed.insert(1, (slow, "/slow".into()));
    mixed.insert(3, (broken, "/missing".into()));
    let ok2 = run("crawl 2 (one broken)", &bg, &mixed, |r| {
        r.as_ref().is_err_and(|e| e.contains("500"))
    });

    let (ctx, cancel) = bg.with_timeout(Duration::from_millis(100));
    let timed = vec![page(0), (slow, "/slow".into())];
    let ok3 = run("crawl 3 (100 ms deadline)", &ctx, &timed, |r| {
        r.as_ref().is_err_and(|e| e.contains("deadline exceeded"))
    });
    cancel.cancel();

    if ok1 && ok2 && ok3 {
        ExitCode::SUCCESS
    } else {
        eprintln!("crawler: a crawl did not end as expected");
        ExitCode::FAILURE
    }
}
