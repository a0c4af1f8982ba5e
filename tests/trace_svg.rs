//! `gort::trace::start/stop` and `gort_trace::render_svg`: a trace of the
//! stealing scenario, recorded around a region, drawn as an SVG that is
//! well-formed XML with a row per P and per M and goroutine bars; the API
//! refuses a second start and a stop without a start.

mod common;
mod trace_util;

use std::time::Duration;

use common::with_timeout;
use trace_util::{check_xml, parse_json, stealing_workload};

#[test]
fn region_trace_renders_as_svg() {
    with_timeout(Duration::from_secs(60), || {
        gort::set_gomaxprocs(2);
        let dir = std::env::temp_dir();
        let json = dir.join(format!("gort-trace-svg-{}.json", std::process::id()));
        assert!(gort::trace::stop().is_err(), "stop without start");
        gort::trace::start(&json).unwrap();
        assert!(gort::trace::is_tracing());
        assert!(gort::trace::start(&json).is_err(), "second start");
        stealing_workload(32);
        let sum = gort::trace::stop().unwrap();
        assert!(!gort::trace::is_tracing());
        println!("{sum:?}");
        assert!(sum.slices >= 32 && sum.steals >= 1, "{sum:?}");
        assert_eq!(sum.path, json);

        let text = std::fs::read_to_string(&json).unwrap();
        std::fs::remove_file(&json).unwrap();
        parse_json(&text).unwrap_or_else(|e| panic!("not JSON: {e}"));
        let svg = gort_trace::render_svg(&text).unwrap();
        assert_eq!(check_xml(&svg), Ok("svg".to_string()));
        for row in [">P0<", ">P1<", ">M"] {
            assert!(svg.contains(row), "row {row} missing");
        }
        let bars = svg.matches("<rect").count();
        assert!(bars > 10, "{bars} rects");
        assert!(svg.contains("steal from P"), "no steal marker");
        assert!(svg.contains("<title>G"), "no goroutine bar");

        // Malformed input is an error, not a picture.
        assert!(gort_trace::render_svg("{\"traceEvents\": [").is_err());
    });
}

#[test]
fn xml_checker_catches_mistakes() {
    assert!(check_xml("<svg><g></svg>").is_err());
    assert!(check_xml("<svg a=1/>").is_err());
    assert!(check_xml("<svg>&</svg>").is_err());
    assert_eq!(
        check_xml("<svg a=\"1\"><t>x &amp; y</t></svg>"),
        Ok("svg".into())
    );
}
