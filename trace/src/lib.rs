//! gort-trace — the viewer side of gort's execution traces, kept out of the
//! runtime as Go keeps `go tool trace` out of `runtime`: the runtime records
//! and writes the trace (`GORT_TRACE=trace.json`, `gort::trace::start` and
//! `stop`); this crate reads the file back and draws it.
//!
//! [`render_svg`] turns a trace into an SVG timeline you open in a browser;
//! the `trace_svg` command does the same from the command line:
//!
//! ```text
//! cargo run -p gort-trace --bin trace_svg -- trace.json out.svg
//! ```
//!
//! Perfetto (ui.perfetto.dev) and `chrome://tracing` load the same file.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod json;
mod svg;

pub use svg::render_svg;
