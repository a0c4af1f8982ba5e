//! `bench compare`: gort against Go, may and tokio.
//!
//! ```text
//! cargo run -p gort-benches --release -- compare [--runs 5] [--only W3,W7]
//!     [--timeout 120] [--max-background PCT] [--no-build] [--no-write]
//! ```
//!
//! 1. Builds gort's `w*` binaries, `peer_may` and `peer_tokio` (one cargo
//!    build, this driver's profile) and, when `go` is on PATH, `benches/go`
//!    into `gortbench` beside them. Without Go its column says so.
//! 2. For run k = 1..runs, for every (workload, P), runs each contender once
//!    in a fresh process, alternately (gort go may tokio gort go ...), with
//!    `GOMAXPROCS=P`; progress goes to stderr. A crash, a non-zero exit, a
//!    timeout or a malformed line is recorded in that contender's cell and
//!    its remaining runs of that (workload, P) are skipped, never hidden.
//! 3. Prints one Markdown table of medians with the ratio gort / best peer,
//!    writes it between the `compare` markers of docs/PERFORMANCE.md (the
//!    section this command owns; the rest of the file is left alone) and
//!    draws the ratios as a bar chart to docs/perf.svg.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use super::{
    background_pct, build, cpu_ticks, discover_bins, fmt_value, loadavg, median, run_once,
    Contender, Derived, Outcome, Shared, Spec, SUITE,
};

const USAGE: &str = "\
usage: cargo run -p gort-benches --release -- compare [options]
  --runs N        fresh-process runs per contender, workload and P (default 5)
  --only W1,W4    only these workloads (default: all workloads)
  --timeout S     seconds before a run is killed and recorded as a timeout (default 120)
  --max-background PCT
                  repeat a run (up to 3 times) when other processes used more than
                  PCT% of one core during it (default: never repeat, only report)
  --no-build      do not rebuild the binaries first
  --no-write      print the table only: leave docs/PERFORMANCE.md and docs/perf.svg alone";

/// Marks the part of docs/PERFORMANCE.md that this command owns.
const BEGIN: &str = "<!-- compare:begin (written by `bench compare`; edits here are lost) -->";
const END: &str = "<!-- compare:end -->";

struct Opts {
    runs: usize,
    only: Option<Vec<String>>,
    timeout: Duration,
    build: bool,
    write: bool,
    max_background: Option<f64>,
}

fn parse_opts() -> Result<Opts, String> {
    let mut sh = Shared::new(Duration::from_secs(120));
    let mut write = true;
    let mut args = std::env::args().skip(2);
    while let Some(a) = args.next() {
        if sh.take(&a, &mut args)? {
            continue;
        }
        match a.as_str() {
            "--no-write" => write = false,
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
        write,
        max_background: sh.max_background,
    })
}

/// How a contender runs a workload.
enum Runner {
    /// gort: one `w<N>_*` binary per workload.
    Gort(Contender),
    /// A peer: one executable, the workload id appended to `args`.
    Exe { path: PathBuf, args: Vec<String> },
    /// Not runnable on this machine, and why (shown in its cells).
    Missing(String),
}

struct Peer {
    name: &'static str,
    runner: Runner,
}

impl Peer {
    fn command(&self, spec: &Spec, p: usize) -> Option<Command> {
        if spec.peers.is_some_and(|ps| !ps.contains(&self.name)) {
            return None;
        }
        let mut cmd = match &self.runner {
            Runner::Gort(c) => return c.command(spec, p),
            Runner::Exe { path, args } => {
                let mut cmd = Command::new(path);
                cmd.args(args).arg(spec.id);
                cmd
            }
            Runner::Missing(_) => return None,
        };
        cmd.env("GOMAXPROCS", p.to_string());
        Some(cmd)
    }
}

/// Builds benches/go into `out` when `go` is on PATH.
fn build_go(out: &Path, build: bool) -> Runner {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
    let version = Command::new("go").arg("version").output();
    let Some(version) = version.ok().filter(|o| o.status.success()) else {
        return Runner::Missing("not run: `go` is not on PATH".into());
    };
    if build {
        eprintln!(
            "compare: building benches/go with {}",
            String::from_utf8_lossy(&version.stdout).trim()
        );
        let st = Command::new("go")
            .args(["build", "-o"])
            .arg(out)
            .arg(".")
            .current_dir(&dir)
            .status();
        if !matches!(st, Ok(s) if s.success()) {
            return Runner::Missing(format!("not run: go build failed ({st:?})"));
        }
    }
    Runner::Exe {
        path: out.to_path_buf(),
        args: vec!["-w".into()],
    }
}

/// Whether a larger value of `unit` is better.
fn higher_is_better(unit: &str) -> bool {
    matches!(unit, "rps" | "speedup" | "wakeups")
}

/// A failure, short enough for a table cell: the status and the most telling
/// stderr line (a panic message rather than its "thread ... panicked at").
fn short_failure(why: &str) -> String {
    let first = why.lines().next().unwrap_or("");
    let first = first.strip_suffix("; stderr:").unwrap_or(first);
    let detail = why
        .lines()
        .skip(1)
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("thread '") && !l.starts_with("note:"))
        .map(|l| format!(" ({})", l.chars().take(80).collect::<String>()))
        .unwrap_or_default();
    format!("**failed: {first}**{detail}").replace('|', "/")
}

type Values = BTreeMap<(usize, &'static str, usize, String), Vec<f64>>;

pub(crate) fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("compare: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(opts: &Opts) -> Result<(), String> {
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
    let peer_bins = ["peer_may".to_string(), "peer_tokio".to_string()];
    if opts.build {
        let mut bins: Vec<&String> = selected
            .iter()
            .filter_map(|s| gort.bins.get(s.id))
            .collect();
        bins.extend(peer_bins.iter());
        build(exe_dir, &bins)?;
    } else if cfg!(debug_assertions) {
        return Err("this is a debug build: benchmark with `--release`".into());
    }
    let exe_peer = |name: &str| Runner::Exe {
        path: exe_dir.join(name),
        args: Vec::new(),
    };
    let peers = [
        Peer {
            name: "gort",
            runner: Runner::Gort(gort),
        },
        Peer {
            name: "go",
            runner: build_go(&exe_dir.join("gortbench"), opts.build),
        },
        Peer {
            name: "may",
            runner: exe_peer("peer_may"),
        },
        Peer {
            name: "tokio",
            runner: exe_peer("peer_tokio"),
        },
    ];

    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_start = loadavg();
    let configs: Vec<(&Spec, usize)> = selected
        .iter()
        .flat_map(|s| s.ps(nproc).into_iter().map(move |p| (*s, p)))
        .collect();
    let mut values: Values = BTreeMap::new();
    let mut units: BTreeMap<(&str, usize), Vec<String>> = BTreeMap::new();
    let mut failed: BTreeMap<(usize, &str, usize), String> = BTreeMap::new();
    let mut background = Vec::new();
    let total = configs.len() * opts.runs * peers.len();
    let mut done = 0;
    let started = std::time::Instant::now();
    for k in 1..=opts.runs {
        for &(spec, p) in &configs {
            for (ci, peer) in peers.iter().enumerate() {
                done += 1;
                if failed.contains_key(&(ci, spec.id, p)) {
                    continue;
                }
                let Some(_) = peer.command(spec, p) else {
                    continue;
                };
                eprint!(
                    "[{done}/{total} {:.0}s] {} {} {} p={p} run {k}/{}: ",
                    started.elapsed().as_secs_f64(),
                    peer.name,
                    spec.id,
                    spec.title,
                    opts.runs
                );
                let mut attempt = 0;
                let (outcome, bg) = loop {
                    let cmd = peer.command(spec, p).expect("checked above");
                    let before = cpu_ticks();
                    let outcome = run_once(cmd, spec, p, opts.timeout);
                    let bg = background_pct(before, cpu_ticks());
                    match (bg, opts.max_background) {
                        (Some(b), Some(max))
                            if b > max
                                && attempt < super::NOISY_RETRIES
                                && matches!(outcome, Outcome::Lines(_)) =>
                        {
                            attempt += 1;
                            eprint!("noisy ({b:.0}% of a core), again: ");
                            std::thread::sleep(super::NOISY_PAUSE);
                        }
                        _ => break (outcome, bg),
                    }
                };
                background.extend(bg);
                match outcome {
                    Outcome::Lines(lines) => {
                        let shown: Vec<String> = lines
                            .iter()
                            .map(|l| format!("{} {}", fmt_value(l.value), l.unit))
                            .collect();
                        eprintln!("{}", shown.join(", "));
                        for l in lines {
                            let us = units.entry((spec.id, p)).or_default();
                            if !us.contains(&l.unit) {
                                us.push(l.unit.clone());
                            }
                            values
                                .entry((ci, spec.id, p, l.unit))
                                .or_default()
                                .push(l.value);
                        }
                    }
                    Outcome::Failed(why) => {
                        eprintln!("FAILED: {why}");
                        failed.insert((ci, spec.id, p), why);
                    }
                }
            }
        }
    }
    let load_end = loadavg();

    let (table, bars) = table(&peers, &selected, nproc, &values, &units, &failed);
    let mut notes = format!(
        "{} run(s) per cell, each a fresh process, contenders alternating; medians. \
         nproc = {nproc}; load average (1/5/15 min) at start {load_start}, at end {load_end}; \
         suite time {:.0} s.",
        opts.runs,
        started.elapsed().as_secs_f64()
    );
    if !background.is_empty() {
        let max = background.iter().copied().fold(0.0, f64::max);
        let _ = write!(
            notes,
            " Background CPU during the runs (busy time not spent by the runs): \
             median {:.0}%, max {max:.0}% of one core.",
            median(&background)
        );
    }
    println!("{table}\n{notes}");
    if opts.write {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        write_section(&docs.join("PERFORMANCE.md"), &table, &notes)?;
        std::fs::write(docs.join("perf.svg"), svg(&bars))
            .map_err(|e| format!("docs/perf.svg: {e}"))?;
        eprintln!("compare: wrote docs/PERFORMANCE.md (Comparison) and docs/perf.svg");
    }
    Ok(())
}

/// One bar of the chart: label, ratio gort / best peer, whether gort leads.
struct Bar {
    label: String,
    ratio: f64,
    leads: bool,
}

fn table(
    peers: &[Peer],
    selected: &[&Spec],
    nproc: usize,
    values: &Values,
    units: &BTreeMap<(&str, usize), Vec<String>>,
    failed: &BTreeMap<(usize, &str, usize), String>,
) -> (String, Vec<Bar>) {
    let mut t = String::from("| workload | P | figure | better |");
    for peer in peers {
        let _ = write!(t, " {} |", peer.name);
    }
    t.push_str(" gort / best peer |\n|---|---|---|---|");
    t.push_str(&"---|".repeat(peers.len() + 1));
    t.push('\n');
    let mut bars = Vec::new();
    let med = |ci: usize, id: &'static str, p: usize, unit: &str| {
        values
            .get(&(ci, id, p, unit.to_string()))
            .map(|v| median(v))
    };
    let mut row =
        |label: &str, p: String, unit: &str, cells: Vec<Option<f64>>, why: Vec<String>| {
            let hi = higher_is_better(unit);
            let _ = write!(
                t,
                "| {label} | {p} | {unit} | {} |",
                if hi { "higher" } else { "lower" }
            );
            for (v, why) in cells.iter().zip(&why) {
                match v {
                    Some(v) => {
                        let _ = write!(t, " {} |", fmt_value(*v));
                    }
                    None => {
                        let _ = write!(t, " {why} |");
                    }
                }
            }
            let best =
                cells[1..]
                    .iter()
                    .flatten()
                    .copied()
                    .reduce(|a, b| if hi == (b > a) { b } else { a });
            match (cells[0], best) {
                (Some(g), Some(b)) if g > 0.0 && b > 0.0 && unit != "starved" => {
                    let r = g / b;
                    let leads = if hi { r >= 1.0 } else { r <= 1.0 };
                    let _ = writeln!(t, " {r:.2}{} |", if leads { "" } else { " (behind)" });
                    bars.push(Bar {
                        label: format!("{label} P={p} {unit}"),
                        ratio: r,
                        leads,
                    });
                }
                _ => t.push_str(" |\n"),
            }
        };
    for spec in selected {
        let label = format!("{} {}", spec.id, spec.title);
        for p in spec.ps(nproc) {
            let us = units.get(&(spec.id, p)).cloned().unwrap_or_default();
            if us.is_empty() {
                let whys = (0..peers.len())
                    .map(|ci| why(peers, failed, ci, spec.id, p))
                    .collect();
                row(&label, p.to_string(), "—", vec![None; peers.len()], whys);
            }
            for unit in &us {
                let cells = (0..peers.len())
                    .map(|ci| med(ci, spec.id, p, unit))
                    .collect();
                let whys = (0..peers.len())
                    .map(|ci| why(peers, failed, ci, spec.id, p))
                    .collect();
                row(&label, p.to_string(), unit, cells, whys);
            }
        }
        for d in spec.derived {
            let Derived::Speedup { unit } = *d;
            if nproc > 1 {
                let cells = (0..peers.len())
                    .map(|ci| Some(med(ci, spec.id, 1, unit)? / med(ci, spec.id, nproc, unit)?))
                    .collect();
                let whys = vec!["—".to_string(); peers.len()];
                row(&label, format!("1/{nproc}"), "speedup", cells, whys);
            }
        }
    }
    (t, bars)
}

/// What a cell without a number says.
fn why(
    peers: &[Peer],
    failed: &BTreeMap<(usize, &str, usize), String>,
    ci: usize,
    id: &str,
    p: usize,
) -> String {
    if let Runner::Missing(why) = &peers[ci].runner {
        return why.clone();
    }
    if let Some(w) = failed.get(&(ci, id, p)) {
        return short_failure(w);
    }
    if id == "W6" {
        "— (starved)".into()
    } else {
        "—".into()
    }
}

/// Replaces (or appends) the command's section of PERFORMANCE.md.
fn write_section(path: &Path, table: &str, notes: &str) -> Result<(), String> {
    let old = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body = format!(
        "{BEGIN}\n`cargo run -p gort-benches --release -- compare` printed this table \
         (ratio = gort / best peer: below 1 leads where lower is better, above 1 where \
         higher is better). Chart: [perf.svg](perf.svg).\n\n{table}\n{notes}\n{END}"
    );
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => format!("{}{body}{}", &old[..b], &old[e + END.len()..]),
        _ => format!("{}\n## Comparison\n\n{body}\n", old.trim_end()),
    };
    std::fs::write(path, new).map_err(|e| format!("{}: {e}", path.display()))
}

/// The escaped text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar chart of the ratios on a log2 axis from 1/8 to 8,
/// centred on 1 (parity). Green: gort leads; red: gort behind.
fn svg(bars: &[Bar]) -> String {
    let (label_w, plot_w, row_h, top) = (330.0, 520.0, 20.0, 50.0);
    let h = top + row_h * bars.len() as f64 + 40.0;
    let w = label_w + plot_w + 90.0;
    let x_of = |r: f64| label_w + plot_w / 2.0 + r.clamp(0.125, 8.0).log2() / 3.0 * plot_w / 2.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"15\">gort / best peer (Go, may, tokio), \
         median of fresh-process runs; log scale, 1 = parity</text>\n\
         <text x=\"10\" y=\"38\" fill=\"#555\">green: gort leads (lower time or memory, \
         higher rps/speedup); red: gort behind</text>\n"
    );
    for r in [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0] {
        let x = x_of(r);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{r}</text>",
            h - 35.0,
            if r == 1.0 { "#000" } else { "#ddd" },
            h - 20.0
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let (x0, x1) = (x_of(1.0), x_of(b.ratio));
        let color = if b.leads { "#2e7d32" } else { "#c62828" };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{:.2}</text>",
            label_w - 8.0,
            y + 14.0,
            esc(&b.label),
            x0.min(x1),
            y + 3.0,
            (x1 - x0).abs().max(1.0),
            row_h - 6.0,
            label_w + plot_w + 8.0,
            y + 14.0,
            b.ratio
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_is_replaced_not_duplicated() {
        let dir = std::env::temp_dir().join(format!("compare-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("P.md");
        std::fs::write(&f, "# Perf\n\n## W1\ntext\n").unwrap();
        write_section(&f, "| a |", "n1").unwrap();
        write_section(&f, "| b |", "n2").unwrap();
        let s = std::fs::read_to_string(&f).unwrap();
        assert_eq!(s.matches("## Comparison").count(), 1);
        assert!(s.contains("| b |") && !s.contains("| a |") && s.contains("## W1\ntext"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn w11_figures_are_lower_is_better() {
        for unit in [
            "ms_total",
            "os_threads_max",
            "sleeper_p99_ms",
            "late_spawn_ms",
        ] {
            assert!(!higher_is_better(unit), "{unit}");
        }
    }

    #[test]
    fn chart_is_svg() {
        let bars = [Bar {
            label: "W1 <x>".into(),
            ratio: 0.5,
            leads: true,
        }];
        let s = svg(&bars);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n") && s.contains("&lt;x&gt;"));
    }
}
