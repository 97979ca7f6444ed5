//! A small line chart as an SVG document, built as a string (no I/O, no plotting stack).
//!
//! The x axis is logarithmic (sequence lengths double), the y axis linear from 0 to the
//! largest value (or 1 for ratios). Text is escaped for XML.

use std::fmt::Write as _;

/// One line of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// (x, y) points, x > 0.
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Fix the y axis to 0..1 and label it in percent.
    pub y_is_ratio: bool,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn tick_label(x: f64) -> String {
    if x >= 1024.0 && x % 1024.0 == 0.0 {
        format!("{}K", x / 1024.0)
    } else {
        format!("{x}")
    }
}

/// The chart as a complete SVG document.
pub fn render(chart: &Chart) -> String {
    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| *x > 0.0 && x.is_finite())
        .collect();
    let (x_min, x_max) = xs.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(*x), hi.max(*x))
    });
    let y_max = if chart.y_is_ratio {
        1.0
    } else {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite())
            .fold(0.0f64, f64::max)
            .max(f64::MIN_POSITIVE)
            * 1.05
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let span = if x_max > x_min {
        (x_max / x_min).ln()
    } else {
        1.0
    };
    let px = |x: f64| {
        if x_max > x_min {
            LEFT + (x / x_min).ln() / span * plot_w
        } else {
            LEFT + plot_w / 2.0
        }
    };
    let py = |y: f64| TOP + plot_h - (y / y_max).clamp(0.0, 1.0) * plot_h;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="28" font-size="15" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        escape(&chart.title)
    );
    // Axes, grid and ticks.
    let _ = writeln!(
        out,
        r#"<path d="M{LEFT},{TOP} V{} H{}" fill="none" stroke="black"/>"#,
        TOP + plot_h,
        LEFT + plot_w
    );
    for i in 0..=5 {
        let y = y_max * i as f64 / 5.0;
        let label = if chart.y_is_ratio {
            format!("{:.0} %", y * 100.0)
        } else {
            crate::units::si(y).trim_end().to_string()
        };
        let (x2, y_pos, label_x, label_y) = (LEFT + plot_w, py(y), LEFT - 6.0, py(y) + 4.0);
        let label = escape(&label);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y_pos}" y2="{y_pos}" stroke="#ddd"/><text x="{label_x}" y="{label_y}" text-anchor="end">{label}</text>"##
        );
    }
    let mut ticks = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for x in ticks {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            TOP + plot_h + 18.0,
            escape(&tick_label(x))
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 15.0,
        escape(&chart.x_label)
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        escape(&chart.y_label)
    );
    for (i, series) in chart.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = series
            .points
            .iter()
            .filter(|p| p.0 > 0.0 && p.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for point in &path {
            let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(out, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>"#);
        }
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let lx = LEFT + plot_w + 15.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(&series.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_one_svg_document_with_a_line_per_series_and_escaped_text() {
        let chart = Chart {
            title: "attention share <llama & co>".to_string(),
            x_label: "sequence length".to_string(),
            y_label: "share".to_string(),
            y_is_ratio: true,
            series: vec![
                Series {
                    label: "full".to_string(),
                    points: vec![(2048.0, 0.1), (8192.0, 0.3), (32768.0, 0.6)],
                },
                Series {
                    label: "causal".to_string(),
                    points: vec![(2048.0, 0.05), (8192.0, 0.17), (32768.0, 0.4)],
                },
            ],
        };
        let svg = render(&chart);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("attention share &lt;llama &amp; co&gt;"));
        assert!(svg.contains(">32K<"));
        // The first point sits on the left edge, the last on the right edge of the plot.
        assert!(svg.contains(&format!("{:.1},", LEFT)));
        assert!(svg.contains(&format!("{:.1},", WIDTH - RIGHT)));
    }
}
