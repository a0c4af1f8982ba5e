//! UdpSocket — a UDP socket, std::net::UdpSocket's shape: bind, send_to /
//! recv_from, connect + send / recv, peek, timeouts, broadcast, try_clone.
//! A std socket in non-blocking mode underneath; the waiting is io/fd.rs's.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::fd::{self, Mode, NetFd};

/// A UDP socket, like [`std::net::UdpSocket`]; a receive with nothing
/// queued parks the calling goroutine (a plain thread blocks).
///
/// ```
/// use gort::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let to = b.local_addr().unwrap();
/// let got = gort::go!(move || {
///     let mut buf = [0u8; 16];
///     let (n, _) = b.recv_from(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send_to(b"ping", to).unwrap();
/// assert_eq!(got.join().unwrap(), b"ping");
/// ```
pub struct UdpSocket {
    fd: NetFd<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that binds).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        fd::each_addr(addr, |a| {
            let sock = fd::socket(a, libc::SOCK_DGRAM)?;
            fd::bind(sock.as_raw_fd(), a)?;
            Ok(UdpSocket {
                fd: NetFd::new(std::net::UdpSocket::from(sock)),
            })
        })
    }

    /// Adopts a std socket (switching it to non-blocking mode).
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket { fd: NetFd::new(s) })
    }

    /// Receives one datagram and its sender's address.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Mode::Read, |s| s.recv_from(buf))
    }

    /// Like `recv_from`, leaving the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Mode::Read, |s| s.peek_from(buf))
    }

    /// Sends one datagram to `addr` (its first address, as std).
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = fd::resolve(addr)?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.fd.io(Mode::Write, |s| s.send_to(buf, to))
    }

    /// Sets the default destination and the only accepted source.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        fd::each_addr(addr, |a| self.fd.sock().connect(a))
    }

    /// Sends to the connected address.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Mode::Write, |s| s.send(buf))
    }

    /// Receives from the connected address.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |s| s.recv(buf))
    }

    /// Like `recv`, leaving the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |s| s.peek(buf))
    }

    /// The connected address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// A new handle to the same socket; timeouts are shared.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Receives fail with `WouldBlock` once they have waited `dur`.
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Read, dur)
    }

    /// Sends fail with `WouldBlock` once they have waited `dur`.
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Write, dur)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Read))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Write))
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.fd.sock().set_broadcast(on)
    }

    /// The `SO_BROADCAST` setting.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.fd.sock().broadcast()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.sock().set_ttl(ttl)
    }

    /// The `IP_TTL` setting.
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.sock().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, operations that would wait return `WouldBlock` instead.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl_as_fd!(UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
