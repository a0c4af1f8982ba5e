//! trace_svg — draws a gort trace (Chrome trace-event JSON, as written by
//! `GORT_TRACE=path` or `gort::trace::stop`) as an SVG timeline: a row per P
//! and per M, goroutines as coloured bars, markers for steals, preemptions,
//! hand-offs and blocking calls. Open the result in any browser.
//!
//! Run: `cargo run -p gort-trace --bin trace_svg -- trace.json out.svg`

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: trace_svg <trace.json> <out.svg>");
        return ExitCode::from(2);
    };
    let json = match std::fs::read_to_string(input) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("trace_svg: {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let svg = match gort_trace::render_svg(&json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("trace_svg: {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(output, &svg) {
        eprintln!("trace_svg: {output}: {e}");
        return ExitCode::FAILURE;
    }
    println!("trace_svg: wrote {output} ({} bytes)", svg.len());
    ExitCode::SUCCESS
}
