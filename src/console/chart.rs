//! Bar charts drawn by the server as SVG (no script, no external library): the page works
//! without JavaScript and prints as it shows. Colours come from the stylesheet (`.s1`, `.s2`).

use std::fmt::Write as _;

/// One series of a grouped bar chart.
pub struct Series<'a> {
    pub name: &'a str,
    /// CSS class giving the colour.
    pub class: &'a str,
    pub values: Vec<f64>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}").replace('.', ",")
    }
}

/// Widths of the drawings, in CSS pixels: they are shown at most this wide, never scaled up,
/// so their text keeps its size.
const COLUMNS_W: f64 = 520.0;
const BARS_W: f64 = 760.0;

/// Vertical grouped bars: one group per label, one bar per series, with a legend.
pub fn columns(title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    const W: f64 = COLUMNS_W;
    let h = 260.0;
    let (left, right, top, bottom) = (44.0, 10.0, 28.0, 36.0);
    let plot_w = W - left - right;
    let plot_h = h - top - bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    // gridlines at a round step (whole numbers for counts)
    let step = nice_ceiling(max / 4.0).max(1.0);
    let ticks = (max / step).ceil().max(1.0) as u32;
    let scale_max = step * f64::from(ticks);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" width="{W}" viewBox="0 0 {W} {h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for i in 0..=ticks {
        let v = step * f64::from(i);
        let y = top + plot_h - plot_h * v / scale_max;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{left}" y1="{y:.1}" x2="{x2}" y2="{y:.1}"/><text class="axis" x="{tx}" y="{ty:.1}" text-anchor="end">{v}</text>"#,
            x2 = W - right,
            tx = left - 6.0,
            ty = y + 4.0,
            v = number(v)
        );
    }
    let groups = labels.len().max(1) as f64;
    let group_w = plot_w / groups;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).max(1.0);
    // at most ~16 labels under the axis
    let every = (labels.len() / 16).max(1);
    for (i, label) in labels.iter().enumerate() {
        let gx = left + group_w * i as f64 + group_w * 0.1;
        for (j, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0);
            let bh = plot_h * v / scale_max;
            let _ = write!(
                svg,
                r#"<rect class="{c}" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{bh:.1}"><title>{l} – {n}: {v}</title></rect>"#,
                c = esc(s.class),
                x = gx + bar_w * j as f64,
                y = top + plot_h - bh,
                l = esc(label),
                n = esc(s.name),
                v = number(v)
            );
        }
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{x:.1}" y="{y}" text-anchor="middle">{l}</text>"#,
                x = left + group_w * i as f64 + group_w / 2.0,
                y = h - bottom + 16.0,
                l = esc(label)
            );
        }
    }
    legend(
        &mut svg,
        series.iter().map(|s| (s.name, s.class)),
        left,
        16.0,
    );
    svg.push_str("</svg>");
    svg
}

/// Characters of a bar's label per line: longer labels wrap, never cut.
const LABEL_CHARS: usize = 50;

/// `text` in lines of at most `width` characters, broken between words (a word longer than
/// a line is broken inside).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Horizontal bars, one per labelled value (e.g. reasons of failed attempts); a long label
/// wraps onto more lines and its row grows.
pub fn bars(title: &str, items: &[(String, f64)], class: &str) -> String {
    const W: f64 = BARS_W;
    const LINE: f64 = 15.0;
    let (label_w, top) = (380.0, 8.0);
    let wrapped: Vec<Vec<String>> = items.iter().map(|i| wrap(&i.0, LABEL_CHARS)).collect();
    let row_h = |lines: usize| (LINE * lines as f64 + 11.0).max(26.0);
    let h = top * 2.0
        + if items.is_empty() {
            26.0
        } else {
            wrapped.iter().map(|l| row_h(l.len())).sum()
        };
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max).max(1.0);
    let plot_w = W - label_w - 60.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" width="{W}" viewBox="0 0 {W} {h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    let mut y = top;
    for ((label, v), lines) in items.iter().zip(&wrapped) {
        let rh = row_h(lines.len());
        let bw = plot_w * v / max;
        let bh = 18.0;
        let by = y + (rh - bh) / 2.0;
        // the label's lines centred on the bar
        let first = y + rh / 2.0 - LINE * (lines.len() as f64 - 1.0) / 2.0 + 4.0;
        let _ = write!(
            svg,
            r#"<text class="axis" x="{lx}" y="{first:.1}" text-anchor="end">"#,
            lx = label_w - 8.0
        );
        for (i, line) in lines.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<tspan x="{lx}" dy="{dy}">{l}</tspan>"#,
                lx = label_w - 8.0,
                dy = if i == 0 { 0.0 } else { LINE },
                l = esc(line)
            );
        }
        let _ = write!(
            svg,
            r#"</text><rect class="{c}" x="{label_w}" y="{by:.1}" width="{bw:.1}" height="{bh}"><title>{full}: {v}</title></rect><text class="value" x="{vx:.1}" y="{ty:.1}">{v}</text>"#,
            c = esc(class),
            full = esc(label),
            vx = label_w + bw + 6.0,
            ty = by + bh * 0.75,
            v = number(*v)
        );
        y += rh;
    }
    if items.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{x}" y="{y}">Không có dữ liệu</text>"#,
            x = 10.0,
            y = top + 26.0 * 0.6
        );
    }
    svg.push_str("</svg>");
    svg
}

fn legend<'a>(svg: &mut String, items: impl Iterator<Item = (&'a str, &'a str)>, x0: f64, y: f64) {
    let mut x = x0;
    for (name, class) in items {
        let _ = write!(
            svg,
            r#"<rect class="{c}" x="{x}" y="{ry}" width="12" height="12"/><text class="axis" x="{tx}" y="{y}">{n}</text>"#,
            c = esc(class),
            ry = y - 10.0,
            tx = x + 16.0,
            n = esc(name)
        );
        x += 24.0 + 8.0 * name.chars().count() as f64;
    }
}

/// 1, 2, 5 × 10ⁿ at or above `v`: gridline values people read easily.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        assert_eq!(nice_ceiling(0.75), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(17.0), 20.0);
        assert_eq!(nice_ceiling(480.0), 500.0);
    }

    #[test]
    fn charts_escape_their_text() {
        let svg = columns(
            "A <b>",
            &["27/11".into()],
            &[Series {
                name: "x&y",
                class: "s1",
                values: vec![3.0],
            }],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("A &lt;b&gt;"));
        assert!(svg.contains("x&amp;y"));
        assert_eq!(svg.matches("<rect class=\"s1\"").count(), 2); // bar and legend
        let svg = bars("Lý do", &[("Người nhận vắng nhà".into(), 2.0)], "s2");
        assert!(svg.contains("Người nhận vắng nhà"));
        assert!(svg.contains(">2</text>"));
    }

    #[test]
    fn long_labels_wrap_and_are_not_cut() {
        let label = "Thu gom không thành công – Không liên lạc được người gửi sau ba lần gọi";
        let lines = wrap(label, LABEL_CHARS);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= LABEL_CHARS));
        assert_eq!(lines.join(" "), label);
        let svg = bars("Lý do", &[(label.into(), 1.0)], "s3");
        assert!(!svg.contains('…'));
        for l in &lines {
            assert!(svg.contains(l.as_str()), "{l} in {svg}");
        }
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
        assert_eq!(wrap("", 4), [""]);
    }
}
