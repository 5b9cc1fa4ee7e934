//! Draw a fleet run: publish latency and throughput over the run, as SVG.
//!
//! ```text
//! target/release/examples/fleet --keep DIR …
//! target/release/examples/plot DIR/events.jsonl docs/fleet.svg [TITLE]
//! ```
//!
//! Top: every write of the workload, at its start (x) and its latency (y, log
//! scale), a dot for a write that published and a cross for one kept local.
//! Bottom: records published per 10 s window, by when the write returned.

use std::fmt::Write as _;

const W: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: (f64, f64) = (40.0, 300.0);
const BOTTOM: (f64, f64) = (350.0, 520.0);
const WINDOW: f64 = 10.0;

struct Write {
    at: f64,
    ms: f64,
    published: bool,
    records: usize,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        eprintln!("usage: plot EVENTS.jsonl OUT.svg [TITLE]");
        std::process::exit(2);
    };
    let title = args.next().unwrap_or_else(|| "fleet run".to_owned());
    let text = std::fs::read_to_string(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
    let writes: Vec<Write> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["phase"] == 1 && e["published"].is_boolean())
        .map(|e| Write {
            at: e["at"].as_f64().unwrap_or(0.0),
            ms: e["ms"].as_f64().unwrap_or(0.0).max(1.0),
            published: e["published"] == true && e["code"] == 0,
            records: e["ids"].as_array().map_or(0, Vec::len),
        })
        .collect();
    assert!(!writes.is_empty(), "{input} holds no workload writes");
    std::fs::write(&output, svg(&writes, &title)).unwrap_or_else(|e| panic!("{output}: {e}"));
    eprintln!("wrote {output}: {} writes", writes.len());
}

fn svg(writes: &[Write], title: &str) -> String {
    let end = writes.iter().map(|w| w.at + w.ms / 1000.0).fold(0.0, f64::max).max(WINDOW);
    let x = |t: f64| LEFT + (W - LEFT - RIGHT) * t / end;
    let (lo, hi) = (1.0f64, 5.0f64); // log10 of 10 ms .. 100 s
    let y = |ms: f64| TOP.1 - (TOP.1 - TOP.0) * ((ms.log10().clamp(lo, hi) - lo) / (hi - lo));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="14">{title}</text>"#,
        h = BOTTOM.1 + 40.0,
        title = escape(title)
    );
    // Latency panel: decades as grid lines.
    for (decade, label) in [(1.0, "10 ms"), (2.0, "100 ms"), (3.0, "1 s"), (4.0, "10 s"), (5.0, "100 s")] {
        let yy = y(10f64.powf(decade));
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{r}" y1="{yy}" y2="{yy}" stroke="#ddd"/><text x="{tx}" y="{ty}" text-anchor="end">{label}</text>"##,
            r = W - RIGHT,
            tx = LEFT - 6.0,
            ty = yy + 4.0
        );
    }
    for w in writes {
        let (cx, cy) = (x(w.at), y(w.ms));
        if w.published {
            let _ = write!(s, r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="1.8" fill="#1f77b4" fill-opacity="0.6"/>"##);
        } else {
            let _ = write!(
                s,
                r##"<path d="M{a:.1},{b:.1}l4,4m0,-4l-4,4" stroke="#d62728" stroke-width="1"/>"##,
                a = cx - 2.0,
                b = cy - 2.0
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="{t}">write latency (start to answer), log scale; dots published, crosses kept local</text>"#,
        t = TOP.0 - 6.0
    );
    // Throughput panel.
    let n = (end / WINDOW).ceil() as usize;
    let mut per = vec![0usize; n.max(1)];
    for w in writes.iter().filter(|w| w.published) {
        let i = (((w.at + w.ms / 1000.0) / WINDOW) as usize).min(per.len() - 1);
        per[i] += w.records;
    }
    let peak = per.iter().copied().max().unwrap_or(1).max(1) as f64 / WINDOW;
    let yb = |rate: f64| BOTTOM.1 - (BOTTOM.1 - BOTTOM.0) * rate / peak;
    for (i, count) in per.iter().enumerate() {
        let rate = *count as f64 / WINDOW;
        let (x0, x1) = (x(i as f64 * WINDOW), x(((i + 1) as f64 * WINDOW).min(end)));
        let _ = write!(
            s,
            r##"<rect x="{x0:.1}" y="{t:.1}" width="{wd:.1}" height="{hh:.1}" fill="#2ca02c" fill-opacity="0.7"/>"##,
            t = yb(rate),
            wd = (x1 - x0 - 1.0).max(0.5),
            hh = BOTTOM.1 - yb(rate)
        );
    }
    for frac in [0.0, 0.5, 1.0] {
        let rate = peak * frac;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{r}" y1="{yy}" y2="{yy}" stroke="#ddd"/><text x="{tx}" y="{ty}" text-anchor="end">{rate:.1}/s</text>"##,
            r = W - RIGHT,
            yy = yb(rate),
            tx = LEFT - 6.0,
            ty = yb(rate) + 4.0
        );
    }
    let _ =
        write!(s, r#"<text x="{LEFT}" y="{t}">records published per second (10 s windows)</text>"#, t = BOTTOM.0 - 6.0);
    // Time axis.
    let step = [10.0, 30.0, 60.0, 300.0, 600.0, 1800.0].into_iter().find(|s| end / s <= 12.0).unwrap_or(3600.0);
    let mut t = 0.0;
    while t <= end {
        let _ = write!(
            s,
            r#"<text x="{xx:.1}" y="{yy}" text-anchor="middle">{t:.0} s</text>"#,
            xx = x(t),
            yy = BOTTOM.1 + 18.0
        );
        t += step;
    }
    s.push_str("</svg>\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
