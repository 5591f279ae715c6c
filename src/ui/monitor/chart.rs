//! One chart on the monitor's shared time axis: x is seconds before now, every chart
//! has the same span, and markers are drawn at the same x in each — as a dashed column
//! (`┊`, with `▾` on top) in the empty cells, so a marker never looks like a data line.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker as Dot;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Chart, Dataset, GraphType};

use super::axis::{Axis, Scale};
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

pub struct Spec<'a> {
    pub title: String,
    pub span: f64,
    pub series: Vec<Series>,
    /// Seconds before now, and the line's style.
    pub markers: &'a [(f64, Style)],
    /// The y axis goes at least this high.
    pub min_max: f64,
    pub scale: Scale,
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
    let axis = Axis::fit(
        spec.scale,
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        spec.min_max,
    );
    let plotted: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| s.points.iter().map(|&(x, y)| (x, axis.plot(y))).collect())
        .collect();
    let shapes = Shapes::of(&series, t.plain);
    let datasets: Vec<Dataset> = series
        .iter()
        .zip(&plotted)
        .filter(|(_, p)| !p.is_empty())
        .map(|(s, p)| {
            Dataset::default()
                .name(s.name.clone())
                .marker(shapes.marker(s.style))
                .graph_type(GraphType::Line)
                .style(s.style)
                .data(p)
        })
        .collect();
    let empty = series.iter().all(|s| s.points.is_empty());
    let mut title = vec![Span::styled(format!(" {} ", spec.title), t.header)];
    if empty {
        title.push(Span::styled("(no data yet) ", t.muted));
    } else {
        match spec.legend {
            Some(l) => title.extend(l.into_iter().map(|sp| shapes.legend(sp))),
            None => title.extend(
                series
                    .iter()
                    .filter(|s| !s.points.is_empty())
                    .map(|s| shapes.legend(Span::styled(format!("━ {} ", s.name), s.style))),
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
        .x_axis(
            ratatui::widgets::Axis::default()
                .style(t.muted)
                .bounds([-span, 0.0])
                .labels([
                    Line::from(ago(span)),
                    Line::from(ago(span / 2.0)),
                    Line::from("now"),
                ]),
        )
        .y_axis(
            ratatui::widgets::Axis::default()
                .style(t.muted)
                .bounds(axis.bounds)
                .labels(axis.labels.iter().map(|l| Line::from(l.clone()))),
        );
    f.render_widget(chart, area);
    let x_labels = [ago(span), ago(span / 2.0), "now".to_string()];
    let graph = graph_area(area, &axis.labels, &x_labels[0]);
    for (x, st) in spec
        .markers
        .iter()
        .filter(|(x, _)| *x >= -span && *x <= 0.0)
    {
        overlay_marker(f.buffer_mut(), graph, column(graph, span, *x), *st);
    }
}

/// Without colour (`NO_COLOR`), series of different colours are told apart by their dots:
/// one marker per colour, in the order the colours first appear, and the legend's `━` becomes
/// that marker's glyph. In colour every series is braille.
struct Shapes {
    colours: Vec<Option<ratatui::style::Color>>,
    plain: bool,
}

const SHAPES: [(Dot, &str); 5] = [
    (Dot::Braille, "⠒"),
    (Dot::Dot, "•"),
    (Dot::Block, "█"),
    (Dot::Bar, "▄"),
    (Dot::HalfBlock, "▀"),
];

impl Shapes {
    fn of(series: &[Series], plain: bool) -> Shapes {
        let mut colours = Vec::new();
        for s in series {
            if !colours.contains(&s.style.fg) {
                colours.push(s.style.fg);
            }
        }
        Shapes { colours, plain }
    }

    fn shape(&self, style: Style) -> Option<(Dot, &'static str)> {
        if !self.plain {
            return None;
        }
        let i = self.colours.iter().position(|c| *c == style.fg)?;
        Some(SHAPES[i % SHAPES.len()])
    }

    fn marker(&self, style: Style) -> Dot {
        self.shape(style).map_or(Dot::Braille, |(m, _)| m)
    }

    fn legend(&self, span: Span<'static>) -> Span<'static> {
        match (self.shape(span.style), span.content.strip_prefix('━')) {
            (Some((_, glyph)), Some(rest)) => Span::styled(format!("{glyph}{rest}"), span.style),
            _ => span,
        }
    }
}

/// Where ratatui's `Chart` draws its data inside a bordered `area`: right of the widest
/// y label (or the part of the first x label left of the axis) and the y axis line,
/// above the x axis line and its labels.
fn graph_area(area: Rect, y_labels: &[String], first_x_label: &str) -> Rect {
    let inner = Rect::new(
        area.x.saturating_add(1),
        area.y.saturating_add(1),
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    let widest_y = y_labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let left_of_axis = widest_y.max(first_x_label.chars().count().saturating_sub(1));
    let left = (left_of_axis as u16).min(inner.width / 3) + 1;
    Rect::new(
        inner.x + left,
        inner.y,
        inner.width.saturating_sub(left),
        inner.height.saturating_sub(2),
    )
}

/// The column of `x` (seconds before now, `-span..=0`) in `graph`.
fn column(graph: Rect, span: f64, x: f64) -> u16 {
    let w = f64::from(graph.width.saturating_sub(1));
    let offset = ((x + span) / span * w).round().clamp(0.0, w) as u16;
    graph.x + offset
}

/// A marker at `col`: `▾` in the chart's top border (where the title leaves it free), `┴`
/// on the time axis, and `┊` in every cell of the plot that no series has drawn in.
fn overlay_marker(buf: &mut ratatui::buffer::Buffer, graph: Rect, col: u16, st: Style) {
    if graph.width == 0 || graph.height == 0 {
        return;
    }
    if let Some(border) = graph.y.checked_sub(1).and_then(|y| buf.cell_mut((col, y)))
        && border.symbol() == "─"
    {
        border.set_symbol("▾").set_style(st);
    }
    if let Some(axis) = buf.cell_mut((col, graph.y + graph.height))
        && axis.symbol() == "─"
    {
        axis.set_symbol("┴").set_style(st);
    }
    for row in graph.y..graph.y + graph.height {
        if let Some(cell) = buf.cell_mut((col, row))
            && matches!(cell.symbol(), " " | "\u{2800}")
        {
            cell.set_symbol("┊")
                .set_style(st.add_modifier(ratatui::style::Modifier::DIM));
        }
    }
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
    }

    /// The chart drawn into a `w`×`h` terminal, as rows of text.
    fn rendered(w: u16, h: u16, spec: Spec<'_>) -> Vec<String> {
        rendered_with(
            w,
            h,
            spec,
            &Theme::from_config(&crate::config::Config::defaults().theme),
        )
    }

    fn rendered_with(w: u16, h: u16, spec: Spec<'_>, theme: &Theme) -> Vec<String> {
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
        term.draw(|f| draw(f, f.area(), theme, spec)).unwrap();
        let buf = term.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect()
    }

    #[test]
    fn markers_are_drawn_unlike_data_and_never_over_it() {
        let flat = Series {
            name: "p99".into(),
            style: Style::default(),
            points: (0..=60).map(|i| (f64::from(i) - 60.0, 5.0)).collect(),
        };
        let marker = [(-30.0, Style::default())];
        let rows = rendered(
            62,
            12,
            Spec {
                title: "t".into(),
                span: 60.0,
                series: vec![flat],
                markers: &marker,
                min_max: 1.0,
                scale: Scale::Linear,
                legend: None,
            },
        );
        let text = rows.join("\n");
        // one marker: one ▾ in the top border, and ┊ below it
        assert_eq!(text.matches('▾').count(), 1, "{text}");
        let top = rows.iter().position(|r| r.contains('▾')).unwrap();
        assert_eq!(top, 0, "{text}");
        let col = rows[top].chars().position(|c| c == '▾').unwrap();
        let below: Vec<char> = rows[top + 1..]
            .iter()
            .map(|r| r.chars().nth(col).unwrap())
            .collect();
        assert!(below.iter().filter(|c| **c == '┊').count() >= 5, "{text}");
        // the data line crosses the marker's column: that cell keeps the line's dots
        let line_row = rows
            .iter()
            .position(|r| r.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)))
            .unwrap();
        let crossing = rows[line_row].chars().nth(col).unwrap();
        assert!(('\u{2801}'..='\u{28ff}').contains(&crossing), "{text}");
        // in the middle of the time axis (60 s span, marker 30 s ago)
        let axis = rows[top..].iter().find(|r| r.contains('└')).unwrap();
        assert_eq!(axis.chars().nth(col), Some('┴'), "{text}");
        let left = axis.chars().position(|c| c == '└').unwrap();
        let right = axis.chars().count() - 2;
        assert!(
            (col as i64 - ((left + 1 + right) / 2) as i64).abs() <= 1,
            "{text}"
        );
    }

    /// Without colour, two series are two kinds of dots, and the legend shows which.
    #[test]
    fn without_colour_series_differ_by_shape() {
        use ratatui::style::Color;
        let line = |name: &str, fg: Color, y: f64| Series {
            name: name.into(),
            style: Style::default().fg(fg),
            points: (0..=60).map(|i| (f64::from(i) - 60.0, y)).collect(),
        };
        let spec = || Spec {
            title: "t".into(),
            span: 60.0,
            series: vec![line("a", Color::Cyan, 2.0), line("b", Color::Yellow, 8.0)],
            markers: &[],
            min_max: 10.0,
            scale: Scale::Linear,
            legend: None,
        };
        let braille = |c: char| ('\u{2801}'..='\u{28ff}').contains(&c);
        let plain = rendered_with(62, 12, spec(), &Theme::plain()).join("\n");
        assert!(plain.contains("⠒ a") && plain.contains("• b"), "{plain}");
        let body: String = plain.lines().skip(1).collect();
        assert!(body.chars().any(braille), "{plain}");
        assert!(body.contains('•'), "{plain}");
        let colour = rendered(62, 12, spec()).join("\n");
        assert!(colour.contains("━ a") && colour.contains("━ b"), "{colour}");
        let body: String = colour.lines().skip(1).collect();
        assert!(!body.contains('•'), "{colour}");
    }
}
