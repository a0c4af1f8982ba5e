//! async_bridge — goroutines and async Rust in one program, both ways.
//!
//! 1. A "backend" speaks a tiny line protocol on tokio (a tokio task per
//!    connection, tokio::net).
//! 2. A "frontend" is a goroutine-per-connection server on gort::net, in
//!    plain blocking style; each handler calls the backend with an async
//!    client (tokio::net) through `gort::block_on`, which parks only the
//!    handler's goroutine while the future waits.
//! 3. A tokio program (`#[tokio::main]` style) drives the frontend: it
//!    spawns goroutines and awaits their `JoinHandle`s, and talks to a
//!    goroutine over gort channels with `send_async` / `recv_async`.
//!
//! Run: `cargo run --example async_bridge` (it uses the `tokio` feature,
//! which the workspace's examples have on).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The backend: answers each line `n` with `n * n`, on tokio.
async fn backend(listener: tokio::net::TcpListener) {
    loop {
        let (s, _) = listener.accept().await.expect("backend accept");
        tokio::spawn(async move {
            let (r, mut w) = s.into_split();
            let mut lines = tokio::io::BufReader::new(r).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let n: u64 = l.trim().parse().unwrap_or(0);
                if w.write_all(format!("{}\n", n * n).as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
}

/// The async client a frontend handler calls: one request to the backend.
async fn ask_backend(backend: SocketAddr, n: u64) -> std::io::Result<u64> {
    let s = tokio::net::TcpStream::connect(backend).await?;
    let (r, mut w) = s.into_split();
    w.write_all(format!("{n}\n").as_bytes()).await?;
    let mut line = String::new();
    tokio::io::BufReader::new(r).read_line(&mut line).await?;
    Ok(line.trim().parse().unwrap_or(0))
}

/// The frontend: a goroutine per connection; for each line `n` it asks the
/// backend for `n * n` and answers `n^2=<it>`.
fn frontend(listener: gort::net::TcpListener, backend: SocketAddr) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        gort::go!(move || {
            let mut out = conn.try_clone().expect("clone the connection");
            for line in BufReader::new(conn).lines() {
                let Ok(line) = line else { break };
                let n: u64 = line.trim().parse().unwrap_or(0);
                // Async code from a goroutine: only this goroutine waits.
                let sq = gort::block_on(ask_backend(backend, n)).unwrap_or(0);
                if writeln!(out, "{n}^2={sq}").is_err() {
                    break;
                }
            }
        });
    }
}

#[tokio::main]
async fn main() {
    // Futures run by gort::block_on use this program's tokio runtime (its
    // reactor and timers) rather than a small one of gort's own.
    gort::compat::set_tokio_handle(tokio::runtime::Handle::current());

    let back = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let back_addr = back.local_addr().unwrap();
    tokio::spawn(backend(back));

    let front = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let front_addr = front.local_addr().unwrap();
    gort::go!(move || frontend(front, back_addr));

    // Clients as goroutines (blocking std-style I/O), awaited from tokio.
    let clients: Vec<_> = (1..=8u64)
        .map(|n| {
            gort::go!(move || {
                let mut s = gort::net::TcpStream::connect(front_addr).unwrap();
                writeln!(s, "{n}").unwrap();
                let mut line = String::new();
                BufReader::new(s).read_line(&mut line).unwrap();
                line.trim().to_string()
            })
        })
        .collect();
    for c in clients {
        println!("client got {}", c.await.unwrap());
    }

    // A goroutine that sums what it is sent, over gort channels.
    let (tx, rx) = gort::chan::bounded::<u64>(0);
    let (done_tx, done_rx) = gort::chan::bounded::<u64>(0);
    gort::go!(move || {
        let total: u64 = rx.iter().sum();
        done_tx.send(total).unwrap();
    });
    for i in 1..=100 {
        tx.send_async(i).await.unwrap();
    }
    drop(tx);
    println!(
        "the goroutine summed 1..=100 to {}",
        done_rx.recv_async().await.unwrap()
    );
}
