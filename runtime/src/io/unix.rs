//! unix — Unix-domain stream sockets, std::os::unix::net's shape:
//! `UnixListener` (bind, accept, incoming) and `UnixStream` (connect, pair,
//! Read/Write, shutdown, timeouts). The same waiting as TCP (io/fd.rs).
//! `connect` runs in `syscall::blocking`: a Unix connect completes at once
//! unless the listener's backlog is full, and then it should block only its
//! thread. Writes use `send(MSG_NOSIGNAL)` (std's use `write`, which can
//! raise SIGPIPE).

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::{self as unet, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::fd::{self, Mode, NetFd};

/// A Unix-domain socket server, like [`std::os::unix::net::UnixListener`].
///
/// ```
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("gort-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let l = gort::net::UnixListener::bind(&path).unwrap();
/// let p = path.clone();
/// gort::go!(move || {
///     let mut c = gort::net::UnixStream::connect(&p).unwrap();
///     c.write_all(b"hi").unwrap();
/// });
/// let (mut s, _) = l.accept().unwrap();
/// let mut got = String::new();
/// s.read_to_string(&mut got).unwrap();
/// assert_eq!(got, "hi");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    fd: NetFd<unet::UnixListener>,
}

impl UnixListener {
    /// Binds to the path `path` and listens.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let l = unet::UnixListener::bind(path)?;
        l.set_nonblocking(true)?;
        Ok(UnixListener { fd: NetFd::new(l) })
    }

    /// Waits for the next connection.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.fd.io(Mode::Read, |l| l.accept())?;
        s.set_nonblocking(true)?;
        Ok((UnixStream { fd: NetFd::new(s) }, a))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// A new handle to the same listening socket.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// A Unix-domain stream, like [`std::os::unix::net::UnixStream`].
///
/// ```
/// use std::io::{Read, Write};
/// let (mut a, mut b) = gort::net::UnixStream::pair().unwrap();
/// let h = gort::go!(move || {
///     let mut buf = [0u8; 4];
///     b.read_exact(&mut buf).unwrap();
///     buf
/// });
/// a.write_all(b"ping").unwrap();
/// assert_eq!(&h.join().unwrap(), b"ping");
/// ```
pub struct UnixStream {
    fd: NetFd<unet::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let s = crate::sched::syscall::blocking(|| unet::UnixStream::connect(path))?;
        s.set_nonblocking(true)?;
        Ok(UnixStream { fd: NetFd::new(s) })
    }

    /// A connected pair of unnamed sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unet::UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((
            UnixStream { fd: NetFd::new(a) },
            UnixStream { fd: NetFd::new(b) },
        ))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().peer_addr()
    }

    /// Shuts down the read half, the write half or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.sock().shutdown(how)
    }

    /// A new handle to the same connection; timeouts are shared.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Reads fail with `WouldBlock` once they have waited `dur`.
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Read, dur)
    }

    /// Writes fail with `WouldBlock` once they have waited `dur`.
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

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |mut s| s.read(buf))
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Mode::Write, |s| fd::send(s.as_raw_fd(), buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl_as_fd!(UnixListener, UnixStream);

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
