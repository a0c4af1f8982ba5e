//! fifo — a `gort::fs::File` that is a FIFO (named pipe) or a pipe waits
//! like a socket: the file is switched to non-blocking and its reads and
//! writes park the goroutine in the netpoller (io/fd.rs) until the other
//! end moves, where a regular file's go through a blocking call. Go's
//! os.File does the same (`kind == kindNonBlock` for pipes and FIFOs).
//!
//! The NetFd holds a duplicate of the file's descriptor (one open file
//! description, so the non-blocking flag is shared); giving the file back
//! as a std file turns blocking mode on again.

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use super::fd::{Mode, NetFd};
use crate::sys;

/// The parking side of a FIFO file.
pub(crate) struct Fifo(NetFd<std::fs::File>);

impl Fifo {
    /// Some if `f` is a pipe or FIFO (and could be made non-blocking).
    pub(crate) fn detect(f: &std::fs::File) -> Option<Fifo> {
        if !sys::is_fifo(f.as_fd()) {
            return None;
        }
        let dup = f.try_clone().ok()?;
        sys::set_nonblocking(dup.as_fd(), true).ok()?;
        Some(Fifo(NetFd::new(dup)))
    }

    /// Back to blocking mode, for a std file that leaves gort.
    pub(crate) fn release(self) {
        let _ = sys::set_nonblocking(self.0.sock().as_fd(), false);
    }
}

impl Read for &Fifo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.io(Mode::Read, |mut f| f.read(buf))
    }
}

impl Write for &Fifo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.io(Mode::Write, |mut f| f.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for Fifo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fifo")
    }
}
