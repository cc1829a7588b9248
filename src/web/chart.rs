//! Charts drawn on the server as small inline SVG: vertical bars (hourly sales, periods), a line
//! (daily trend) and horizontal bars (rankings, shares). Pure functions from labels and integer
//! values to SVG text; no script, no external font (the page's own `sans-serif`), every label
//! escaped. Axis ticks are "nice numbers" (1, 2 or 5 × 10ⁿ) covering the data from zero.
//! Floats appear only in pixel geometry, never in the values shown.

use std::fmt::Write;

use crate::domain::money::format_yuan;

/// What the values are, for tick and value labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Integer fen, shown as yuan.
    Fen,
    /// Basis points, shown as percent.
    Bp,
    /// Plain counts.
    Count,
}

impl Unit {
    /// A value as the chart prints it: `¥1,200` (whole yuan without cents), `¥12.50`, `25%`,
    /// `12.5%`, `1,234`.
    pub fn format(self, v: i64) -> String {
        match self {
            Unit::Fen if v % 100 == 0 => {
                let s = format_yuan(v);
                s.strip_suffix(".00").map(str::to_string).unwrap_or(s)
            }
            Unit::Fen => format_yuan(v),
            Unit::Bp => {
                let (whole, frac) = (v / 100, (v % 100).abs());
                let sign = if v < 0 && whole == 0 { "-" } else { "" };
                match frac {
                    0 => format!("{sign}{whole}%"),
                    f if f % 10 == 0 => format!("{sign}{whole}.{}%", f / 10),
                    f => format!("{sign}{whole}.{f:02}%"),
                }
            }
            Unit::Count => group_thousands(v),
        }
    }
}

fn group_thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Escapes text for SVG/XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// The smallest "nice" step (1, 2 or 5 × 10ⁿ, at least 1) that is ≥ `raw`.
pub fn nice_step(raw: i64) -> i64 {
    if raw <= 1 {
        return 1;
    }
    let mut pow: i64 = 1;
    loop {
        for m in [1, 2, 5] {
            match pow.checked_mul(m) {
                Some(step) if step >= raw => return step,
                Some(_) => {}
                None => return i64::MAX,
            }
        }
        match pow.checked_mul(10) {
            Some(p) => pow = p,
            None => return i64::MAX,
        }
    }
}

/// Ticks from a multiple of the step at or below min(0, lo) to one at or above max(0, hi), with
/// at most about `target` intervals: e.g. 0..=1 998 with 4 → 0, 500, 1 000, 1 500, 2 000. All
/// zero gives 0 and 1.
pub fn nice_ticks(lo: i64, hi: i64, target: usize) -> Vec<i64> {
    let (lo, hi) = (lo.min(0), hi.max(0));
    let span = i128::from(hi) - i128::from(lo);
    if span == 0 {
        return vec![0, 1];
    }
    let target = i128::try_from(target.max(1)).unwrap_or(1);
    let raw = i64::try_from((span + target - 1) / target).unwrap_or(i64::MAX);
    let step = nice_step(raw);
    let first = lo.div_euclid(step).saturating_mul(step);
    let mut ticks = Vec::new();
    let mut t = first;
    loop {
        ticks.push(t);
        if t >= hi || ticks.len() > 64 {
            break;
        }
        match t.checked_add(step) {
            Some(n) => t = n,
            None => break,
        }
    }
    ticks
}

/// Size of a chart in SVG user units (it scales to its container).
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Default for Size {
    fn default() -> Self {
        Size { width: 720, height: 240 }
    }
}

const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Gap between the axis (and the right edge) and the first (last) point of a line.
const INSET: f64 = 28.0;
/// Most x labels written under a chart (every k-th beyond that).
const MAX_X_LABELS: usize = 12;

fn open(out: &mut String, title: &str, w: f64, h: f64) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><title>{t}</title>"#,
        t = escape(title)
    );
}

/// The vertical axis: grid lines and tick labels; returns the value → y mapping's ends.
fn y_axis(out: &mut String, ticks: &[i64], unit: Unit, w: f64, h: f64) -> (i64, i64) {
    let (lo, hi) = (ticks.first().copied().unwrap_or(0), ticks.last().copied().unwrap_or(1));
    for t in ticks {
        let y = y_of(*t, lo, hi, h);
        let _ = write!(out, r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#dde1e6"/>"##, x2 = w - RIGHT);
        let _ = write!(out, r##"<text x="{x:.1}" y="{ty:.1}" text-anchor="end" fill="#5f6b76">{label}</text>"##, x = LEFT - 6.0, ty = y + 4.0, label = escape(&unit.format(*t)));
    }
    (lo, hi)
}

fn y_of(v: i64, lo: i64, hi: i64, h: f64) -> f64 {
    let span = (hi - lo).max(1) as f64;
    let plot = h - TOP - BOTTOM;
    TOP + plot * (1.0 - (v - lo) as f64 / span)
}

fn x_labels(out: &mut String, labels: &[String], centre: impl Fn(usize) -> f64, h: f64) {
    let every = labels.len().div_ceil(MAX_X_LABELS).max(1);
    for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(out, r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" fill="#5f6b76">{l}</text>"##, x = centre(i), y = h - BOTTOM + 16.0, l = escape(l));
    }
}

fn no_data(out: &mut String, w: f64, h: f64) {
    let _ = write!(out, r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" fill="#5f6b76">—</text>"##, x = w / 2.0, y = h / 2.0);
}

/// Vertical bars, one per label, from zero.
pub fn bars(title: &str, labels: &[String], values: &[i64], unit: Unit, size: Size) -> String {
    let (w, h) = (f64::from(size.width), f64::from(size.height));
    let n = labels.len().min(values.len());
    let mut out = String::with_capacity(256 + n * 160);
    open(&mut out, title, w, h);
    let lo = values[..n].iter().copied().min().unwrap_or(0);
    let hi = values[..n].iter().copied().max().unwrap_or(0);
    let ticks = nice_ticks(lo, hi, 4);
    let (tlo, thi) = y_axis(&mut out, &ticks, unit, w, h);
    if n == 0 {
        no_data(&mut out, w, h);
    } else {
        let band = (w - LEFT - RIGHT) / n as f64;
        let bar = (band * 0.7).max(1.0);
        let zero = y_of(0, tlo, thi, h);
        for i in 0..n {
            let y = y_of(values[i], tlo, thi, h);
            let (top, height) = if y < zero { (y, zero - y) } else { (zero, y - zero) };
            let x = LEFT + band * i as f64 + (band - bar) / 2.0;
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{top:.1}" width="{bar:.1}" height="{height:.1}" fill="#2471a3"><title>{t}</title></rect>"##,
                t = escape(&format!("{}: {}", labels[i], unit.format(values[i])))
            );
        }
        x_labels(&mut out, &labels[..n], |i| LEFT + band * (i as f64 + 0.5), h);
    }
    out.push_str("</svg>");
    out
}

/// A line through the values, with a dot per point.
pub fn line(title: &str, labels: &[String], values: &[i64], unit: Unit, size: Size) -> String {
    let (w, h) = (f64::from(size.width), f64::from(size.height));
    let n = labels.len().min(values.len());
    let mut out = String::with_capacity(256 + n * 120);
    open(&mut out, title, w, h);
    let lo = values[..n].iter().copied().min().unwrap_or(0);
    let hi = values[..n].iter().copied().max().unwrap_or(0);
    let ticks = nice_ticks(lo, hi, 4);
    let (tlo, thi) = y_axis(&mut out, &ticks, unit, w, h);
    if n == 0 {
        no_data(&mut out, w, h);
    } else {
        // Inset from the axis and the edge so the first and last labels fit.
        let (inset, plot) = (INSET, w - LEFT - RIGHT - 2.0 * INSET);
        let x_of = |i: usize| if n == 1 { LEFT + inset + plot / 2.0 } else { LEFT + inset + plot * i as f64 / (n - 1) as f64 };
        let points: Vec<String> = (0..n).map(|i| format!("{:.1},{:.1}", x_of(i), y_of(values[i], tlo, thi, h))).collect();
        let _ = write!(out, r##"<polyline points="{}" fill="none" stroke="#2471a3" stroke-width="2"/>"##, points.join(" "));
        for i in 0..n {
            let _ = write!(
                out,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#2471a3"><title>{t}</title></circle>"##,
                x = x_of(i),
                y = y_of(values[i], tlo, thi, h),
                t = escape(&format!("{}: {}", labels[i], unit.format(values[i])))
            );
        }
        x_labels(&mut out, &labels[..n], x_of, h);
    }
    out.push_str("</svg>");
    out
}

/// Labels longer than this many characters are cut with "…".
const MAX_LABEL_CHARS: usize = 14;

fn cut(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_string();
    }
    let mut s: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// Horizontal bars with their labels on the left and values at the end (negative values draw
/// nothing but keep their row and value).
pub fn hbars(title: &str, labels: &[String], values: &[i64], unit: Unit, width: u32) -> String {
    const ROW: f64 = 24.0;
    const LABEL_W: f64 = 150.0;
    const VALUE_W: f64 = 90.0;
    let n = labels.len().min(values.len());
    let w = f64::from(width);
    let h = (n.max(1) as f64) * ROW + 8.0;
    let mut out = String::with_capacity(256 + n * 220);
    open(&mut out, title, w, h);
    if n == 0 {
        no_data(&mut out, w, h);
    }
    let max = values[..n].iter().copied().max().unwrap_or(0).max(1);
    let plot = (w - LABEL_W - VALUE_W).max(10.0);
    for i in 0..n {
        let y = 4.0 + ROW * i as f64;
        let len = if values[i] > 0 { plot * values[i] as f64 / max as f64 } else { 0.0 };
        let _ = write!(
            out,
            r##"<text x="{lx:.1}" y="{ty:.1}" text-anchor="end">{label}</text><rect x="{LABEL_W}" y="{ry:.1}" width="{len:.1}" height="{bh:.1}" fill="#2471a3"><title>{t}</title></rect><text x="{vx:.1}" y="{ty:.1}" fill="#5f6b76">{v}</text>"##,
            lx = LABEL_W - 6.0,
            ty = y + ROW / 2.0 + 4.0,
            label = escape(&cut(&labels[i])),
            ry = y + 4.0,
            bh = ROW - 8.0,
            t = escape(&format!("{}: {}", labels[i], unit.format(values[i]))),
            vx = LABEL_W + len + 6.0,
            v = escape(&unit.format(values[i])),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn ticks_are_nice_numbers_covering_the_data() {
        // ¥19.98 at most, about 4 intervals: step ⌈1998 / 4⌉ = 500 → 500.
        assert_eq!(nice_ticks(0, 1_998, 4), vec![0, 500, 1_000, 1_500, 2_000]);
        // 7 tickets: step ⌈7/4⌉ = 2.
        assert_eq!(nice_ticks(0, 7, 4), vec![0, 2, 4, 6, 8]);
        // 123 456 fen: raw 30 864 → 50 000.
        assert_eq!(nice_ticks(0, 123_456, 4), vec![0, 50_000, 100_000, 150_000]);
        // A negative net day: from −300 to 800, raw 275 → 500.
        assert_eq!(nice_ticks(-300, 800, 4), vec![-500, 0, 500, 1_000]);
        assert_eq!(nice_ticks(0, 0, 4), vec![0, 1]);
        assert_eq!(nice_ticks(0, 1, 4), vec![0, 1]);
        assert_eq!(nice_step(3), 5);
        assert_eq!(nice_step(11), 20);
        assert_eq!(nice_step(i64::MAX), i64::MAX);
        assert!(nice_ticks(i64::MIN, i64::MAX, 4).len() <= 66);
    }

    #[test]
    fn units_print_yuan_percent_and_counts() {
        assert_eq!(Unit::Fen.format(120_000), "¥1,200");
        assert_eq!(Unit::Fen.format(1_250), "¥12.50");
        assert_eq!(Unit::Bp.format(2_500), "25%");
        assert_eq!(Unit::Bp.format(1_250), "12.5%");
        assert_eq!(Unit::Bp.format(7_854), "78.54%");
        assert_eq!(Unit::Bp.format(-50), "-0.5%");
        assert_eq!(Unit::Count.format(1_234_567), "1,234,567");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape(r#"<a & "b">'"#), "&lt;a &amp; &quot;b&quot;&gt;&#39;");
        let svg = hbars("T<itle>", &["<script>".to_string()], &[5], Unit::Count, 400);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("<title>T&lt;itle&gt;</title>"));
    }

    #[test]
    fn a_bar_chart_has_one_bar_per_value_and_its_ticks() {
        let values: Vec<i64> = (0..24).map(|h| if h == 9 { 1_998 } else if h == 14 { 798 } else { 0 }).collect();
        let svg = bars("每小时销售", &labels(24), &values, Unit::Fen, Size::default());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 24);
        assert!(svg.contains("9: ¥19.98"));
        assert!(svg.contains(">¥20<"), "the top tick is ¥20: {svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // Twelve labels at most under the axis: every second hour.
        assert!(svg.contains(">22</text>") && !svg.contains(">23</text>"));
    }

    #[test]
    fn a_line_has_a_point_per_value_and_empty_charts_say_so() {
        let svg = line("趋势", &labels(3), &[100, 300, 200], Unit::Fen, Size::default());
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 1);
        let single = line("趋势", &labels(1), &[100], Unit::Fen, Size::default());
        assert!(!single.contains("NaN"));
        let empty = bars("空", &[], &[], Unit::Count, Size::default());
        assert!(empty.contains(">—<") && !empty.contains("<rect"));
    }

    #[test]
    fn horizontal_bars_are_as_long_as_their_share_and_cut_long_labels() {
        let svg = hbars("品类", &["水果".into(), "一个非常非常非常非常长的品类名称".into(), "退货".into()], &[6_918, 3_082, -10], Unit::Bp, 600);
        assert_eq!(svg.matches("<rect").count(), 3);
        // The longest bar fills the plot: 600 − 150 − 90 = 360.
        assert!(svg.contains(r#"width="360.0""#), "{svg}");
        assert!(svg.contains(r#"width="0.0""#), "a negative value draws nothing");
        assert!(svg.contains("一个非常非常非常非常长的品…"));
        assert!(svg.contains("69.18%"));
    }
}
