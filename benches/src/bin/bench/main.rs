//! bench — runs the workload binaries of this package in fresh processes and
//! prints the medians:
//!
//! ```text
//! cargo run -p gort-benches --release --bin bench -- [--runs 5] [--only W1,W4]
//!     [--timeout 300] [--max-background 25] [--no-build]
//! ```
//!
//! (`bench` is the package's default binary, so `--bin bench` may be left out.)
//!
//! # What it does
//! 1. Finds the workloads: [`SUITE`] lists them (id, name, which P to run;
//!    docs/PERFORMANCE.md describes each); a workload is implemented for gort
//!    when `src/bin/w<N>_*.rs` exists. A selected workload without a binary is
//!    reported as such, never skipped in silence.
//! 2. Builds those binaries with `cargo build` in this binary's own profile
//!    (`cargo run --bin bench` builds only `bench`), so they come from the same
//!    target directory and the same `[profile.release]`. A debug build is
//!    refused: its numbers mean nothing.
//! 3. Runs every (workload, P) `--runs` times, round-robin (run 1 of every
//!    configuration, then run 2, ...) so slow drift of the machine spreads over
//!    all of them. Each run is a fresh process with `GOMAXPROCS=P`; its stdout
//!    must be only `name= p= value= unit=` lines with the expected name and P.
//!    A non-zero exit, a timeout or a malformed line fails that configuration
//!    (its remaining runs are skipped and the driver exits 1 at the end).
//!    A run during which other processes used more than `--max-background`
//!    percent of a core (busy time in `/proc/stat` minus the runs' and the
//!    driver's own CPU time, 10 ms resolution) is repeated, at most 3 times.
//! 4. Prints a Markdown table: the median of each figure, all run values, and
//!    derived figures (W7's speedup = median ms_total(P=1) / median
//!    ms_total(P=nproc)); then the machine's load average at start and end.
//!
//! # `compare`
//! `cargo run -p gort-benches --release -- compare [--runs 5] [--only W3,...]`
//! races gort against Go, may and tokio: see `compare.rs`. A [`Contender`]
//! is gort's set of binaries; the peers are `peer_may`, `peer_tokio` and
//! `benches/go` (built when `go` is on PATH).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gort_benches::Line;

mod compare;

/// Which P values a workload runs with.
#[derive(Clone, Copy, Debug)]
enum Procs {
    /// P = 1 only.
    One,
    /// P = all cores only.
    All,
    /// P = 1 and P = all cores.
    Both,
}

/// A figure computed from the medians of others.
#[derive(Clone, Copy, Debug)]
enum Derived {
    /// `speedup` = median `unit` at P=1 / median `unit` at P=all.
    Speedup { unit: &'static str },
}

/// One benchmark workload (docs/PERFORMANCE.md describes each).
struct Spec {
    /// `W1` ... `W12`: the `name=` of its lines and the `--only` key.
    id: &'static str,
    /// Its title: `skynet`, `park-1M`, `preemption latency`, ...
    title: &'static str,
    procs: Procs,
    derived: &'static [Derived],
    /// The contenders that have this workload (None: all of them). W12
    /// bridges gort and tokio: Go and may have nothing to bridge.
    peers: Option<&'static [&'static str]>,
}

/// The benchmark workloads, W1 to W12 in order.
const SUITE: &[Spec] = &[
    spec("W1", "spawn", Procs::Both, &[]),
    spec("W2", "skynet", Procs::Both, &[]),
    spec("W3", "pingpong", Procs::Both, &[]),
    spec("W4", "yield", Procs::One, &[]),
    spec("W5", "park-1M", Procs::All, &[]),
    spec("W6", "preemption latency", Procs::One, &[]),
    spec(
        "W7",
        "imbalance",
        Procs::Both,
        &[Derived::Speedup { unit: "ms_total" }],
    ),
    spec("W8", "blocking syscall handoff", Procs::One, &[]),
    spec("W9", "echo", Procs::All, &[]),
    spec("W10", "timers", Procs::All, &[]),
    spec("W11", "hogs", Procs::All, &[]),
    Spec {
        peers: Some(&["gort", "tokio"]),
        ..spec("W12", "bridge", Procs::All, &[])
    },
];

const fn spec(
    id: &'static str,
    title: &'static str,
    procs: Procs,
    derived: &'static [Derived],
) -> Spec {
    Spec {
        id,
        title,
        procs,
        derived,
        peers: None,
    }
}

impl Spec {
    /// The P values to run, given the machine's core count.
    fn ps(&self, nproc: usize) -> Vec<usize> {
        match self.procs {
            Procs::One => vec![1],
            Procs::All => vec![nproc],
            Procs::Both if nproc == 1 => vec![1],
            Procs::Both => vec![1, nproc],
        }
    }

    /// `w7_` for W7: the prefix of its binary's name.
    fn bin_prefix(&self) -> String {
        format!("{}_", self.id.to_ascii_lowercase())
    }
}

/// Something that can run a workload at a given P: gort's set of binaries.
/// The peers of `compare` (may, tokio, Go) run as one executable each
/// (`compare.rs`).
struct Contender {
    name: &'static str,
    /// Where the workload executables are.
    dir: PathBuf,
    /// Workload id -> executable name, for the workloads it implements.
    bins: BTreeMap<&'static str, String>,
}

impl Contender {
    /// The command for one run of `spec` at `p`.
    fn command(&self, spec: &Spec, p: usize) -> Option<Command> {
        let exe = self.dir.join(self.bins.get(spec.id)?);
        let mut cmd = Command::new(exe);
        cmd.env("GOMAXPROCS", p.to_string());
        Some(cmd)
    }
}

/// Command-line options.
struct Opts {
    runs: usize,
    only: Option<Vec<String>>,
    timeout: Duration,
    build: bool,
    /// A run during which other processes used more CPU than this (percent
    /// of one core) is thrown away and repeated, up to NOISY_RETRIES times.
    max_background: f64,
}

/// How often a noisy run is repeated before its number is kept anyway.
const NOISY_RETRIES: u32 = 3;
/// Pause before repeating a noisy run, to let a burst (a build) pass.
const NOISY_PAUSE: Duration = Duration::from_secs(5);

const USAGE: &str = "\
usage: cargo run -p gort-benches --release --bin bench -- [options]
  --runs N        fresh-process runs per workload and P (default 5; medians need >= 1)
  --only W1,W4    run only these workloads (default: all workloads)
  --timeout S     seconds before a run is killed and counted as failed (default 300)
  --max-background PCT
                  repeat a run (up to 3 times) when other processes used more than
                  PCT% of one core during it (default 25)
  --no-build      do not rebuild the workload binaries first";

/// The options `bench` and `compare` share.
struct Shared {
    runs: usize,
    only: Option<Vec<String>>,
    timeout: Duration,
    build: bool,
    max_background: Option<f64>,
}

impl Shared {
    fn new(timeout: Duration) -> Shared {
        Shared {
            runs: 5,
            only: None,
            timeout,
            build: true,
            max_background: None,
        }
    }

    /// Takes `a` if it is one of the shared options, reading its value from
    /// `args`; false if it is not one of them.
    fn take(&mut self, a: &str, args: &mut impl Iterator<Item = String>) -> Result<bool, String> {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a {
            "--runs" => {
                self.runs = value("--runs")?
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or("--runs needs a number >= 1")?;
            }
            "--only" => {
                let ids: Vec<String> = value("--only")?
                    .split(',')
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect();
                if let Some(bad) = ids.iter().find(|id| !SUITE.iter().any(|s| s.id == **id)) {
                    return Err(format!("--only: no workload {bad} in the suite"));
                }
                self.only = Some(ids);
            }
            "--timeout" => {
                let s: u64 = value("--timeout")?
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or("--timeout needs a number of seconds >= 1")?;
                self.timeout = Duration::from_secs(s);
            }
            "--max-background" => {
                self.max_background = Some(
                    value("--max-background")?
                        .parse()
                        .ok()
                        .filter(|&x: &f64| x > 0.0)
                        .ok_or("--max-background needs a percentage > 0")?,
                );
            }
            "--no-build" => self.build = false,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn parse_opts() -> Result<Opts, String> {
    let mut sh = Shared::new(Duration::from_secs(300));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if sh.take(&a, &mut args)? {
            continue;
        }
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Opts {
        runs: sh.runs,
        only: sh.only,
        timeout: sh.timeout,
        build: sh.build,
        max_background: sh.max_background.unwrap_or(25.0),
    })
}

/// The workload binaries present in `src/bin`: `w<N>_<name>.rs` or
/// `w<N>_<name>/main.rs`, by workload id.
fn discover_bins(src_bin: &Path) -> Result<BTreeMap<&'static str, String>, String> {
    let rd = std::fs::read_dir(src_bin).map_err(|e| format!("{}: {e}", src_bin.display()))?;
    let mut stems = Vec::new();
    for entry in rd {
        let path = entry.map_err(|e| e.to_string())?.path();
        let stem = if path.is_dir() && path.join("main.rs").is_file() {
            path.file_name()
        } else if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem()
        } else {
            None
        };
        if let Some(s) = stem.and_then(|s| s.to_str()) {
            stems.push(s.to_string());
        }
    }
    stems.sort();
    let mut bins = BTreeMap::new();
    for spec in SUITE {
        let prefix = spec.bin_prefix();
        let mine: Vec<&String> = stems.iter().filter(|s| s.starts_with(&prefix)).collect();
        match mine.as_slice() {
            [] => {}
            [one] => {
                bins.insert(spec.id, one.to_string());
            }
            many => return Err(format!("{}: several binaries {many:?}", spec.id)),
        }
    }
    Ok(bins)
}

/// `cargo build` of `bins` in the profile this driver was built with, so the
/// executables land next to it.
fn build(exe_dir: &Path, bins: &[&String]) -> Result<(), String> {
    let profile = exe_dir
        .file_name()
        .and_then(|s| s.to_str())
        .ok_or("cannot tell the build profile from this executable's path")?;
    if profile == "debug" || cfg!(debug_assertions) {
        return Err("this is a debug build: benchmark with `--release`".into());
    }
    let cargo = std::env::var_os("CARGO")
        .or(option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .args(["-p", "gort-benches"]);
    if profile == "release" {
        cmd.arg("--release");
    } else {
        cmd.args(["--profile", profile]);
    }
    for b in bins {
        cmd.args(["--bin", b.as_str()]);
    }
    eprintln!("bench: building {} workload binaries ...", bins.len());
    let st = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !st.success() {
        return Err(format!("cargo build failed ({st})"));
    }
    Ok(())
}

/// How long to wait for a finished run's output pipes to close.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// What one run of one configuration produced.
enum Outcome {
    Lines(Vec<Line>),
    Failed(String),
}

/// Runs `cmd` to completion or until `timeout`; returns its figures, or why
/// the run does not count.
fn run_once(mut cmd: Command, spec: &Spec, p: usize, timeout: Duration) -> Outcome {
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot start: {e}")),
    };
    // Read both pipes on threads (a chatty stderr must not block the child).
    // A grandchild may keep a pipe open after the child is gone, so the
    // readers are waited for at most PIPE_GRACE and then abandoned.
    let drain = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        rx
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout is piped")));
    let err = drain(Box::new(child.stderr.take().expect("stderr is piped")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Ok(st),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timeout after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(format!("wait failed: {e}")),
        }
    };
    let grace_end = Instant::now() + PIPE_GRACE;
    let left = || grace_end.saturating_duration_since(Instant::now());
    let stdout = out.recv_timeout(left()).unwrap_or_default();
    let stderr = err.recv_timeout(left()).unwrap_or_default();
    let tail = || {
        let lines: Vec<&str> = stderr.lines().collect();
        // A panic's message (the line after "panicked at") first, then the
        // last lines: a backtrace's tail alone says nothing (may's crashes).
        let panic = lines
            .iter()
            .position(|l| l.contains("panicked at"))
            .and_then(|i| lines.get(i + 1))
            .map(|m| format!("panic: {}\n    ", m.trim()))
            .unwrap_or_default();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n    ");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; stderr:\n    {panic}{tail}")
        }
    };
    match status {
        Err(why) => return Outcome::Failed(format!("{why}{}", tail())),
        Ok(st) if !st.success() => return Outcome::Failed(format!("{st}{}", tail())),
        Ok(_) => {}
    }
    if !stderr.trim().is_empty() {
        eprintln!("  {} p={p} stderr: {}", spec.id, stderr.trim());
    }
    let mut lines = Vec::new();
    for l in stdout.lines().filter(|l| !l.trim().is_empty()) {
        match l.parse::<Line>() {
            Ok(line) if line.name == spec.id && line.p == p => lines.push(line),
            Ok(line) => {
                return Outcome::Failed(format!(
                    "ran as name={} p={}, expected name={} p={p}",
                    line.name, line.p, spec.id
                ))
            }
            Err(e) => return Outcome::Failed(e.to_string()),
        }
    }
    if lines.is_empty() {
        return Outcome::Failed("exited 0 but printed no figure".into());
    }
    Outcome::Lines(lines)
}

/// The median (mean of the middle two for an even count).
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A figure's value for the table: 3 significant digits at least.
fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The 1-minute load average and `/proc/loadavg` as text.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU time counters, in clock ticks (USER_HZ, 100 per second on Linux).
#[derive(Clone, Copy)]
struct CpuTicks {
    /// Busy time of the whole machine, all CPUs (`/proc/stat`).
    machine_busy: u64,
    /// This driver's own time plus that of its finished children, the runs.
    ours: u64,
    at: Instant,
}

/// Reads [`CpuTicks`] now; None where /proc is not Linux's.
fn cpu_ticks() -> Option<CpuTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let machine_busy = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| cpu.get(i)).sum();
    let me = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = &me[me.rfind(')')? + 1..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14-17 of proc(5): utime stime cutime cstime (f[0] is field 3).
    let ours = f
        .get(11..15)?
        .iter()
        .map(|x| x.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some(CpuTicks {
        machine_busy,
        ours,
        at: Instant::now(),
    })
}

/// CPU used on the machine between `a` and `b` by anything but this driver
/// and its runs, in percent of one core (the noise the runs competed with).
fn background_pct(a: Option<CpuTicks>, b: Option<CpuTicks>) -> Option<f64> {
    let (a, b) = (a?, b?);
    let others = (b.machine_busy - a.machine_busy).saturating_sub(b.ours - a.ours);
    let secs = b.at.duration_since(a.at).as_secs_f64();
    (secs > 0.0).then(|| others as f64 / (secs * 100.0) * 100.0)
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("compare") {
        return compare::main();
    }
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// Key of one figure: workload id, P, unit.
type Key = (&'static str, usize, String);

/// The whole run; Ok(false) if some configuration failed.
fn run(opts: &Opts) -> Result<bool, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let exe_dir = exe.parent().ok_or("executable has no directory")?;
    let src_bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    let gort = Contender {
        name: "gort",
        dir: exe_dir.to_path_buf(),
        bins: discover_bins(&src_bin)?,
    };
    let selected: Vec<&Spec> = SUITE
        .iter()
        .filter(|s| match &opts.only {
            None => true,
            Some(ids) => ids.iter().any(|id| id == s.id),
        })
        .collect();
    let to_build: Vec<&String> = selected
        .iter()
        .filter_map(|s| gort.bins.get(s.id))
        .collect();
    if opts.build && !to_build.is_empty() {
        build(exe_dir, &to_build)?;
    } else if cfg!(debug_assertions) {
        return Err("this is a debug build: benchmark with `--release`".into());
    }

    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_start = loadavg();
    let configs: Vec<(&Spec, usize)> = selected
        .iter()
        .filter(|s| gort.bins.contains_key(s.id))
        .flat_map(|s| s.ps(nproc).into_iter().map(move |p| (*s, p)))
        .collect();

    let mut values: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let mut failed: BTreeMap<(&str, usize), String> = BTreeMap::new();
    let total = configs.len() * opts.runs;
    let mut done = 0;
    let mut background = Vec::new();
    let mut repeated = 0;
    for k in 1..=opts.runs {
        for &(spec, p) in &configs {
            done += 1;
            if failed.contains_key(&(spec.id, p)) {
                continue;
            }
            eprint!(
                "[{done}/{total}] {} {} {} p={p} run {k}/{}: ",
                gort.name, spec.id, spec.title, opts.runs
            );
            let mut attempt = 0;
            let (outcome, bg) = loop {
                let cmd = gort
                    .command(spec, p)
                    .expect("configs hold only implemented workloads");
                let before = cpu_ticks();
                let outcome = run_once(cmd, spec, p, opts.timeout);
                let bg = background_pct(before, cpu_ticks());
                match bg {
                    Some(b)
                        if b > opts.max_background
                            && attempt < NOISY_RETRIES
                            && matches!(outcome, Outcome::Lines(_)) =>
                    {
                        attempt += 1;
                        repeated += 1;
                        eprint!("noisy (background {b:.0}% of a core), again: ");
                        std::thread::sleep(NOISY_PAUSE);
                    }
                    _ => break (outcome, bg),
                }
            };
            background.extend(bg);
            let bg = bg.map_or(String::new(), |b| {
                format!(" (background {b:.0}% of a core)")
            });
            match outcome {
                Outcome::Lines(lines) => {
                    let shown: Vec<String> = lines
                        .iter()
                        .map(|l| format!("{} {}", fmt_value(l.value), l.unit))
                        .collect();
                    eprintln!("{}{bg}", shown.join(", "));
                    for l in lines {
                        values
                            .entry((spec.id, p, l.unit))
                            .or_default()
                            .push(l.value);
                    }
                }
                Outcome::Failed(why) => {
                    eprintln!("FAILED{bg}: {why}");
                    failed.insert((spec.id, p), why);
                }
            }
        }
    }
    let load_end = loadavg();

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| workload | P | figure | {} (median) | runs |",
        gort.name
    );
    let _ = writeln!(table, "|---|---|---|---|---|");
    for spec in &selected {
        let label = format!("{} {}", spec.id, spec.title);
        if !gort.bins.contains_key(spec.id) {
            let _ = writeln!(
                table,
                "| {label} | | | not implemented (no src/bin/{}*.rs) | |",
                spec.bin_prefix()
            );
            continue;
        }
        for p in spec.ps(nproc) {
            if let Some(why) = failed.get(&(spec.id, p)) {
                let why = why.lines().next().unwrap_or("").replace('|', "/");
                let _ = writeln!(table, "| {label} | {p} | | FAILED: {why} | |");
            }
            let mine = values
                .range((spec.id, p, String::new())..)
                .take_while(|((id, q, _), _)| *id == spec.id && *q == p);
            for ((_, _, unit), v) in mine {
                let runs: Vec<String> = v.iter().map(|&x| fmt_value(x)).collect();
                let _ = writeln!(
                    table,
                    "| {label} | {p} | {unit} | {} | {} |",
                    fmt_value(median(v)),
                    runs.join(" ")
                );
            }
        }
        for d in spec.derived {
            let Derived::Speedup { unit } = *d;
            let m = |p: usize| {
                values
                    .get(&(spec.id, p, unit.to_string()))
                    .map(|v| median(v))
            };
            if nproc > 1 {
                if let (Some(one), Some(all)) = (m(1), m(nproc)) {
                    let _ = writeln!(
                        table,
                        "| {label} | 1/{nproc} | speedup | {:.2} | median {unit} P=1 / P={nproc} |",
                        one / all
                    );
                }
            }
        }
    }
    println!("{table}");
    println!(
        "{} run(s) per figure, each a fresh process; nproc = {nproc}; \
         load average (1/5/15 min) at start {load_start}, at end {load_end}",
        opts.runs
    );
    if !background.is_empty() {
        let max = background.iter().copied().fold(0.0, f64::max);
        println!(
            "background CPU during the runs (machine busy time not spent by the runs \
             or this driver): median {:.0}%, max {max:.0}% of one core; \
             {repeated} run(s) repeated for background above {:.0}%",
            median(&background),
            opts.max_background
        );
    }
    Ok(failed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Outcome {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        run_once(cmd, &SUITE[0], 1, timeout)
    }

    fn failure(o: Outcome) -> String {
        match o {
            Outcome::Failed(why) => why,
            Outcome::Lines(l) => panic!("expected a failure, got {l:?}"),
        }
    }

    #[test]
    fn good_lines_are_collected() {
        let script =
            "echo name=W1 p=1 value=3.5 unit=ns_per_task; echo; echo name=W1 p=1 value=9 unit=mb";
        match sh(script, Duration::from_secs(30)) {
            Outcome::Lines(l) => {
                assert_eq!(l.len(), 2);
                assert_eq!((l[0].value, l[1].unit.as_str()), (3.5, "mb"));
            }
            Outcome::Failed(why) => panic!("{why}"),
        }
    }

    #[test]
    fn bad_runs_fail() {
        let t = Duration::from_secs(30);
        let why = failure(sh(
            "echo name=W1 p=1 value=1 unit=x; echo oops >&2; exit 3",
            t,
        ));
        assert!(
            why.contains("exit status: 3") && why.contains("oops"),
            "{why}"
        );
        assert!(failure(sh("echo name=W1 p=2 value=1 unit=x", t)).contains("p=2"));
        assert!(failure(sh("echo name=W2 p=1 value=1 unit=x", t)).contains("name=W2"));
        assert!(failure(sh("echo 42", t)).contains("not a"));
        assert!(failure(sh("true", t)).contains("no figure"));
        let start = Instant::now();
        assert!(failure(sh("sleep 20", Duration::from_secs(1))).contains("timeout"));
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn median_and_procs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(SUITE[0].ps(2), vec![1, 2]);
        assert_eq!(SUITE[0].ps(1), vec![1]);
        assert_eq!(SUITE[3].ps(8), vec![1]);
        assert_eq!(SUITE[4].ps(8), vec![8]);
        let w11 = SUITE.iter().find(|s| s.id == "W11").expect("W11 is listed");
        assert_eq!(w11.ps(2), vec![2]);
    }

    #[test]
    fn suite_matches_the_binaries_here() {
        let bins = discover_bins(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin"))
            .expect("src/bin is readable");
        for id in ["W1", "W2", "W4", "W7", "W10", "W11"] {
            assert!(bins.contains_key(id), "{id} missing from {bins:?}");
        }
        assert!(!bins.values().any(|b| b == "bench"));
    }
}
