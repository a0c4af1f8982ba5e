//! svg — a trace drawn as a timeline, with no tool but a browser: one row per
//! P (then one per M), each goroutine time slice a bar coloured by goroutine
//! (the same goroutine keeps its colour as it moves between Ps), and markers
//! for steals (a blue triangle on the thief's row, a dashed line from the
//! victim's), preemptions (red), hand-offs (orange), blocking calls
//! (purple ticks on the M rows) and netpoll wake-ups (green, on the M rows). Hovering a bar shows its goroutine, P, M,
//! length and how it ended.
//!
//! Input is the JSON gort writes (any Chrome trace with the same
//! pids: 1 = Ps, 2 = Ms). Bars narrower than a pixel that continue the same
//! goroutine are merged, and runs of such bars of different goroutines
//! become one grey bar, so a long trace stays a reasonably small file.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

use crate::json::{self, Value};

/// Picture geometry, in pixels.
const WIDTH: f64 = 1400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 62.0;
const ROW: f64 = 24.0;
const GAP: f64 = 6.0;
const SECTION_GAP: f64 = 30.0;
/// Bars closer than this (in pixels) to the previous bar of the same
/// goroutine on the same row are merged into it; runs of slices narrower
/// than this, of any goroutines, become one grey bar.
const MERGE_PX: f64 = 0.75;
/// The goroutine id of a grey bar (several goroutines merged).
const MIXED: u64 = u64::MAX;

struct Slice {
    /// 1: a P track, 2: an M track (the file's pid).
    track: u8,
    g: u64,
    ts: f64,
    dur: f64,
    p: Option<u64>,
    m: Option<u64>,
    end: String,
}

struct Mark {
    name: String,
    ts: f64,
    pid: u64,
    tid: u64,
    from: Option<u64>,
}

fn num(e: &Value, k: &str) -> Option<f64> {
    e.get(k).and_then(Value::as_f64)
}

fn arg(e: &Value, k: &str) -> Option<f64> {
    e.get("args").and_then(|a| a.get(k)).and_then(Value::as_f64)
}

/// Draws the trace `json` (as written by `gort::trace::stop`) as an SVG
/// document. Fails with `InvalidData` if it is not a JSON trace.
///
/// ```
/// let json = r#"{"traceEvents":[
///   {"name":"G1","ph":"X","ts":0,"dur":50,"pid":1,"tid":0,"args":{"g":1,"m":0,"end":"exit"}},
///   {"name":"steal","ph":"i","s":"t","ts":60,"pid":1,"tid":1,"args":{"from":0,"g":2,"n":1}},
///   {"name":"G2","ph":"X","ts":60,"dur":40,"pid":1,"tid":1,"args":{"g":2,"m":1,"end":"exit"}}
/// ]}"#;
/// let svg = gort_trace::render_svg(json).unwrap();
/// assert!(svg.contains(">P0<") && svg.contains(">P1<"));
/// ```
pub fn render_svg(json: &str) -> io::Result<String> {
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let doc = json::parse(json).map_err(bad)?;
    let events = doc
        .get("traceEvents")
        .and_then(Value::as_array)
        .or_else(|| doc.as_array())
        .ok_or_else(|| bad("no traceEvents array".into()))?;
    let mut slices = Vec::new();
    let mut marks = Vec::new();
    for e in events {
        let ph = e.get("ph").and_then(Value::as_str).unwrap_or("");
        let (Some(pid), Some(tid), Some(ts)) = (num(e, "pid"), num(e, "tid"), num(e, "ts")) else {
            continue;
        };
        match ph {
            "X" if pid == 1.0 || pid == 2.0 => slices.push(Slice {
                track: pid as u8,
                g: arg(e, "g").unwrap_or(0.0) as u64,
                ts,
                dur: num(e, "dur").unwrap_or(0.0),
                p: if pid == 1.0 {
                    Some(tid as u64)
                } else {
                    arg(e, "p").map(|p| p as u64)
                },
                m: if pid == 2.0 {
                    Some(tid as u64)
                } else {
                    arg(e, "m").map(|m| m as u64)
                },
                end: e
                    .get("args")
                    .and_then(|a| a.get("end"))
                    .and_then(Value::as_str)
                    .map(|s| {
                        let r = e
                            .get("args")
                            .and_then(|a| a.get("reason"))
                            .and_then(Value::as_str);
                        r.map_or(s.to_string(), |r| format!("{s} ({r})"))
                    })
                    .unwrap_or_default(),
            }),
            "i" | "I" => marks.push(Mark {
                name: e
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                ts,
                pid: pid as u64,
                tid: tid as u64,
                from: arg(e, "from").map(|f| f as u64),
            }),
            _ => {}
        }
    }
    Ok(draw(&slices, &marks))
}

/// XML text escaping.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The colour of goroutine `g`: hues spread by the golden angle.
fn colour(g: u64) -> String {
    let hue = (g as f64 * 137.508) % 360.0;
    format!("hsl({hue:.0},62%,52%)")
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) for `span`.
fn tick_step(span: f64) -> f64 {
    let raw = span / 8.0;
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|k| k * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

fn fmt_us(us: f64) -> String {
    if us >= 1000.0 {
        format!("{}ms", trim(us / 1000.0))
    } else {
        format!("{}µs", trim(us))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A bar being built on one row: consecutive slices merged while they
/// would be too narrow to tell apart.
#[derive(Clone, Copy)]
struct Bar<'a> {
    /// The goroutine, or `MIXED`.
    g: u64,
    x0: f64,
    x1: f64,
    /// Slices merged into it.
    n: usize,
    /// The first of them (its P, M, length and end make the tooltip).
    first: &'a Slice,
}

/// The picture's layout: the time scale and a row per P, then per M.
struct Layout {
    t0: f64,
    t1: f64,
    /// The track the M rows are drawn from: the M tracks (2) if the trace
    /// has them, else the P slices' `m` (1).
    m_track: u8,
    p_row: BTreeMap<u64, f64>,
    m_row: BTreeMap<u64, f64>,
    m_top: f64,
    bottom: f64,
}

impl Layout {
    fn new(slices: &[Slice], marks: &[Mark]) -> Layout {
        let t0 = 0f64.min(slices.iter().map(|s| s.ts).fold(f64::INFINITY, f64::min));
        let t1 = slices
            .iter()
            .map(|s| s.ts + s.dur)
            .chain(marks.iter().map(|m| m.ts))
            .fold(t0 + 1.0, f64::max);
        let m_track = if slices.iter().any(|s| s.track == 2) {
            2
        } else {
            1
        };
        let ids = |track: u8, pid: u64, id: fn(&Slice) -> Option<u64>| {
            let mut v: Vec<u64> = slices
                .iter()
                .filter(|s| s.track == track)
                .filter_map(id)
                .collect();
            v.extend(marks.iter().filter(|m| m.pid == pid).map(|m| m.tid));
            v.sort_unstable();
            v.dedup();
            v
        };
        let p_ids = ids(1, 1, |s| s.p);
        let m_ids = ids(m_track, 2, |s| s.m);
        let rows = |ids: &[u64], top: f64| -> BTreeMap<u64, f64> {
            ids.iter()
                .enumerate()
                .map(|(i, &id)| (id, top + i as f64 * (ROW + GAP)))
                .collect()
        };
        let m_top = TOP + p_ids.len() as f64 * (ROW + GAP) + SECTION_GAP;
        Layout {
            t0,
            t1,
            m_track,
            p_row: rows(&p_ids, TOP),
            m_row: rows(&m_ids, m_top),
            m_top,
            bottom: m_top + m_ids.len() as f64 * (ROW + GAP),
        }
    }

    /// The x of time `t`.
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)
    }

    /// The row of slice `s` on the P rows (`on_p`) or the M rows.
    fn row_of(&self, s: &Slice, on_p: bool) -> Option<f64> {
        if on_p {
            s.p.filter(|_| s.track == 1)
                .and_then(|p| self.p_row.get(&p).copied())
        } else {
            s.m.filter(|_| s.track == self.m_track)
                .and_then(|m| self.m_row.get(&m).copied())
        }
    }
}

fn draw(slices: &[Slice], marks: &[Mark]) -> String {
    let l = Layout::new(slices, marks);
    let mut o = String::new();
    header(&mut o, &l, slices, marks);
    axis(&mut o, &l);
    row_labels(&mut o, &l);
    for on_p in [true, false] {
        bars(&mut o, &l, slices, on_p);
    }
    for mk in marks {
        marker(&mut o, &l, mk);
    }
    legend(&mut o, l.bottom + 24.0);
    o.push_str("</svg>\n");
    o
}

/// The document's start, the background and the title line with counts.
fn header(o: &mut String, l: &Layout, slices: &[Slice], marks: &[Mark]) {
    let height = l.bottom + 50.0;
    let count = |name: &str| marks.iter().filter(|m| m.name == name).count();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(o, "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
    let _ = writeln!(
        o,
        "<text x=\"{LEFT}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">gort trace: {} slices on {} Ps and {} Ms, {} steals, {} preemptions, {} hand-offs, {}</text>",
        slices.iter().filter(|s| s.track == l.m_track).count(),
        l.p_row.len(),
        l.m_row.len(),
        count("steal"),
        count("preempt"),
        count("handoff"),
        esc(&fmt_us(l.t1 - l.t0))
    );
}

/// The time axis and its grid lines.
fn axis(o: &mut String, l: &Layout) {
    let step = tick_step(l.t1 - l.t0);
    let mut t = (l.t0 / step).ceil() * step;
    while t <= l.t1 {
        let xx = l.x(t);
        let _ = writeln!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            TOP - 10.0,
            l.bottom,
            TOP - 14.0,
            esc(&fmt_us(t))
        );
        t += step;
    }
}

/// Row backgrounds and labels, and the caption over the M rows.
fn row_labels(o: &mut String, l: &Layout) {
    let plot_w = WIDTH - LEFT - RIGHT;
    for (rows, prefix) in [(&l.p_row, "P"), (&l.m_row, "M")] {
        for (id, y) in rows {
            let _ = writeln!(
                o,
                "<rect x=\"{LEFT}\" y=\"{y:.1}\" width=\"{plot_w:.1}\" height=\"{ROW}\" fill=\"#f6f6f6\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"bold\">{prefix}{id}</text>",
                LEFT - 8.0,
                y + ROW / 2.0 + 4.0
            );
        }
    }
    if !l.m_row.is_empty() {
        let _ = writeln!(
            o,
            "<text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#555\">threads (M): which OS thread ran each slice</text>",
            l.m_top - 8.0
        );
    }
}

/// The slices of the P rows (`on_p`) or the M rows as bars, merged per row.
fn bars(o: &mut String, l: &Layout, slices: &[Slice], on_p: bool) {
    let mut by_row: BTreeMap<u64, Vec<&Slice>> = BTreeMap::new();
    for s in slices {
        if let Some(y) = l.row_of(s, on_p) {
            by_row.entry(y.to_bits()).or_default().push(s);
        }
    }
    for (ybits, mut v) in by_row {
        let y = f64::from_bits(ybits);
        v.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        let mut cur: Option<Bar> = None;
        for s in v {
            let (a, b) = (l.x(s.ts), l.x(s.ts + s.dur));
            cur = match cur {
                Some(c) if c.g == s.g && a - c.x1 < MERGE_PX => Some(Bar {
                    x1: c.x1.max(b),
                    n: c.n + 1,
                    ..c
                }),
                // Sub-pixel slices of different goroutines in a row become
                // one grey bar (a wide bar is never absorbed).
                Some(c)
                    if b - a < MERGE_PX
                        && a - c.x1 < MERGE_PX
                        && (c.g == MIXED || c.x1 - c.x0 < MERGE_PX) =>
                {
                    Some(Bar {
                        g: MIXED,
                        x1: c.x1.max(b),
                        n: c.n + 1,
                        ..c
                    })
                }
                Some(c) => {
                    bar(o, y, c);
                    Some(Bar {
                        g: s.g,
                        x0: a,
                        x1: b,
                        n: 1,
                        first: s,
                    })
                }
                None => Some(Bar {
                    g: s.g,
                    x0: a,
                    x1: b,
                    n: 1,
                    first: s,
                }),
            };
        }
        if let Some(c) = cur {
            bar(o, y, c);
        }
    }
}

/// One bar on the row at `y`, with its tooltip and, if wide enough, its
/// goroutine's name.
fn bar(o: &mut String, y: f64, c: Bar) {
    let Bar {
        g,
        x0,
        x1,
        n,
        first: s,
    } = c;
    let w = (x1 - x0).max(0.6);
    let runs = if n > 1 {
        format!(", {n} slices")
    } else {
        String::new()
    };
    let tip = if g == MIXED {
        format!("{n} slices of several goroutines, each too short to draw")
    } else {
        format!(
            "G{g} on P{} M{}: {}{runs}, ended by {}",
            s.p.map_or("?".into(), |p| p.to_string()),
            s.m.map_or("?".into(), |m| m.to_string()),
            fmt_us(s.dur),
            s.end
        )
    };
    let fill = if g == MIXED {
        "#9e9e9e".to_string()
    } else {
        colour(g)
    };
    let _ = write!(
        o,
        "<rect x=\"{x0:.2}\" y=\"{:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
        y + 2.0,
        ROW - 4.0,
        fill,
        esc(&tip)
    );
    if w > 26.0 && g != MIXED {
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#fff\" font-size=\"10\">G{g}</text>",
            x0 + 3.0,
            y + ROW / 2.0 + 4.0
        );
    }
    o.push('\n');
}

/// One instant event's marker on its row: a steal (with a dashed line from
/// the victim's row), a preemption, a hand-off, a netpoll wake-up or a
/// blocking call's edge.
fn marker(o: &mut String, l: &Layout, mk: &Mark) {
    let xx = l.x(mk.ts);
    let row = if mk.pid == 1 { &l.p_row } else { &l.m_row };
    let Some(&y) = row.get(&mk.tid) else { return };
    match mk.name.as_str() {
        "steal" => {
            if let Some(&fy) = mk.from.and_then(|f| l.p_row.get(&f)) {
                let _ = write!(
                    o,
                    "<line x1=\"{xx:.2}\" y1=\"{:.1}\" x2=\"{xx:.2}\" y2=\"{:.1}\" stroke=\"#1565c0\" stroke-dasharray=\"2,2\"/>",
                    fy + ROW / 2.0,
                    y + ROW / 2.0
                );
            }
            let _ = writeln!(
                o,
                "<path d=\"M{:.2},{:.1} L{:.2},{:.1} L{xx:.2},{:.1} Z\" fill=\"#1565c0\"><title>steal from P{}</title></path>",
                xx - 5.0,
                y - 3.0,
                xx + 5.0,
                y - 3.0,
                y + 6.0,
                mk.from.map_or("?".into(), |f| f.to_string())
            );
        }
        "preempt" => {
            let _ = writeln!(
                o,
                "<path d=\"M{xx:.2},{:.1} l4,6 l-4,6 l-4,-6 Z\" fill=\"#d32f2f\"><title>preempted</title></path>",
                y + ROW - 8.0
            );
        }
        "handoff" => {
            let _ = writeln!(
                o,
                "<rect x=\"{:.2}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#ef6c00\"><title>P handed off</title></rect>",
                xx - 4.0,
                y - 4.0
            );
        }
        "netpoll" => {
            let _ = writeln!(
                o,
                "<circle cx=\"{xx:.2}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#2e7d32\"><title>netpoll readied goroutines</title></circle>",
                y + ROW / 2.0
            );
        }
        "syscall enter" | "syscall exit" => {
            let _ = writeln!(
                o,
                "<line x1=\"{xx:.2}\" y1=\"{y:.1}\" x2=\"{xx:.2}\" y2=\"{:.1}\" stroke=\"#7b1fa2\" stroke-width=\"1.5\"><title>{}</title></line>",
                y + ROW,
                esc(&mk.name)
            );
        }
        _ => {}
    }
}

/// The legend line at `ly`.
fn legend(o: &mut String, ly: f64) {
    let _ = writeln!(
        o,
        "<g fill=\"#333\"><text x=\"{LEFT}\" y=\"{ly:.1}\">bar colour = goroutine</text>\
         <path d=\"M{:.1},{:.1} l10,0 l-5,9 Z\" fill=\"#1565c0\"/><text x=\"{:.1}\" y=\"{ly:.1}\">steal (dashed: from which P)</text>\
         <path d=\"M{:.1},{:.1} l4,6 l-4,6 l-4,-6 Z\" fill=\"#d32f2f\"/><text x=\"{:.1}\" y=\"{ly:.1}\">preemption</text>\
         <rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#ef6c00\"/><text x=\"{:.1}\" y=\"{ly:.1}\">P hand-off</text>\
         <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#7b1fa2\" stroke-width=\"1.5\"/><text x=\"{:.1}\" y=\"{ly:.1}\">blocking call</text></g>",
        LEFT + 150.0,
        ly - 9.0,
        LEFT + 166.0,
        LEFT + 350.0,
        ly - 11.0,
        LEFT + 360.0,
        LEFT + 450.0,
        ly - 9.0,
        LEFT + 462.0,
        LEFT + 550.0,
        ly - 11.0,
        LEFT + 550.0,
        ly + 1.0,
        LEFT + 558.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_rows_bars_and_markers() {
        let json = r#"{"traceEvents":[
          {"name":"G1","ph":"X","ts":0,"dur":500,"pid":1,"tid":0,"args":{"g":1,"m":0,"end":"park","reason":"chan receive"}},
          {"name":"G1","ph":"X","ts":0,"dur":500,"pid":2,"tid":0,"args":{"g":1,"m":0,"end":"park"}},
          {"name":"steal","ph":"i","s":"t","ts":600,"pid":1,"tid":1,"args":{"from":0,"g":2,"n":1}},
          {"name":"G2","ph":"X","ts":600,"dur":400,"pid":1,"tid":1,"args":{"g":2,"m":1,"end":"preempt"}},
          {"name":"preempt","ph":"i","s":"t","ts":1000,"pid":1,"tid":1,"args":{"g":2}},
          {"name":"syscall enter","ph":"i","s":"t","ts":700,"pid":2,"tid":1,"args":{"g":2}}
        ]}"#;
        let svg = render_svg(json).unwrap();
        for want in [
            ">P0<",
            ">P1<",
            ">M0<",
            ">M1<",
            "steal from P0",
            "preempted",
            "chan receive",
        ] {
            assert!(svg.contains(want), "{want} missing");
        }
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(render_svg("not json").is_err());
        assert!(render_svg("{}").is_err());
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(tick_step(1000.0), 200.0);
        assert_eq!(tick_step(80.0), 10.0);
        assert_eq!(fmt_us(2500.0), "2.5ms");
        assert_eq!(fmt_us(12.0), "12µs");
    }
}
