//! gort-benches — the benchmark workloads (docs/PERFORMANCE.md), for gort.
//!
//! Each workload is one binary in `src/bin/` named `w<N>_<name>.rs` (W1 spawn
//! is `w1_spawn`). A workload binary takes its P from the `GOMAXPROCS`
//! environment variable (the runtime reads it once at start), runs the
//! workload once, checks the result, and prints one [`Line`] per figure:
//!
//! ```text
//! name=W1 p=2 value=123.45 unit=ns_per_task
//! ```
//!
//! A failed check prints the reason on stderr and exits non-zero without a
//! number ([`fail`]). The driver, `src/bin/bench/`, runs the binaries in
//! fresh processes for each P the workload runs with and prints medians.
//!
//! This library holds what the workloads and the driver share: the output
//! line (printed by workloads, parsed by the driver), the unit of CPU work of
//! W7/W8/W11, the peak-RSS reading of W5, the thread-count watcher of W8/W11,
//! and the failure path.
//!
//! # Rules every workload binary follows
//! - The clock ([`std::time::Instant`]) starts just before the first spawn and
//!   stops just after the last join; set-up (allocating the handle vector,
//!   computing a reference value) happens before it starts.
//! - Results go through [`std::hint::black_box`] so no work is optimised away.
//! - The check runs before anything is printed on stdout.

#![forbid(unsafe_code)]

use std::fmt;
use std::hint::black_box;
use std::io;
use std::str::FromStr;

/// Steps of xorshift64 in one unit of CPU work (W7).
pub const XORSHIFT_STEPS: u32 = 20_000;

/// The seed every W7 task starts its unit of work from. Any non-zero value
/// works (xorshift64 maps 0 to 0); one fixed seed lets a single reference
/// value check all T results.
pub const XORSHIFT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// One unit of integer work (W7): [`XORSHIFT_STEPS`] steps of xorshift64 on
/// a black-boxed value, black-boxing each step. About 40 µs on the reference
/// 2-core machine. Returns the final value so the caller can check it.
///
/// ```
/// use gort_benches::xorshift_unit;
/// assert_eq!(xorshift_unit(1), xorshift_unit(1));
/// assert_ne!(xorshift_unit(1), 1);
/// ```
#[inline(never)]
pub fn xorshift_unit(seed: u64) -> u64 {
    let mut x = black_box(seed);
    for _ in 0..XORSHIFT_STEPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = black_box(x);
    }
    x
}

/// One measured figure, in the suite's output format:
/// `name=<workload> p=<P> value=<number> unit=<unit>`.
///
/// ```
/// use gort_benches::Line;
/// let l: Line = "name=W7 p=2 value=201.5 unit=ms_total".parse().unwrap();
/// assert_eq!((l.name.as_str(), l.p, l.value, l.unit.as_str()), ("W7", 2, 201.5, "ms_total"));
/// assert_eq!(l.to_string(), "name=W7 p=2 value=201.500 unit=ms_total");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Workload id: `W1`, `W2`, ...
    pub name: String,
    /// The number of Ps the workload ran with (what the runtime reports).
    pub p: usize,
    /// The figure.
    pub value: f64,
    /// What the figure measures: `ns_per_task`, `ms_total`, ...
    pub unit: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "name={} p={} value={:.3} unit={}",
            self.name, self.p, self.value, self.unit
        )
    }
}

/// Why a line of output is not a [`Line`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseLineError(String);

impl fmt::Display for ParseLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a `name= p= value= unit=` line: {}", self.0)
    }
}

impl std::error::Error for ParseLineError {}

impl FromStr for Line {
    type Err = ParseLineError;

    fn from_str(s: &str) -> Result<Line, ParseLineError> {
        let err = |why: &str| ParseLineError(format!("{why} in {s:?}"));
        let mut fields = s.split_whitespace();
        let mut field = |key: &str| {
            fields
                .next()
                .and_then(|kv| kv.strip_prefix(key))
                .and_then(|v| v.strip_prefix('='))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| err(&format!("missing `{key}=`")))
        };
        let name = field("name")?.to_string();
        let p = field("p")?.parse().map_err(|_| err("bad p"))?;
        let value: f64 = field("value")?.parse().map_err(|_| err("bad value"))?;
        let unit = field("unit")?.to_string();
        if !value.is_finite() {
            return Err(err("value is not finite"));
        }
        if fields.next().is_some() {
            return Err(err("trailing fields"));
        }
        Ok(Line {
            name,
            p,
            value,
            unit,
        })
    }
}

/// Prints one figure on stdout in the suite's format. Call it only after the
/// workload's check passed.
pub fn report(name: &str, p: usize, value: f64, unit: &str) {
    let line = Line {
        name: name.to_string(),
        p,
        value,
        unit: unit.to_string(),
    };
    println!("{line}");
}

/// A failed check: says why on stderr and exits with status 1, so no number
/// is ever printed for a wrong run.
pub fn fail(name: &str, why: impl fmt::Display) -> ! {
    eprintln!("{name}: check failed: {why}");
    std::process::exit(1)
}

/// Fails the workload unless `ok`.
pub fn check(name: &str, ok: bool, why: impl FnOnce() -> String) {
    if !ok {
        fail(name, why());
    }
}

/// The process's peak resident set size in bytes (`VmHWM` of
/// `/proc/self/status`). W5 reads it before and after the workload.
pub fn vm_hwm_bytes() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_vm_hwm(&status).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no `VmHWM: <n> kB` line in /proc/self/status",
        )
    })
}

/// Parses the `VmHWM:   1234 kB` line of a `/proc/<pid>/status` text.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut words = line["VmHWM:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(kib * 1024)
}

/// P for a peer (may, tokio): `GOMAXPROCS` as the driver sets it, else
/// the machine's available parallelism (what gort and Go do).
pub fn procs_from_env() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n: &usize| n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The `q` quantile (0..=1) of sorted `v`, nearest rank, in milliseconds.
pub fn quantile_ms(v: &[std::time::Duration], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1].as_secs_f64() * 1e3
}

/// User + system CPU time of this process so far, in milliseconds
/// (/proc/self/stat fields 14 and 15, 10 ms ticks).
pub fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // f[0] is field 3 (state): utime, stime are fields 14, 15.
    (tick(11) + tick(12)) * 10
}

/// The process's thread count (`Threads:` of /proc/self/status).
pub fn os_threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The watcher of W8 (for the peers) and W11: samples [`os_threads`] on a
/// plain thread until [`ThreadPeak::finish`], which returns the peak.
pub struct ThreadPeak {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<usize>,
}

impl ThreadPeak {
    /// Starts sampling every 1 ms (W8); the first sample is taken before
    /// this returns.
    pub fn start() -> ThreadPeak {
        ThreadPeak::every(std::time::Duration::from_millis(1))
    }

    /// Starts sampling every `period`; the first sample is taken before this
    /// returns.
    pub fn every(period: std::time::Duration) -> ThreadPeak {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let first = std::sync::Arc::new(AtomicBool::new(false));
        let (st, fi) = (stop.clone(), first.clone());
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                let last = st.load(SeqCst);
                peak = peak.max(os_threads());
                fi.store(true, SeqCst);
                if last {
                    return peak;
                }
                std::thread::sleep(period);
            }
        });
        while !first.load(SeqCst) {
            std::thread::yield_now();
        }
        ThreadPeak { stop, thread }
    }

    /// Stops sampling (after one last sample); the peak thread count.
    pub fn finish(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap_or(0)
    }
}

/// W10's K sleep durations: xorshift64 from seed 42, one step per task,
/// uniform in [0, 100) ms at microsecond resolution.
pub fn w10_durations(k: usize) -> Vec<std::time::Duration> {
    let mut x: u64 = 42;
    (0..k)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            std::time::Duration::from_micros(x % 100_000)
        })
        .collect()
}

/// W11's hogs: N = 1,000 tasks, each running [`W11_UNITS`] of W7's unit.
pub const W11_HOGS: usize = 1_000;

/// Units of W7's work in one W11 hog (about 20 ms on the reference machine).
pub const W11_UNITS: usize = 500;

/// One W11 hog: [`W11_UNITS`] of W7's unit ([`xorshift_unit`]), each seeded
/// with the previous one's result, the first with [`XORSHIFT_SEED`]; returns
/// the last result, so one wrong unit shows in the value.
pub fn w11_hog() -> u64 {
    (0..W11_UNITS).fold(XORSHIFT_SEED, |x, _| xorshift_unit(x))
}

/// W9's 64-byte message of client `c` in round `r` (a stale or crossed echo
/// differs).
pub fn echo_message(c: u64, r: u64) -> [u8; 64] {
    let mut m = [0u8; 64];
    m[..8].copy_from_slice(&c.to_le_bytes());
    m[8..16].copy_from_slice(&r.to_le_bytes());
    for (i, b) in m[16..].iter_mut().enumerate() {
        *b = (c as u8).wrapping_mul(31) ^ (r as u8).wrapping_add(i as u8);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trips() {
        let l = Line {
            name: "W1".into(),
            p: 1,
            value: 97.25,
            unit: "ns_per_task".into(),
        };
        assert_eq!(l.to_string().parse::<Line>(), Ok(l));
    }

    #[test]
    fn line_rejects_garbage() {
        for bad in [
            "",
            "hello",
            "name=W1 p=x value=1 unit=ms_total",
            "name=W1 p=1 value=NaN unit=ms_total",
            "name=W1 p=1 value=1",
            "name=W1 p=1 value=1 unit=ms extra",
            "p=1 name=W1 value=1 unit=ms_total",
        ] {
            assert!(bad.parse::<Line>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn vm_hwm_parses_and_is_positive() {
        assert_eq!(
            parse_vm_hwm("Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t 1 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(parse_vm_hwm("VmRSS:\t 1 kB\n"), None);
        assert!(vm_hwm_bytes().expect("Linux has /proc/self/status") > 0);
    }

    #[test]
    fn xorshift_unit_is_deterministic_and_not_trivial() {
        let a = xorshift_unit(XORSHIFT_SEED);
        assert_eq!(a, xorshift_unit(XORSHIFT_SEED));
        assert_ne!(a, XORSHIFT_SEED);
        assert_ne!(a, 0);
    }
}

/// `GORT_BENCH_FLIGHT=1`: a running flight recorder (default window) for
/// the benchmark's lifetime, to measure what recording costs (W2, W3;
/// docs/PERFORMANCE.md). None otherwise.
pub fn flight_recorder_from_env() -> Option<gort::trace::FlightRecorder> {
    if std::env::var("GORT_BENCH_FLIGHT").as_deref() != Ok("1") {
        return None;
    }
    let mut fr = gort::trace::FlightRecorder::new(gort::trace::FlightRecorderConfig::default());
    match fr.start() {
        Ok(()) => Some(fr),
        Err(e) => fail("flight recorder", e),
    }
}
