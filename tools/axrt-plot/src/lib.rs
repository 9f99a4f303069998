// SPDX-License-Identifier: GPL-2.0-only
//
// A small SVG writer: grouped bar charts (one panel per figure, groups along x, one bar per
// series, the value printed above each bar) and line charts (one polyline per series, for
// example latency CDFs, with an optional log x axis). Plain SVG 1.1 text, so the picture
// renders in a browser and on a README page with no plotting library.

use std::fmt::Write as _;

/// Colours of the series, in order.
const COLOURS: [&str; 6] = [
    "#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377",
];
const PANEL_W: f64 = 330.0;
const PANEL_H: f64 = 260.0;

/// One grouped bar chart.
pub struct Chart {
    /// Title above the panel.
    pub title: String,
    /// Unit appended to values ("%", " pts").
    pub unit: &'static str,
    /// Series names (the legend), one bar per series in every group.
    pub series: Vec<String>,
    /// Groups: label and one value per series (None: no figure).
    pub groups: Vec<(String, Vec<Option<f64>>)>,
    /// A horizontal reference line (for example the budget, 100 %).
    pub reference: Option<f64>,
    /// The top of the y axis (None: a round value above the largest bar).
    pub y_max: Option<f64>,
}

/// A "nice" axis top at or above `v`: 1, 2 or 5 times a power of ten.
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&c| c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * p)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A value as printed above its bar.
pub fn value_label(v: f64, unit: &str) -> String {
    let digits = if v.abs() >= 10.0 {
        0
    } else if v.abs() >= 1.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{unit}")
}

/// Something drawn in one panel of [`svg_panels`].
pub trait Panel {
    /// The panel's SVG elements, drawn with its top-left corner at (x, y).
    fn render(&self, x: f64, y: f64) -> String;
}

/// A line chart: one polyline per series over a common x axis.
pub struct LineChart {
    /// Title above the panel.
    pub title: String,
    /// Label of the x axis (with its unit).
    pub x_label: String,
    /// Unit appended to y values ("%").
    pub y_unit: &'static str,
    /// Top of the y axis (for example 100 for a CDF in %).
    pub y_max: f64,
    /// A log10 x axis (values <= 0 are left out).
    pub log_x: bool,
    /// Series: name and points (x, y), in x order.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// The legend: a colour swatch and the name of each series, along the top of a panel (for
/// one series only if `always`); names longer than their room are cut.
fn legend(s: &mut String, names: &[&str], left: f64, y: f64, always: bool) {
    let step = if names.len() > 2 {
        (PANEL_W - 60.0) / names.len() as f64
    } else {
        120.0
    };
    let room = ((step - 18.0) / 6.5) as usize;
    for (i, name) in names
        .iter()
        .enumerate()
        .filter(|_| always || names.len() > 1)
    {
        let name: String = if name.chars().count() > room {
            name.chars()
                .take(room.saturating_sub(1))
                .chain(['…'])
                .collect()
        } else {
            name.to_string()
        };
        let name = name.as_str();
        let lx = left + i as f64 * step;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            y + 28.0,
            COLOURS[i % COLOURS.len()],
            lx + 14.0,
            y + 37.0,
            escape(name)
        );
    }
}

fn title(s: &mut String, text: &str, x: f64, y: f64) {
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="13" font-weight="bold" text-anchor="middle">{}</text>"#,
        x + PANEL_W / 2.0,
        y + 18.0,
        escape(text)
    );
}

impl Panel for LineChart {
    fn render(&self, x: f64, y: f64) -> String {
        let mut s = String::new();
        let (left, top, bottom) = (x + 48.0, y + 52.0, y + PANEL_H - 36.0);
        let right = x + PANEL_W - 12.0;
        title(&mut s, &self.title, x, y);
        let names: Vec<&str> = self.series.iter().map(|(n, _)| n.as_str()).collect();
        legend(&mut s, &names, left, y, true);
        let xs = || {
            self.series
                .iter()
                .flat_map(|(_, p)| p.iter().map(|q| q.0))
                .filter(|&v| !self.log_x || v > 0.0)
        };
        let fx = |v: f64| if self.log_x { v.log10() } else { v };
        let (lo, hi) = (
            xs().map(fx).fold(f64::INFINITY, f64::min),
            xs().map(fx).fold(f64::NEG_INFINITY, f64::max),
        );
        let (lo, hi) = if lo.is_finite() && hi > lo {
            if self.log_x {
                (lo.floor(), hi.ceil())
            } else {
                (0.0, nice_ceiling(hi))
            }
        } else {
            (0.0, 1.0)
        };
        let x_of = |v: f64| left + ((fx(v) - lo) / (hi - lo)).clamp(0.0, 1.0) * (right - left);
        let y_of = |v: f64| bottom - (v / self.y_max).clamp(0.0, 1.0) * (bottom - top);
        let _ = writeln!(
            s,
            r##"<line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="#333"/><line x1="{left:.1}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="#333"/>"##
        );
        for v in [0.0, self.y_max / 2.0, self.y_max] {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"#,
                left - 4.0,
                y_of(v) + 3.0,
                value_label(v, self.y_unit)
            );
        }
        // x ticks: every power of ten on a log axis, else 0, middle, top.
        let ticks: Vec<f64> = if self.log_x {
            (lo as i32..=hi as i32).map(|e| 10f64.powi(e)).collect()
        } else {
            vec![lo, (lo + hi) / 2.0, hi]
        };
        for t in ticks {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                x_of(t),
                bottom + 13.0,
                value_label(t, "")
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
            (left + right) / 2.0,
            bottom + 28.0,
            escape(&self.x_label)
        );
        for (i, (_, points)) in self.series.iter().enumerate() {
            let pts: Vec<String> = points
                .iter()
                .filter(|p| !self.log_x || p.0 > 0.0)
                .map(|&(px, py)| format!("{:.1},{:.1}", x_of(px), y_of(py)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
                COLOURS[i % COLOURS.len()],
                pts.join(" ")
            );
        }
        s
    }
}

impl Panel for Chart {
    fn render(&self, x: f64, y: f64) -> String {
        let mut s = String::new();
        let (left, top, bottom) = (x + 48.0, y + 52.0, y + PANEL_H - 36.0);
        let right = x + PANEL_W - 12.0;
        let max = self
            .groups
            .iter()
            .flat_map(|(_, v)| v.iter().flatten())
            .copied()
            .chain(self.reference)
            .fold(0.0, f64::max);
        let top_value = self.y_max.unwrap_or_else(|| nice_ceiling(max * 1.15));
        let y_of = |v: f64| bottom - (v / top_value).clamp(0.0, 1.0) * (bottom - top);
        title(&mut s, &self.title, x, y);
        let names: Vec<&str> = self.series.iter().map(String::as_str).collect();
        legend(&mut s, &names, left, y, false);
        let _ = writeln!(
            s,
            r##"<line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="#333"/><line x1="{left:.1}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="#333"/>"##
        );
        for v in [0.0, top_value / 2.0, top_value] {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"#,
                left - 4.0,
                y_of(v) + 3.0,
                value_label(v, self.unit)
            );
        }
        if let Some(r) = self.reference {
            let _ = writeln!(
                s,
                r##"<line x1="{left:.1}" y1="{0:.1}" x2="{right:.1}" y2="{0:.1}" stroke="#888" stroke-dasharray="4 3"/>"##,
                y_of(r)
            );
        }
        let group_w = (right - left) / self.groups.len().max(1) as f64;
        let bar_w = (group_w * 0.8) / self.series.len().max(1) as f64;
        for (g, (label, values)) in self.groups.iter().enumerate() {
            let gx = left + g as f64 * group_w + group_w * 0.1;
            for (i, v) in values.iter().enumerate() {
                let bx = gx + i as f64 * bar_w;
                let cx = bx + bar_w / 2.0;
                match v {
                    Some(v) => {
                        let by = y_of(*v);
                        let _ = writeln!(
                            s,
                            r#"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{}"/><text x="{cx:.1}" y="{:.1}" font-size="9" text-anchor="middle">{}</text>"#,
                            bar_w - 2.0,
                            bottom - by,
                            COLOURS[i % COLOURS.len()],
                            by - 3.0,
                            value_label(*v, self.unit)
                        );
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            r#"<text x="{cx:.1}" y="{:.1}" font-size="9" text-anchor="middle">n/a</text>"#,
                            bottom - 3.0
                        );
                    }
                }
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
                gx + group_w * 0.4,
                bottom + 15.0,
                escape(label)
            );
        }
        s
    }
}

/// A picture with the charts side by side and a caption line below them.
pub fn svg(charts: &[Chart], caption: &str) -> String {
    let panels: Vec<&dyn Panel> = charts.iter().map(|c| c as &dyn Panel).collect();
    svg_panels(&panels, caption)
}

/// A picture with panels of any kind side by side and a caption line below them.
pub fn svg_panels(charts: &[&dyn Panel], caption: &str) -> String {
    let w = PANEL_W * charts.len() as f64;
    let h = PANEL_H + 24.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
"#
    );
    for (i, c) in charts.iter().enumerate() {
        s += &c.render(i as f64 * PANEL_W, 0.0);
    }
    let _ = writeln!(
        s,
        r##"<text x="8" y="{:.1}" font-size="10" fill="#555">{}</text>"##,
        h - 8.0,
        escape(caption)
    );
    s + "</svg>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_nice() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(37.0), 50.0);
        assert_eq!(nice_ceiling(115.0), 200.0);
    }

    #[test]
    fn labels_keep_small_values_readable() {
        assert_eq!(value_label(0.034, "%"), "0.03%");
        assert_eq!(value_label(2.54, " pts"), "2.5 pts");
        assert_eq!(value_label(103.4, "%"), "103%");
    }

    #[test]
    fn line_charts_draw_one_polyline_per_series_on_a_log_axis() {
        let c = LineChart {
            title: "CDF".into(),
            x_label: "us".into(),
            y_unit: "%",
            y_max: 100.0,
            log_x: true,
            series: vec![
                ("a".into(), vec![(1.0, 0.0), (10.0, 50.0), (1000.0, 100.0)]),
                ("b".into(), vec![(0.0, 0.0), (100.0, 100.0)]),
            ],
        };
        let s = svg_panels(&[&c], "x");
        assert_eq!(s.matches("<polyline").count(), 2);
        // Ticks at 1, 10, 100 and 1000; b's point at 0 is left out of the log axis.
        assert!(s.contains(">1000<") && s.contains(">1.0<"));
        assert_eq!(s.matches("points=\"").count(), 2);
        let b = s.lines().filter(|l| l.contains("polyline")).nth(1).unwrap();
        assert_eq!(b.matches(',').count(), 1);
    }

    #[test]
    fn every_value_gets_a_bar_and_a_label() {
        let c = Chart {
            title: "misses <rt>".into(),
            unit: "%",
            series: vec!["s1".into(), "s3".into()],
            groups: vec![
                ("default".into(), vec![Some(12.6), Some(40.0)]),
                ("scx_axrt".into(), vec![Some(0.0), None]),
            ],
            reference: Some(100.0),
            y_max: None,
        };
        let s = svg(&[c], "caption & more");
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
        // 3 bars plus 2 legend swatches plus the background.
        assert_eq!(s.matches("<rect").count(), 6);
        assert!(s.contains(">13%<") && s.contains(">40%<") && s.contains(">0.00%<"));
        assert!(s.contains(">n/a<"));
        assert!(s.contains("misses &lt;rt&gt;") && s.contains("caption &amp; more"));
        assert!(s.contains("stroke-dasharray"));
    }
}
