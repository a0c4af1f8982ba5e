//! The `tokio` feature: futures that need tokio's reactor and timers run
//! inside `gort::block_on` on goroutines (200 goroutines, each a tokio::net
//! round trip to a local server and a tokio::time::sleep), and a tokio
//! program awaits 1,000 goroutines and talks to goroutines over
//! `send_async` / `recv_async`.

mod common;

use std::time::Duration;

use common::with_timeout;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn goroutines_use_tokio_net_and_time_inside_block_on() {
    with_timeout(LIMIT, || {
        // The server: goroutine per connection, gort::net, blocking style.
        let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        gort::go!(move || {
            for s in l.incoming() {
                let mut s = s.unwrap();
                gort::go!(move || {
                    use std::io::{Read, Write};
                    let mut b = [0u8; 8];
                    if s.read_exact(&mut b).is_ok() {
                        let v = u64::from_le_bytes(b) * 2;
                        let _ = s.write_all(&v.to_le_bytes());
                    }
                });
            }
        });
        // The clients: goroutines running tokio futures.
        let hs: Vec<_> = (0..200u64)
            .map(|i| {
                gort::go!(move || {
                    gort::block_on(async move {
                        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                        s.write_all(&i.to_le_bytes()).await.unwrap();
                        let mut b = [0u8; 8];
                        s.read_exact(&mut b).await.unwrap();
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        u64::from_le_bytes(b)
                    })
                })
            })
            .collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 2 * (0..200).sum::<u64>());
    });
}

#[test]
fn a_tokio_program_awaits_goroutines_and_talks_to_them() {
    with_timeout(LIMIT, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // 1,000 goroutines, awaited without blocking a worker.
            let hs: Vec<_> = (0..1000u64)
                .map(|i| {
                    gort::go!(move || {
                        gort::yield_now();
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            assert_eq!(sum, (0..1000).sum::<u64>());
            // A goroutine that doubles what it is sent, over gort channels.
            let (tx, rx) = gort::chan::bounded::<u64>(0);
            let (back_tx, back_rx) = gort::chan::bounded::<u64>(0);
            let worker = gort::go!(move || {
                for v in rx.iter() {
                    back_tx.send(v * 2).unwrap();
                }
            });
            let mut total = 0;
            for i in 0..1000 {
                tx.send_async(i).await.unwrap();
                total += back_rx.recv_async().await.unwrap();
            }
            drop(tx);
            worker.await.unwrap();
            assert_eq!(total, 2 * (0..1000).sum::<u64>());
        });
    });
}
