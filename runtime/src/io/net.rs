//! net — TCP, UDP and Unix-domain sockets for goroutines, shaped like
//! `std::net` / `std::os::unix::net`: the same constructors, methods and
//! errors, but an operation that would block parks the calling goroutine in
//! the netpoller (io/netpoll.rs) instead of blocking its thread. On a plain
//! thread every operation blocks the thread, as std's do.
//!
//! ```
//! use std::io::{Read, Write};
//! use gort::net::{TcpListener, TcpStream};
//!
//! let l = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = l.local_addr().unwrap();
//! let server = gort::go!(move || {
//!     let (mut s, _) = l.accept().unwrap();
//!     let mut buf = [0u8; 5];
//!     s.read_exact(&mut buf).unwrap();
//!     s.write_all(&buf).unwrap();
//! });
//! let reply = gort::go!(move || {
//!     let mut c = TcpStream::connect(addr).unwrap();
//!     c.write_all(b"hello").unwrap();
//!     let mut buf = [0u8; 5];
//!     c.read_exact(&mut buf).unwrap();
//!     buf
//! });
//! assert_eq!(&reply.join().unwrap(), b"hello");
//! server.join().unwrap();
//! ```
//!
//! # How an operation runs (io/fd.rs)
//! Every socket is opened non-blocking (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`). An
//! operation tries the system call; on `EAGAIN` the goroutine waits for the
//! fd (io/netpoll.rs `PollDesc::wait`) and tries again — Go's fd.Read loop.
//!
//! # Errors (std's rules)
//! Errors are std `io::Error`s carrying the OS error: `ConnectionRefused`,
//! `ConnectionReset`, `AddrInUse`, `BrokenPipe`... A read or write whose
//! timeout (`set_read_timeout` / `set_write_timeout`) passes fails with
//! `EAGAIN` (kind `WouldBlock`), as std's do on Unix; `connect_timeout`
//! fails with `TimedOut`. Writes use `MSG_NOSIGNAL`, so writing to a reset
//! connection is an `EPIPE`/`ECONNRESET` error, never a SIGPIPE.
//!
//! # Differences from std
//! - Timeouts are kept by gort, not by the kernel (`SO_RCVTIMEO` does
//!   nothing on a non-blocking socket). A timeout applies to each call, as
//!   std's do, and is shared by the handles `try_clone` makes.
//! - A listener's backlog is 4096 (capped by `net.core.somaxconn`): a
//!   thousand goroutines connecting at once must not meet SYN retries.
//! - `set_nonblocking(true)` makes operations return `WouldBlock` at once
//!   instead of waiting, as with std; the socket itself stays non-blocking.
//! - Name resolution (`ToSocketAddrs` with a host name) calls getaddrinfo,
//!   which blocks its thread; sysmon hands that thread's P to another M
//!   after a couple of milliseconds (a call nobody announced, sched/sysmon.rs).
//!   Pass a `SocketAddr` to avoid it.

#![forbid(unsafe_code)]

pub use super::resolve::lookup_host;
pub use super::tcp_listener::{Incoming, TcpListener};
pub use super::tcp_stream::TcpStream;
pub use super::udp_socket::UdpSocket;
pub use super::unix::{UnixListener, UnixStream};

pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
    ToSocketAddrs,
};
