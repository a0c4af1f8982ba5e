//! copy — [`copy`] (Go's `io.Copy`) between two descriptors: with a pipe on
//! either side the bytes move inside the kernel (splice(2), as Go's
//! `*os.File` ReadFrom/WriteTo do on Linux), else through a buffer. Waiting
//! is the ends' own: when splice finds nothing to move, one buffered step
//! reads (parking until the source has data) and writes (parking while the
//! destination is full), then splicing resumes.

#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use crate::sys;

/// Bytes per splice call and per buffered step (Go's io.Copy uses 32 KiB;
/// a pipe holds 64 KiB by default).
const CHUNK: usize = 64 * 1024;

/// Copies everything `r` yields until end of file into `w` (Go's
/// `io.Copy`); returns the byte count. For readers and writers that are not
/// descriptors, `std::io::copy` works with gort's types too.
///
/// ```
/// use std::io::{Read, Write};
/// let (mut r1, mut w1) = gort::io::pipe().unwrap();
/// let (mut r2, mut w2) = gort::io::pipe().unwrap();
/// gort::go!(move || {
///     w1.write_all(&[7u8; 100_000]).unwrap();
/// });
/// let copier = gort::go!(move || gort::io::copy(&mut r1, &mut w2).unwrap());
/// let mut got = Vec::new();
/// r2.read_to_end(&mut got).unwrap();
/// assert_eq!(copier.join().unwrap(), 100_000);
/// assert!(got.len() == 100_000 && got.iter().all(|&b| b == 7));
/// ```
pub fn copy<R, W>(r: &mut R, w: &mut W) -> io::Result<u64>
where
    R: Read + AsFd + ?Sized,
    W: Write + AsFd + ?Sized,
{
    let spliceable = sys::is_fifo(r.as_fd()) || sys::is_fifo(w.as_fd());
    let mut buf = Vec::new();
    let mut total = 0u64;
    loop {
        if spliceable {
            match sys::splice(r.as_fd(), w.as_fd(), CHUNK) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total += n as u64;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                Err(_) => {}
            }
        }
        // One buffered step: parks on whichever side is not ready.
        buf.resize(CHUNK, 0);
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}
