//! flight — [`FlightRecorder`], Go 1.25's runtime/trace.FlightRecorder: the
//! scheduler's trace events of the last seconds kept in memory, written on
//! demand ("dump what happened when the p99 spiked") as the same Chrome /
//! Perfetto JSON as `GORT_TRACE`.
//!
//! It records with the tracer's machinery (diag/trace.rs: one ring per
//! thread, no lock per event, diag/trace_buf.rs) in a session of its own;
//! each time a thread's ring fills and is moved into a chunk, that
//! thread's chunks are trimmed: those whose events are all older than
//! `min_age` go first, and the oldest go whatever their age while the
//! thread holds more than its share of `max_bytes` (which wins, as in Go;
//! a thread's ring of the last 256 events is always kept).
//! `write_to` copies the buffers (recording goes on) and writes the window.
//!
//! A flight recorder and a `gort::trace::start` trace are one session: only
//! one of them records at a time.

#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::trace::{self, Rec};
use super::trace_buf::{Spill, Words, RING};
use super::trace_clock::{self, Converter};

/// Limits of the window, while a flight recorder runs (0: none runs).
/// Relaxed: settings read by each trim; a trim with stale ones keeps a
/// little more or less.
static MIN_AGE_NS: AtomicU64 = AtomicU64::new(0);
static MAX_BYTES: AtomicUsize = AtomicUsize::new(0);

/// How much of the last moments a [`FlightRecorder`] keeps (Go's
/// `FlightRecorderConfig`).
///
/// ```
/// let c = gort::trace::FlightRecorderConfig::default();
/// assert_eq!(c.min_age, std::time::Duration::from_secs(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlightRecorderConfig {
    /// Keep at least the events this recent (unless `max_bytes` says no).
    pub min_age: Duration,
    /// Keep at most about this many bytes of events (32 bytes each), over
    /// all threads; each recording thread keeps its last 256 events
    /// (8 KiB) whatever this says.
    pub max_bytes: usize,
}

impl Default for FlightRecorderConfig {
    /// 10 seconds and 16 MiB (some 500,000 events of 32 bytes).
    fn default() -> Self {
        FlightRecorderConfig {
            min_age: Duration::from_secs(10),
            max_bytes: 16 << 20,
        }
    }
}

/// Keeps the last moments of the scheduler's trace in memory (Go's
/// `trace.FlightRecorder`).
///
/// ```
/// use gort::trace::{FlightRecorder, FlightRecorderConfig};
///
/// let mut fr = FlightRecorder::new(FlightRecorderConfig::default());
/// fr.start().unwrap();
/// gort::go!(|| (0..1000u64).sum::<u64>()).join().unwrap();
/// let mut json = Vec::new();
/// fr.write_to(&mut json).unwrap(); // recording goes on
/// fr.stop();
/// assert!(String::from_utf8(json).unwrap().contains("\"traceEvents\""));
/// ```
#[derive(Debug)]
pub struct FlightRecorder {
    config: FlightRecorderConfig,
    running: bool,
}

impl FlightRecorder {
    /// A stopped recorder with `config`.
    pub fn new(config: FlightRecorderConfig) -> FlightRecorder {
        FlightRecorder {
            config,
            running: false,
        }
    }

    /// Starts recording. Fails if a trace or another flight recorder is
    /// recording (`AlreadyExists`).
    ///
    /// ```
    /// use gort::trace::{FlightRecorder, FlightRecorderConfig};
    /// let mut a = FlightRecorder::new(FlightRecorderConfig::default());
    /// a.start().unwrap();
    /// let mut b = FlightRecorder::new(FlightRecorderConfig::default());
    /// assert_eq!(b.start().unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    /// a.stop();
    /// ```
    pub fn start(&mut self) -> io::Result<()> {
        if self.running {
            return Ok(());
        }
        let _ = crate::sched::sched();
        MIN_AGE_NS.store(
            u64::try_from(self.config.min_age.as_nanos())
                .unwrap_or(u64::MAX)
                .max(1),
            Ordering::Relaxed,
        );
        MAX_BYTES.store(self.config.max_bytes.max(1), Ordering::Relaxed);
        // The empty path marks the session as a flight recorder's.
        if let Err(e) = trace::start_session(Path::new("")) {
            MIN_AGE_NS.store(0, Ordering::Relaxed);
            return Err(e);
        }
        self.running = true;
        Ok(())
    }

    /// Stops recording and drops the window.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        trace::ON.store(false, Ordering::Relaxed);
        *trace::SESSION.lock() = None;
        MIN_AGE_NS.store(0, Ordering::Relaxed);
        for b in trace::BUFS.lock().iter() {
            b.clear();
        }
    }

    /// True while recording.
    pub fn enabled(&self) -> bool {
        self.running
    }

    /// Writes the window (the last `min_age`, within `max_bytes`) as trace
    /// JSON; recording goes on. Returns the bytes written. Fails if the
    /// recorder is not running, or with `w`'s error.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<u64> {
        if !self.running {
            return Err(io::Error::other("gort: the flight recorder is not running"));
        }
        let gen = trace::SESSION.lock().as_ref().map_or(0, |s| s.gen);
        let end_ns = trace::now_ns();
        let conv = Converter::now();
        // Chunks are trimmed whole, and a thread that went idle has not
        // trimmed since: the window is cut here, to the event.
        let from = end_ns.saturating_sub(MIN_AGE_NS.load(Ordering::Relaxed));
        let per_thread: Vec<Vec<Rec>> = trace::BUFS
            .lock()
            .iter()
            .map(|b| {
                let mut recs = trace::session_recs(b, gen, false, &conv);
                recs.retain(|r| r.ts >= from);
                recs
            })
            .filter(|v: &Vec<Rec>| !v.is_empty())
            .collect();
        let start_ns = per_thread
            .iter()
            .filter_map(|v| v.first())
            .map(|r| r.ts)
            .min()
            .unwrap_or(end_ns);
        let (json, _) = super::trace_export::export(
            &per_thread,
            start_ns,
            end_ns,
            Path::new("<flight recorder>"),
        );
        w.write_all(json.as_bytes())?;
        Ok(json.len() as u64)
    }
}

impl Drop for FlightRecorder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Called by a thread's buffer each time its ring has moved into a chunk
/// (`spill`, under the buffer's lock): drops the chunks outside the window
/// while a flight recorder runs (module header).
pub(super) fn trim(spill: &mut Spill) {
    let min_age = MIN_AGE_NS.load(Ordering::Relaxed);
    if min_age == 0 {
        return;
    }
    // One clock reading per ring of events.
    let conv = Converter::now();
    let oldest_kept = trace_clock::ticks().saturating_sub(conv.ticks_in(min_age));
    while spill.oldest_chunk_end().is_some_and(|t| t < oldest_kept) {
        spill.drop_oldest();
    }
    // The ring (RING more events) counts in the thread's share, and is
    // all a thread keeps when its share is smaller.
    let threads = trace::BUFS_LEN.load(Ordering::Relaxed).max(1);
    let share = MAX_BYTES.load(Ordering::Relaxed) / std::mem::size_of::<Words>() / threads;
    while spill.len() > 0 && spill.len() + RING > share {
        spill.drop_oldest();
    }
}
