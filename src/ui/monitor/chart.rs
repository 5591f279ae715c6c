//! One chart on the monitor's shared time axis: x is seconds before now, every chart
//! has the same span, and markers are vertical lines at the same x in each.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker as Dot;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};

use crate::ui::Theme;

/// One line of a chart: `(seconds before now (≤ 0), value)` points.
pub struct Series {
    pub name: String,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

/// `-5m`, `-2m30s`, `-45s`, `now`.
pub fn ago(secs: f64) -> String {
    let s = secs.abs().round() as i64;
    match (s / 60, s % 60) {
        (0, 0) => "now".into(),
        (0, r) => format!("-{r}s"),
        (m, 0) => format!("-{m}m"),
        (m, r) => format!("-{m}m{r}s"),
    }
}

/// A bound a little above `v`, with a short label.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0] {
        if m * mag >= v * 1.02 {
            return m * mag;
        }
    }
    20.0 * mag
}

fn fmt(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub struct Spec<'a> {
    pub title: String,
    pub span: f64,
    pub series: Vec<Series>,
    /// Seconds before now, and the line's style.
    pub markers: &'a [(f64, Style)],
    /// The y axis goes at least this high.
    pub min_max: f64,
    /// The legend, in the title (a chart's own legend box covers the lines); `None`:
    /// each series' name in its colour.
    pub legend: Option<Vec<Span<'static>>>,
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, spec: Spec<'_>) {
    let span = spec.span.max(1.0);
    let series: Vec<Series> = spec
        .series
        .into_iter()
        .map(|mut s| {
            s.points.retain(|(x, y)| *x >= -span && y.is_finite());
            s
        })
        .collect();
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(spec.min_max, f64::max);
    let ymax = nice_max(top);
    let marks: Vec<([(f64, f64); 2], Style)> = spec
        .markers
        .iter()
        .filter(|(x, _)| *x >= -span && *x <= 0.0)
        .map(|(x, st)| ([(*x, 0.0), (*x, ymax)], *st))
        .collect();
    let mut datasets: Vec<Dataset> = marks
        .iter()
        .map(|(pts, st)| {
            Dataset::default()
                .marker(Dot::Braille)
                .graph_type(GraphType::Line)
                .style(*st)
                .data(pts)
        })
        .collect();
    datasets.extend(series.iter().filter(|s| !s.points.is_empty()).map(|s| {
        Dataset::default()
            .name(s.name.clone())
            .marker(Dot::Braille)
            .graph_type(GraphType::Line)
            .style(s.style)
            .data(&s.points)
    }));
    let empty = series.iter().all(|s| s.points.is_empty());
    let mut title = vec![Span::styled(format!(" {} ", spec.title), t.header)];
    if empty {
        title.push(Span::styled("(no data yet) ", t.muted));
    } else {
        match spec.legend {
            Some(l) => title.extend(l),
            None => title.extend(
                series
                    .iter()
                    .filter(|s| !s.points.is_empty())
                    .map(|s| Span::styled(format!("━ {} ", s.name), s.style)),
            ),
        }
    }
    let chart = Chart::new(datasets)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(t.muted)
                .title(Line::from(title)),
        )
        .legend_position(None)
        .x_axis(Axis::default().style(t.muted).bounds([-span, 0.0]).labels([
            Line::from(ago(span)),
            Line::from(ago(span / 2.0)),
            Line::from("now"),
        ]))
        .y_axis(Axis::default().style(t.muted).bounds([0.0, ymax]).labels([
            Line::from("0"),
            Line::from(fmt(ymax / 2.0)),
            Line::from(fmt(ymax)),
        ]));
    f.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels() {
        assert_eq!(ago(0.0), "now");
        assert_eq!(ago(-45.0), "-45s");
        assert_eq!(ago(300.0), "-5m");
        assert_eq!(ago(150.0), "-2m30s");
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(9.6), 10.0);
        assert_eq!(nice_max(9.9), 15.0);
        assert_eq!(nice_max(3.1), 4.0);
        assert_eq!(nice_max(240.0), 250.0);
        assert_eq!(fmt(2.5), "2.50");
        assert_eq!(fmt(150.0), "150");
    }
}
