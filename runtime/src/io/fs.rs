//! fs — the common `std::fs` calls for goroutines: each one runs through
//! [`crate::sched::syscall::blocking`] (Go's entersyscall/exitsyscall), so a slow
//! disk, an NFS mount or a FIFO with no writer blocks only the calling
//! goroutine and its thread, not the goroutines queued on its P.
//!
//! A `File` that is a FIFO or a pipe is the exception: once open, its reads
//! and writes park the goroutine in the netpoller instead (io/fifo.rs).
//!
//! Same names, signatures and errors as `std::fs`: every error is std's own
//! [`io::Error`] (its kind and OS code unchanged); data types that make no
//! system call ([`Metadata`], [`FileType`], [`Permissions`]) are std's,
//! re-exported. On a plain thread everything just calls std.
//!
//! # Who calls what
//! The free functions and every method that reaches the kernel (open, read,
//! write, seek, metadata, sync, set_len, each step of a directory listing)
//! wrap exactly one std call in one `blocking`. [`Read::read_exact`],
//! [`Read::read_to_end`] and [`Write::write_all`] are overridden to make their
//! whole loop one blocking call instead of one per chunk. The cost of the
//! wrapper on the fast path (the call returned before sysmon looked) is two
//! atomics on the P; see docs/BLOCKING.md and benches `blocking_noop`.
//!
//! # Go names
//! os.ReadFile -> [`read`], os.WriteFile -> [`write()`], os.Stat -> [`metadata`],
//! os.ReadDir -> [`read_dir`], os.MkdirAll -> [`create_dir_all`], os.Remove ->
//! [`remove_file`], os.Rename -> [`rename`], os.Open / os.Create / os.OpenFile
//! -> [`File::open`] / [`File::create`] / [`OpenOptions::open`].
//!
//! # Rejected
//! tokio's way (`tokio::fs`: ship each call to a pool of blocking threads and
//! await it) costs a thread hop and buffer copies per call. Go's way, used
//! here, lets the goroutine's own M make the call and moves the *other*
//! goroutines instead, by handing the P to another M only when the call is
//! slow. Plain `std::fs` inside a goroutine still works (sysmon catches the
//! stuck M, sched/sysmon.rs), but only after a couple of milliseconds, not one tick.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use super::fifo::Fifo;

pub use std::fs::{FileType, Metadata, Permissions};

use crate::sched::syscall::blocking;

/// Reads a whole file into a `Vec<u8>` (Go's `os.ReadFile`; std's
/// [`std::fs::read`]).
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-doc-read-{}", std::process::id()));
/// std::fs::write(&path, b"gopher").unwrap();
/// let p = path.clone();
/// let bytes = gort::go!(move || gort::fs::read(&p)).join().unwrap().unwrap();
/// assert_eq!(bytes, b"gopher");
/// std::fs::remove_file(&path).unwrap();
/// ```
#[doc(alias = "ReadFile")]
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    blocking(|| std::fs::read(path))
}

/// Reads a whole file into a `String` (std's [`std::fs::read_to_string`]).
/// Invalid UTF-8 is an [`io::ErrorKind::InvalidData`] error.
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-doc-rts-{}", std::process::id()));
/// gort::fs::write(&path, "hello, fs").unwrap();
/// assert_eq!(gort::fs::read_to_string(&path).unwrap(), "hello, fs");
/// gort::fs::remove_file(&path).unwrap();
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let path = path.as_ref();
    blocking(|| std::fs::read_to_string(path))
}

/// Creates or truncates a file and writes `contents` to it (Go's
/// `os.WriteFile`; std's [`std::fs::write`]).
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-doc-write-{}", std::process::id()));
/// let p = path.clone();
/// gort::go!(move || gort::fs::write(&p, b"42")).join().unwrap().unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"42");
/// std::fs::remove_file(&path).unwrap();
/// ```
#[doc(alias = "WriteFile")]
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let (path, contents) = (path.as_ref(), contents.as_ref());
    blocking(|| std::fs::write(path, contents))
}

/// The metadata of a file or directory, following symlinks (Go's `os.Stat`;
/// std's [`std::fs::metadata`]).
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-doc-meta-{}", std::process::id()));
/// gort::fs::write(&path, [0u8; 10]).unwrap();
/// let m = gort::fs::metadata(&path).unwrap();
/// assert!(m.is_file());
/// assert_eq!(m.len(), 10);
/// gort::fs::remove_file(&path).unwrap();
/// ```
#[doc(alias = "Stat")]
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    blocking(|| std::fs::metadata(path))
}

/// The metadata of a path without following a final symlink (Go's
/// `os.Lstat`; std's [`std::fs::symlink_metadata`]).
///
/// ```
/// let dir = std::env::temp_dir();
/// assert!(gort::fs::symlink_metadata(&dir).is_ok());
/// ```
#[doc(alias = "Lstat")]
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    blocking(|| std::fs::symlink_metadata(path))
}

/// Lists a directory (std's [`std::fs::read_dir`]; Go's `os.ReadDir`, which
/// also sorts: collect and sort if you need an order). Opening the directory
/// is one blocking call, and so is each step of the iteration.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("gort-doc-readdir-{}", std::process::id()));
/// gort::fs::create_dir_all(&dir).unwrap();
/// gort::fs::write(dir.join("a"), "").unwrap();
/// gort::fs::write(dir.join("b"), "").unwrap();
/// let mut names: Vec<_> = gort::fs::read_dir(&dir)
///     .unwrap()
///     .map(|e| e.unwrap().file_name())
///     .collect();
/// names.sort();
/// assert_eq!(names, ["a", "b"]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[doc(alias = "ReadDir")]
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let path = path.as_ref();
    blocking(|| std::fs::read_dir(path)).map(ReadDir)
}

/// Creates a directory (std's [`std::fs::create_dir`]; Go's `os.Mkdir`). Its
/// parent must exist; an existing path is [`io::ErrorKind::AlreadyExists`].
///
/// ```
/// let dir = std::env::temp_dir().join(format!("gort-doc-mkdir-{}", std::process::id()));
/// gort::fs::create_dir(&dir).unwrap();
/// let err = gort::fs::create_dir(&dir).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
/// gort::fs::remove_dir(&dir).unwrap();
/// ```
#[doc(alias = "Mkdir")]
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::create_dir(path))
}

/// Creates a directory and any missing parents (Go's `os.MkdirAll`; std's
/// [`std::fs::create_dir_all`]). An existing directory is not an error.
///
/// ```
/// let root = std::env::temp_dir().join(format!("gort-doc-mkdirall-{}", std::process::id()));
/// let deep = root.join("a/b/c");
/// gort::fs::create_dir_all(&deep).unwrap();
/// gort::fs::create_dir_all(&deep).unwrap(); // already there: fine
/// assert!(gort::fs::metadata(&deep).unwrap().is_dir());
/// gort::fs::remove_dir_all(&root).unwrap();
/// ```
#[doc(alias = "MkdirAll")]
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::create_dir_all(path))
}

/// Removes a file (std's [`std::fs::remove_file`]; Go's `os.Remove` on a
/// file). A missing file is [`io::ErrorKind::NotFound`].
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-doc-rm-{}", std::process::id()));
/// gort::fs::write(&path, "x").unwrap();
/// gort::fs::remove_file(&path).unwrap();
/// let err = gort::fs::remove_file(&path).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// ```
#[doc(alias = "Remove")]
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_file(path))
}

/// Removes an empty directory (std's [`std::fs::remove_dir`]).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("gort-doc-rmdir-{}", std::process::id()));
/// gort::fs::create_dir(&dir).unwrap();
/// gort::fs::remove_dir(&dir).unwrap();
/// assert!(gort::fs::metadata(&dir).is_err());
/// ```
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_dir(path))
}

/// Removes a directory and everything in it (Go's `os.RemoveAll`; std's
/// [`std::fs::remove_dir_all`]). The whole walk is one blocking call.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("gort-doc-rmall-{}", std::process::id()));
/// gort::fs::create_dir_all(dir.join("x/y")).unwrap();
/// gort::fs::write(dir.join("x/y/z"), "z").unwrap();
/// gort::fs::remove_dir_all(&dir).unwrap();
/// assert!(gort::fs::metadata(&dir).is_err());
/// ```
#[doc(alias = "RemoveAll")]
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_dir_all(path))
}

/// Renames `from` to `to`, replacing `to` if it is a file (Go's `os.Rename`;
/// std's [`std::fs::rename`]).
///
/// ```
/// let dir = std::env::temp_dir();
/// let (a, b) = (
///     dir.join(format!("gort-doc-mv-a-{}", std::process::id())),
///     dir.join(format!("gort-doc-mv-b-{}", std::process::id())),
/// );
/// gort::fs::write(&a, "moved").unwrap();
/// gort::fs::rename(&a, &b).unwrap();
/// assert_eq!(gort::fs::read_to_string(&b).unwrap(), "moved");
/// assert!(gort::fs::metadata(&a).is_err());
/// gort::fs::remove_file(&b).unwrap();
/// ```
#[doc(alias = "Rename")]
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| std::fs::rename(from, to))
}

/// Copies a file's contents and permissions; returns the bytes copied (std's
/// [`std::fs::copy`]). The whole copy is one blocking call.
///
/// ```
/// let dir = std::env::temp_dir();
/// let (a, b) = (
///     dir.join(format!("gort-doc-cp-a-{}", std::process::id())),
///     dir.join(format!("gort-doc-cp-b-{}", std::process::id())),
/// );
/// gort::fs::write(&a, "twice").unwrap();
/// assert_eq!(gort::fs::copy(&a, &b).unwrap(), 5);
/// assert_eq!(gort::fs::read(&b).unwrap(), b"twice");
/// gort::fs::remove_file(&a).unwrap();
/// gort::fs::remove_file(&b).unwrap();
/// ```
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| std::fs::copy(from, to))
}

/// The absolute path with every symlink resolved (std's
/// [`std::fs::canonicalize`]; Go's `filepath.EvalSymlinks` on an absolute path).
///
/// ```
/// let p = gort::fs::canonicalize(".").unwrap();
/// assert!(p.is_absolute());
/// ```
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    blocking(|| std::fs::canonicalize(path))
}

/// An iterator over a directory's entries, from [`read_dir`]. Each `next`
/// (a `getdents64` when std's buffer runs dry) is one blocking call.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("gort-doc-readdir-it-{}", std::process::id()));
/// gort::fs::create_dir_all(&dir).unwrap();
/// gort::fs::write(dir.join("only"), "").unwrap();
/// let mut it: gort::fs::ReadDir = gort::fs::read_dir(&dir).unwrap();
/// assert_eq!(it.next().unwrap().unwrap().file_name(), "only");
/// assert!(it.next().is_none());
/// gort::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct ReadDir(std::fs::ReadDir);

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        let inner = &mut self.0;
        blocking(|| inner.next()).map(|r| r.map(DirEntry))
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One entry of a [`ReadDir`] listing (std's [`std::fs::DirEntry`], with the
/// calls that may reach the kernel made through `blocking`).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("gort-doc-direntry-{}", std::process::id()));
/// gort::fs::create_dir_all(&dir).unwrap();
/// gort::fs::write(dir.join("f.txt"), "abc").unwrap();
/// for entry in gort::fs::read_dir(&dir).unwrap() {
///     let e: gort::fs::DirEntry = entry.unwrap();
///     assert_eq!(e.file_name(), "f.txt");
///     assert_eq!(e.metadata().unwrap().len(), 3);
/// }
/// gort::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct DirEntry(std::fs::DirEntry);

impl DirEntry {
    /// The full path: the listed directory joined with [`DirEntry::file_name`].
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("gort-doc-dpath-{}", std::process::id()));
    /// gort::fs::create_dir_all(&dir).unwrap();
    /// gort::fs::write(dir.join("x"), "").unwrap();
    /// let e = gort::fs::read_dir(&dir).unwrap().next().unwrap().unwrap();
    /// assert_eq!(e.path(), dir.join("x"));
    /// gort::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's name, without its directory.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("gort-doc-dname-{}", std::process::id()));
    /// gort::fs::create_dir_all(dir.join("sub")).unwrap();
    /// let e = gort::fs::read_dir(&dir).unwrap().next().unwrap().unwrap();
    /// assert_eq!(e.file_name(), "sub");
    /// gort::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's metadata, not following a final symlink (an `fstatat`).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("gort-doc-dmeta-{}", std::process::id()));
    /// gort::fs::create_dir_all(&dir).unwrap();
    /// gort::fs::write(dir.join("five"), "12345").unwrap();
    /// let e = gort::fs::read_dir(&dir).unwrap().next().unwrap().unwrap();
    /// let m = e.metadata().unwrap();
    /// assert!(m.is_file());
    /// assert_eq!(m.len(), 5);
    /// gort::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        let e = &self.0;
        blocking(|| e.metadata())
    }

    /// The entry's type, not following symlinks. Usually known from the
    /// listing itself; on file systems that do not say, an `fstatat`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("gort-doc-ftype-{}", std::process::id()));
    /// gort::fs::create_dir_all(dir.join("sub")).unwrap();
    /// let e = gort::fs::read_dir(&dir).unwrap().next().unwrap().unwrap();
    /// assert!(e.file_type().unwrap().is_dir());
    /// assert_eq!(e.path(), dir.join("sub"));
    /// gort::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn file_type(&self) -> io::Result<FileType> {
        let e = &self.0;
        blocking(|| e.file_type())
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An open file (std's [`std::fs::File`], Go's `*os.File`): every operation
/// is a blocking call. [`Read`], [`Write`] and [`Seek`] are implemented for
/// `File` and for `&File`, as in std, so a shared file can be read through a
/// reference. Dropping it closes the descriptor (`close` is not wrapped: it
/// does not wait for the disk).
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
///
/// let path = std::env::temp_dir().join(format!("gort-doc-file-{}", std::process::id()));
/// let p = path.clone();
/// let text = gort::go!(move || -> std::io::Result<String> {
///     let mut f = gort::fs::File::create(&p)?;
///     f.write_all(b"hello, file")?;
///     f.sync_all()?;
///     let mut f = gort::fs::File::open(&p)?;
///     f.seek(SeekFrom::Start(7))?;
///     let mut s = String::new();
///     f.read_to_string(&mut s)?;
///     Ok(s)
/// })
/// .join()
/// .unwrap()
/// .unwrap();
/// assert_eq!(text, "file");
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct File {
    inner: std::fs::File,
    /// Set for a FIFO or pipe: reads and writes park (io/fifo.rs).
    fifo: Option<Fifo>,
}

impl File {
    /// Opens a file read-only (Go's `os.Open`; std's [`std::fs::File::open`]).
    ///
    /// ```
    /// let err = gort::fs::File::open("/nonexistent/gort").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    #[doc(alias = "Open")]
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens a file write-only, creating it or truncating it (Go's
    /// `os.Create`; std's [`std::fs::File::create`]).
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("gort-doc-create-{}", std::process::id()));
    /// let mut f = gort::fs::File::create(&path).unwrap();
    /// f.write_all(b"new").unwrap();
    /// drop(f);
    /// assert_eq!(gort::fs::read(&path).unwrap(), b"new");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    #[doc(alias = "Create")]
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates a new file read-write; fails with
    /// [`io::ErrorKind::AlreadyExists`] if it exists (std's
    /// [`std::fs::File::create_new`]).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-cnew-{}", std::process::id()));
    /// let _f = gort::fs::File::create_new(&path).unwrap();
    /// let err = gort::fs::File::create_new(&path).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// A blank [`OpenOptions`] (Go's `os.OpenFile` flags; std's
    /// [`std::fs::File::options`]).
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("gort-doc-opts-{}", std::process::id()));
    /// gort::fs::write(&path, "a").unwrap();
    /// let mut f = gort::fs::File::options().append(true).open(&path).unwrap();
    /// f.write_all(b"b").unwrap();
    /// assert_eq!(gort::fs::read_to_string(&path).unwrap(), "ab");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// The file's metadata (an `fstat`).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-fmeta-{}", std::process::id()));
    /// gort::fs::write(&path, "1234").unwrap();
    /// let f = gort::fs::File::open(&path).unwrap();
    /// assert_eq!(f.metadata().unwrap().len(), 4);
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    #[doc(alias = "Stat")]
    pub fn metadata(&self) -> io::Result<Metadata> {
        let f = &self.inner;
        blocking(|| f.metadata())
    }

    /// Waits until the file's data and metadata are on the device (`fsync`;
    /// Go's `(*os.File).Sync`). This is the call most likely to take long.
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("gort-doc-sync-{}", std::process::id()));
    /// let mut f = gort::fs::File::create(&path).unwrap();
    /// f.write_all(b"durable").unwrap();
    /// f.sync_all().unwrap();
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    #[doc(alias = "Sync")]
    pub fn sync_all(&self) -> io::Result<()> {
        let f = &self.inner;
        blocking(|| f.sync_all())
    }

    /// Like [`File::sync_all`], without waiting for metadata that is not
    /// needed to read the data back (`fdatasync`).
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("gort-doc-syncdata-{}", std::process::id()));
    /// let mut f = gort::fs::File::create(&path).unwrap();
    /// f.write_all(b"data").unwrap();
    /// f.sync_data().unwrap();
    /// assert_eq!(gort::fs::read(&path).unwrap(), b"data");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        let f = &self.inner;
        blocking(|| f.sync_data())
    }

    /// Truncates or extends the file to `size` bytes (Go's
    /// `(*os.File).Truncate`; std's [`std::fs::File::set_len`]). The file
    /// must be open for writing.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-setlen-{}", std::process::id()));
    /// let f = gort::fs::File::create(&path).unwrap();
    /// f.set_len(4096).unwrap();
    /// assert_eq!(f.metadata().unwrap().len(), 4096);
    /// f.set_len(3).unwrap();
    /// assert_eq!(gort::fs::metadata(&path).unwrap().len(), 3);
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    #[doc(alias = "Truncate")]
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        let f = &self.inner;
        blocking(|| f.set_len(size))
    }

    /// Changes the file's permissions (`fchmod`).
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// let path = std::env::temp_dir().join(format!("gort-doc-chmod-{}", std::process::id()));
    /// let f = gort::fs::File::create(&path).unwrap();
    /// f.set_permissions(gort::fs::Permissions::from_mode(0o600)).unwrap();
    /// assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        let f = &self.inner;
        blocking(|| f.set_permissions(perm))
    }

    /// A second `File` for the same open file description (`dup`; offsets
    /// are shared).
    ///
    /// ```
    /// use std::io::{Read, Seek, SeekFrom};
    /// let path = std::env::temp_dir().join(format!("gort-doc-fclone-{}", std::process::id()));
    /// gort::fs::write(&path, "abcdef").unwrap();
    /// let mut a = gort::fs::File::open(&path).unwrap();
    /// let mut b = a.try_clone().unwrap();
    /// a.seek(SeekFrom::Start(4)).unwrap();
    /// let mut rest = String::new();
    /// b.read_to_string(&mut rest).unwrap(); // the offset is shared
    /// assert_eq!(rest, "ef");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        let f = &self.inner;
        blocking(|| f.try_clone()).map(File::from)
    }

    /// The std file inside, for APIs that want one. Calls on it are not
    /// announced to the scheduler.
    ///
    /// ```
    /// use std::io::Read;
    /// let path = std::env::temp_dir().join(format!("gort-doc-intostd-{}", std::process::id()));
    /// gort::fs::write(&path, "std").unwrap();
    /// let mut f: std::fs::File = gort::fs::File::open(&path).unwrap().into_std();
    /// let mut s = String::new();
    /// f.read_to_string(&mut s).unwrap();
    /// assert_eq!(s, "std");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn into_std(mut self) -> std::fs::File {
        if let Some(p) = self.fifo.take() {
            p.release();
        }
        self.inner
    }
}

impl From<std::fs::File> for File {
    /// Wraps an already open std file.
    fn from(inner: std::fs::File) -> File {
        let fifo = Fifo::detect(&inner);
        File { inner, fifo }
    }
}

impl From<File> for std::fs::File {
    fn from(f: File) -> std::fs::File {
        f.into_std()
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File::from(std::fs::File::from(fd))
    }
}

impl From<File> for OwnedFd {
    fn from(f: File) -> OwnedFd {
        f.into_std().into()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl IntoRawFd for File {
    fn into_raw_fd(self) -> RawFd {
        self.into_std().into_raw_fd()
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.read(buf);
        }
        let mut f = &self.inner;
        blocking(|| f.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.read_vectored(bufs);
        }
        let mut f = &self.inner;
        blocking(|| f.read_vectored(bufs))
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.read_exact(buf);
        }
        let mut f = &self.inner;
        blocking(|| f.read_exact(buf))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.read_to_end(buf);
        }
        let mut f = &self.inner;
        blocking(|| f.read_to_end(buf))
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.read_to_string(buf);
        }
        let mut f = &self.inner;
        blocking(|| f.read_to_string(buf))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        (&*self).read_exact(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.write(buf);
        }
        let mut f = &self.inner;
        blocking(|| f.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.write_vectored(bufs);
        }
        let mut f = &self.inner;
        blocking(|| f.write_vectored(bufs))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(mut p) = self.fifo.as_ref() {
            return p.write_all(buf);
        }
        let mut f = &self.inner;
        blocking(|| f.write_all(buf))
    }

    /// A no-op, as std's: a `File` has no user-space buffer (use
    /// [`File::sync_all`] to reach the disk).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let mut f = &self.inner;
        blocking(|| f.seek(pos))
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

/// How to open a file (std's [`std::fs::OpenOptions`], Go's `os.OpenFile`
/// flags); [`OpenOptions::open`] is the blocking call. Unix mode and custom
/// flags: [`std::os::unix::fs::OpenOptionsExt`] is implemented, or convert
/// from a std `OpenOptions`.
///
/// ```
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("gort-doc-oo-{}", std::process::id()));
/// let mut f = gort::fs::OpenOptions::new()
///     .read(true)
///     .write(true)
///     .create(true)
///     .truncate(true)
///     .open(&path)
///     .unwrap();
/// f.write_all(b"rw").unwrap();
/// let mut back = String::new();
/// (&f).read_to_string(&mut back).unwrap(); // at the end already
/// assert_eq!(back, "");
/// gort::fs::remove_file(&path).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// All options off (std's [`std::fs::OpenOptions::new`]).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-oonew-{}", std::process::id()));
    /// gort::fs::write(&path, "x").unwrap();
    /// // Every option off: no access mode, so the open fails.
    /// assert!(gort::fs::OpenOptions::new().open(&path).is_err());
    /// assert!(gort::fs::OpenOptions::new().read(true).open(&path).is_ok());
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    ///
    /// ```
    /// use std::io::Read;
    /// let path = std::env::temp_dir().join(format!("gort-doc-ooread-{}", std::process::id()));
    /// gort::fs::write(&path, "abc").unwrap();
    /// let mut f = gort::fs::OpenOptions::new().read(true).open(&path).unwrap();
    /// let mut s = String::new();
    /// f.read_to_string(&mut s).unwrap();
    /// assert_eq!(s, "abc");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Open for writing.
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("gort-doc-oowrite-{}", std::process::id()));
    /// gort::fs::write(&path, "abc").unwrap();
    /// let mut f = gort::fs::OpenOptions::new().write(true).open(&path).unwrap();
    /// f.write_all(b"X").unwrap(); // from the start, over what was there
    /// assert_eq!(gort::fs::read_to_string(&path).unwrap(), "Xbc");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Every write goes to the end (`O_APPEND`); implies write.
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("gort-doc-ooappend-{}", std::process::id()));
    /// gort::fs::write(&path, "log1\n").unwrap();
    /// let mut f = gort::fs::OpenOptions::new().append(true).open(&path).unwrap();
    /// f.write_all(b"log2\n").unwrap();
    /// assert_eq!(gort::fs::read_to_string(&path).unwrap(), "log1\nlog2\n");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncate to length 0 on open (`O_TRUNC`); needs write.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-ootrunc-{}", std::process::id()));
    /// gort::fs::write(&path, "old contents").unwrap();
    /// let f = gort::fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
    /// assert_eq!(f.metadata().unwrap().len(), 0);
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Create the file if missing (`O_CREAT`); needs write or append.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-oocreate-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// assert!(gort::fs::OpenOptions::new().write(true).open(&path).is_err()); // missing
    /// gort::fs::OpenOptions::new().write(true).create(true).open(&path).unwrap();
    /// assert!(gort::fs::metadata(&path).unwrap().is_file());
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Create the file, failing with [`io::ErrorKind::AlreadyExists`] if it
    /// exists (`O_CREAT | O_EXCL`); needs write or append.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-oocnew-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let mut o = gort::fs::OpenOptions::new();
    /// o.write(true).create_new(true);
    /// o.open(&path).unwrap();
    /// let err = o.open(&path).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// Opens `path` with these options: one blocking call (an `open` can wait
    /// a long time, e.g. on a FIFO until the other end opens).
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("gort-doc-ooopen-{}", std::process::id()));
    /// let p = path.clone();
    /// gort::go!(move || {
    ///     let mut opts = gort::fs::OpenOptions::new();
    ///     let mut f = opts.write(true).create(true).truncate(true).open(&p).unwrap();
    ///     f.write_all(b"from a goroutine").unwrap();
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(gort::fs::read_to_string(&path).unwrap(), "from a goroutine");
    /// gort::fs::remove_file(&path).unwrap();
    /// ```
    #[doc(alias = "OpenFile")]
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let (opts, path) = (&self.0, path.as_ref());
        blocking(|| opts.open(path)).map(File::from)
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    /// Keeps every option set on the std value, Unix ones included.
    fn from(o: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(o)
    }
}

impl std::os::unix::fs::OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.0.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom, Write};

    /// A fresh directory under the temp dir for one unit test.
    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gort-fs-unit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create scratch dir");
        d
    }

    #[test]
    fn file_and_ref_file_share_one_offset_on_a_plain_thread() {
        let d = scratch("offset");
        let path = d.join("f");
        let mut f = super::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        f.write_all(b"0123456789").unwrap();
        (&f).seek(SeekFrom::Start(2)).unwrap();
        let mut two = [0u8; 2];
        f.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"23");
        let mut rest = Vec::new();
        (&f).read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"456789");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn read_dir_lists_entries_with_their_types() {
        let d = scratch("readdir");
        super::create_dir(d.join("sub")).unwrap();
        super::write(d.join("file"), "x").unwrap();
        let mut seen: Vec<(String, bool)> = super::read_dir(&d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let dir = e.file_type().unwrap().is_dir();
                assert_eq!(e.metadata().unwrap().is_dir(), dir);
                (e.file_name().into_string().unwrap(), dir)
            })
            .collect();
        seen.sort();
        assert_eq!(seen, [("file".into(), false), ("sub".into(), true)]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
