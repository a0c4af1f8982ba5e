//! pipe — [`pipe`] (Go's `os.Pipe`): an OS pipe whose ends park the calling
//! goroutine in the netpoller instead of blocking its thread, like gort's
//! sockets (the waiting is io/fd.rs's). The same types are a child
//! process's stdin, stdout and stderr (`gort::process`).
//!
//! Both ends are non-blocking in the kernel; handed to a child process as
//! its stdio (`Stdio::from`) an end is switched back to blocking first,
//! since most programs do not expect `EAGAIN` on their stdin or stdout.

#![forbid(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::Stdio;
use std::time::Duration;

use super::fd::{Mode, NetFd};
use crate::sys;

/// The reading end of a pipe. Reads park the goroutine until data or end
/// of file (every writer closed).
///
/// ```
/// use std::io::{Read, Write};
/// let (mut r, mut w) = gort::io::pipe().unwrap();
/// gort::go!(move || w.write_all(b"through the pipe").unwrap());
/// let mut got = String::new();
/// r.read_to_string(&mut got).unwrap();
/// assert_eq!(got, "through the pipe");
/// ```
pub struct PipeReader {
    fd: NetFd<File>,
}

/// The writing end of a pipe. Writes park the goroutine while the pipe is
/// full; with every reader gone they fail with `BrokenPipe`.
///
/// ```
/// use std::io::Write;
/// let (r, mut w) = gort::io::pipe().unwrap();
/// drop(r);
/// assert_eq!(w.write(b"x").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
/// ```
pub struct PipeWriter {
    fd: NetFd<File>,
}

/// A new pipe: what is written to the writer is read from the reader (Go's
/// `os.Pipe`). Both ends close on exec.
///
/// ```
/// use std::io::{Read, Write};
/// let (mut r, mut w) = gort::io::pipe().unwrap();
/// w.write_all(b"hi").unwrap();
/// drop(w);
/// let mut s = String::new();
/// r.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "hi");
/// ```
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let (r, w) = sys::pipe_nonblocking()?;
    Ok((PipeReader::wrap(r), PipeWriter::wrap(w)))
}

/// A pipe end as a non-blocking file in a NetFd.
fn nonblocking(fd: OwnedFd) -> io::Result<NetFd<File>> {
    sys::set_nonblocking(fd.as_fd(), true)?;
    Ok(NetFd::new(File::from(fd)))
}

impl PipeReader {
    /// Wraps a descriptor that is non-blocking already.
    fn wrap(fd: OwnedFd) -> PipeReader {
        PipeReader {
            fd: NetFd::new(File::from(fd)),
        }
    }

    /// Takes over the reading end of a pipe made elsewhere (a std child's
    /// stdout), switching it to non-blocking.
    pub(crate) fn from_owned(fd: OwnedFd) -> io::Result<PipeReader> {
        Ok(PipeReader {
            fd: nonblocking(fd)?,
        })
    }

    /// Reads give up with `WouldBlock` after `dur` without data (None: wait
    /// as long as it takes).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let (mut r, _w) = gort::io::pipe().unwrap();
    /// r.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert_eq!(r.read(&mut [0; 8]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Read, dur)
    }
}

impl PipeWriter {
    /// Wraps a descriptor that is non-blocking already.
    fn wrap(fd: OwnedFd) -> PipeWriter {
        PipeWriter {
            fd: NetFd::new(File::from(fd)),
        }
    }

    /// Takes over the writing end of a pipe made elsewhere (a std child's
    /// stdin), switching it to non-blocking.
    pub(crate) fn from_owned(fd: OwnedFd) -> io::Result<PipeWriter> {
        Ok(PipeWriter {
            fd: nonblocking(fd)?,
        })
    }

    /// Writes give up with `WouldBlock` after `dur` with the pipe full.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// let (_r, mut w) = gort::io::pipe().unwrap();
    /// w.set_write_timeout(Some(Duration::from_millis(5))).unwrap();
    /// let big = vec![0u8; 1 << 20]; // more than a pipe holds
    /// assert!(w.write_all(&big).is_err());
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Write, dur)
    }
}

impl_parking_read!(PipeReader);
impl_parking_write!(PipeWriter);

/// An end given to a child process as its stdin/stdout/stderr, blocking
/// again (module docs).
fn to_stdio(fd: &NetFd<File>) -> io::Result<Stdio> {
    let dup = fd.sock().try_clone()?;
    sys::set_nonblocking(dup.as_fd(), false)?;
    Ok(Stdio::from(dup))
}

impl TryFrom<PipeReader> for Stdio {
    type Error = io::Error;
    /// The reader as a child's stdin (blocking again, module docs).
    fn try_from(r: PipeReader) -> io::Result<Stdio> {
        to_stdio(&r.fd)
    }
}

impl TryFrom<PipeWriter> for Stdio {
    type Error = io::Error;
    /// The writer as a child's stdout or stderr (blocking again).
    fn try_from(w: PipeWriter) -> io::Result<Stdio> {
        to_stdio(&w.fd)
    }
}

macro_rules! pipe_fd_traits {
    ($($t:ident),+) => {$(
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.sock().as_raw_fd()
            }
        }

        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.sock().as_fd()
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t)).field("fd", &self.as_raw_fd()).finish()
            }
        }
    )+};
}

pipe_fd_traits!(PipeReader, PipeWriter);
