//! gort-benches — the workloads of `../shared/BENCHMARKS.md`, for gort.
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
//! number ([`fail`]). The driver, `src/bin/bench.rs`, runs the binaries in
//! fresh processes for each P the spec asks for and prints medians.
//!
//! This library holds what the workloads and the driver share: the output
//! line (printed by workloads, parsed by the driver), the unit of CPU work of
//! W7/W8, the peak-RSS reading of W5, and the failure path.
//!
//! # Rules every workload binary follows (BENCHMARKS.md "Conventions")
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

/// Steps of xorshift64 in one unit of CPU work (BENCHMARKS.md W7).
pub const XORSHIFT_STEPS: u32 = 20_000;

/// The seed every W7 task starts its unit of work from. Any non-zero value
/// works (xorshift64 maps 0 to 0); one fixed seed lets a single reference
/// value check all T results.
pub const XORSHIFT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// One unit of integer work (BENCHMARKS.md W7): [`XORSHIFT_STEPS`] steps of
/// xorshift64 on a black-boxed value, black-boxing each step. About 40 µs on
/// the reference 2-core machine. Returns the final value so the caller can
/// check it.
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
    /// Workload id as in BENCHMARKS.md: `W1`, `W2`, ...
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
