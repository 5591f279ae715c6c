//! Autoscalers: the list, the selected one's metrics and conditions, a chart of
//! its replicas over the session, and the explainer with the actual numbers.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Wrap};

use super::Theme;
use super::table::{self, Col, col, grow};
use crate::autoscale::hpa::{Past, recommend};
use crate::model::hpa::{input, metric_rows, replicas, target_ref};
use crate::model::{Key, age, created, dash, key};
use crate::state::{ReplicaPoint, State, ViewId, rows};

const COLS: [Col; 9] = [
    col("NAMESPACE", 12, 3),
    grow("NAME", 18, 0),
    col("TARGET", 22, 1),
    grow("METRICS", 28, 0),
    col("MIN", 4, 2),
    col("MAX", 4, 2),
    col("CURRENT", 7, 0),
    col("DESIRED", 7, 0),
    col("AGE", 6, 4),
];

const METRIC_COLS: [Col; 5] = [
    col("TYPE", 17, 3),
    grow("METRIC", 14, 0),
    col("CURRENT", 10, 0),
    col("TARGET", 11, 0),
    col("PROPOSES", 8, 1),
];

pub fn draw(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let list = rows::hpas(s);
    let sel = s.selected(ViewId::Hpas);
    let list_h = (list.len() as u16 + 3).min(area.height / 3).max(4);
    let [top, rest] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(6)]).areas(area);
    let filter = s.filter(ViewId::Hpas);
    let title = table::titled("HPAs", filter);
    table::draw(
        f,
        top,
        t,
        table::Spec {
            title,
            cols: &COLS,
            total: list.len(),
            selected: Some(sel),
        },
        |i| {
            let h = list[i];
            let (min, max, cur, desired) = replicas(h);
            let metrics: Vec<String> = metric_rows(h)
                .iter()
                .map(|m| {
                    format!(
                        "{} {}/{}",
                        m.name,
                        m.current,
                        m.target.trim_end_matches(" (avg)")
                    )
                })
                .collect();
            let cells = vec![
                Cell::from(dash(h.metadata.namespace.as_deref())),
                Cell::from(dash(h.metadata.name.as_deref())),
                Cell::from(target_ref(h)),
                Cell::from(if metrics.is_empty() {
                    "-".into()
                } else {
                    metrics.join(", ")
                }),
                Cell::from(min.to_string()),
                Cell::from(max.to_string()),
                Cell::from(cur.to_string()),
                Cell::from(desired.to_string()).style(if desired != cur {
                    t.warn
                } else {
                    Style::default()
                }),
                Cell::from(age(created(&h.metadata), s.now)),
            ];
            (cells, Style::default())
        },
    );
    let Some(h) = list.get(sel.min(list.len().saturating_sub(1))).copied() else {
        f.render_widget(
            Paragraph::new("no HorizontalPodAutoscalers here")
                .style(t.muted)
                .block(Block::default().borders(Borders::ALL)),
            rest,
        );
        return;
    };
    let k = key(&h.metadata);
    let history = s.hpa_history.get(&k);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(rest);
    let n_metrics = metric_rows(h).len() as u16;
    let [metrics_area, explain_area] = Layout::vertical([
        Constraint::Length((n_metrics + 3).min(left.height / 2)),
        Constraint::Min(4),
    ])
    .areas(left);
    let cond_h = if right.height >= 24 { 10 } else { 6 };
    let [chart_area, cond_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(cond_h)]).areas(right);

    let (inp, expl) = explain(s, h, &k, history);
    let mrows = metric_rows(h);
    table::draw(
        f,
        metrics_area,
        t,
        table::Spec {
            title: "Metrics".into(),
            cols: &METRIC_COLS,
            total: mrows.len(),
            selected: None,
        },
        |i| {
            let m = &mrows[i];
            let proposal = expl
                .metrics
                .iter()
                .find(|x| x.name == m.name)
                .map(|x| x.proposal.to_string());
            let cells = vec![
                Cell::from(m.kind.clone()),
                Cell::from(m.name.clone()),
                Cell::from(m.current.clone()),
                Cell::from(m.target.clone()),
                Cell::from(proposal.unwrap_or_else(|| "-".into())),
            ];
            (cells, Style::default())
        },
    );

    // explainer: the result first (it must survive a small terminal), then the steps
    let (_, _, _, status_desired) = replicas(h);
    let agree = if expl.desired == status_desired {
        Span::styled(format!(" (controller: {status_desired} ✓)"), t.ok)
    } else {
        Span::styled(
            format!(" (controller: {status_desired}; its window and pod readiness may differ)"),
            t.warn,
        )
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("desired {}", expl.desired), t.accent),
            agree,
        ]),
        Line::from(Span::styled(
            format!(
                "from {} current replicas, tolerance ±{:.0}%:",
                inp.current_replicas,
                inp.tolerance * 100.0
            ),
            t.muted,
        )),
    ];
    for m in &expl.metrics {
        lines.push(Line::from(format!("  {}", m.formula)));
    }
    if expl.metrics.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no metric has a current value yet: keeps current",
            t.warn,
        )));
    }
    lines.push(Line::from(format!("max over metrics → {}", expl.proposal)));
    lines.push(Line::from(format!(
        "stabilization → {}: {}",
        expl.stabilized, expl.stabilization
    )));
    lines.push(Line::from(format!(
        "rate → {}: {}",
        expl.limited, expl.limit
    )));
    lines.push(Line::from(format!(
        "bounds → {}: {}",
        expl.desired, expl.bounds
    )));
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Explainer: desired = ceil(current × value/target) "),
        ),
        explain_area,
    );

    chart(s, f, chart_area, t, history, replicas(h).1);

    let conds: Vec<Line> = h
        .status
        .as_ref()
        .and_then(|st| st.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| {
            let style = match (c.type_.as_str(), c.status.as_str()) {
                ("ScalingLimited", "True") => t.warn,
                (_, "True") => t.ok,
                _ => t.bad,
            };
            Line::from(vec![
                Span::styled(format!("{}={}", c.type_, c.status), style),
                Span::raw(format!(
                    " {}: {}",
                    dash(c.reason.as_deref()),
                    dash(c.message.as_deref())
                )),
            ])
        })
        .chain(std::iter::once(Line::from(Span::styled(
            format!(
                "last scale: {}",
                age(
                    h.status
                        .as_ref()
                        .and_then(|s| s.last_scale_time.as_ref())
                        .map(|t| t.0),
                    s.now
                )
            ),
            t.muted,
        ))))
        .collect();
    f.render_widget(
        Paragraph::new(conds)
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL).title(" Conditions ")),
        cond_area,
    );
}

/// The algorithm's input (with this session's history as the windows' memory) and its result.
pub fn explain(
    s: &State,
    h: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    _k: &Key,
    history: Option<&std::collections::VecDeque<ReplicaPoint>>,
) -> (
    crate::autoscale::hpa::Input,
    crate::autoscale::hpa::Explanation,
) {
    let now = s.now.as_second();
    let mut recs = Vec::new();
    let mut events = Vec::new();
    let mut prev: Option<i32> = None;
    for p in history.into_iter().flatten() {
        let age = now - p.at.as_second();
        recs.push(Past {
            age_seconds: age,
            replicas: p.desired,
        });
        if let Some(c) = prev
            && c != p.current
        {
            events.push(Past {
                age_seconds: age,
                replicas: p.current - c,
            });
        }
        prev = Some(p.current);
    }
    let inp = input(h, recs, events);
    let e = recommend(&inp);
    (inp, e)
}

fn chart(
    s: &State,
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    history: Option<&std::collections::VecDeque<ReplicaPoint>>,
    max: i32,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Replicas this session (current, desired) ");
    let pts: Vec<&ReplicaPoint> = history.into_iter().flatten().collect();
    let Some(first) = pts.first() else {
        f.render_widget(
            Paragraph::new("no samples yet").style(t.muted).block(block),
            area,
        );
        return;
    };
    let t0 = first.at.as_second();
    let now = s.now.as_second().max(t0 + 1);
    // step lines: each value holds until the next sample
    let step = |get: fn(&ReplicaPoint) -> i32| {
        let mut v: Vec<(f64, f64)> = Vec::new();
        for (i, p) in pts.iter().enumerate() {
            let x = (p.at.as_second() - t0) as f64;
            if i > 0 {
                v.push((x, f64::from(get(pts[i - 1]))));
            }
            v.push((x, f64::from(get(p))));
        }
        if let Some(last) = pts.last() {
            v.push(((now - t0) as f64, f64::from(get(last))));
        }
        v
    };
    let cur = step(|p| p.current);
    let des = step(|p| p.desired);
    let ymax = pts
        .iter()
        .map(|p| p.current.max(p.desired))
        .max()
        .unwrap_or(1)
        .max(max)
        .max(1);
    let span = (now - t0) as f64;
    let datasets = vec![
        Dataset::default()
            .name("desired")
            // without colour the two lines differ by their dots
            .marker(if t.plain {
                Marker::Dot
            } else {
                Marker::Braille
            })
            .graph_type(GraphType::Line)
            .style(t.warn)
            .data(&des),
        Dataset::default()
            .name("current")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.ok)
            .data(&cur),
    ];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .style(t.muted)
                .bounds([0.0, span])
                .labels([Line::from("start"), Line::from(format!("{}s", now - t0))]),
        )
        .y_axis(
            Axis::default()
                .style(t.muted)
                .bounds([0.0, f64::from(ymax)])
                .labels([Line::from("0"), Line::from(ymax.to_string())]),
        );
    f.render_widget(chart, area);
}
