//! The monitor screen: one time axis for the client's latency and rate (the load test),
//! the servers' latency per revision, errors, queue against inference time, replicas,
//! and markers where a rollout, a scale or the load started; a per-pod table below.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::state::State;
use tractor_metrics::canary::counters::Judged;

use crate::state::timeline::{MarkerKind, Subject, Timeline};

pub mod axis;
mod canary;
pub mod chart;
mod status;
mod targets;
mod workers;

use chart::Series;

const PALETTE: [Color; 5] = [
    Color::Cyan,
    Color::Yellow,
    Color::LightGreen,
    Color::LightMagenta,
    Color::LightBlue,
];

/// Seconds before now of a timestamp.
fn x(s: &State, at: jiff::Timestamp) -> f64 {
    (at.as_millisecond() - s.now.as_millisecond()) as f64 / 1000.0
}

/// The span of the shared axis: what the data covers, at least a minute, at most 15.
fn span(s: &State, tl: Option<&Timeline>) -> f64 {
    let first_sample = tl.and_then(|t| t.samples.front()).map(|p| p.at);
    let first_load = s.load.as_ref().map(|r| r.started);
    let oldest = [first_sample, first_load]
        .into_iter()
        .flatten()
        .map(|t| -x(s, t))
        .fold(0.0, f64::max);
    ((oldest / 60.0).ceil() * 60.0).clamp(60.0, 900.0)
}

/// Group labels in the order they are drawn: newest revision first, as the samples hold them.
fn groups(tl: Option<&Timeline>) -> Vec<(String, Option<i64>)> {
    let mut v: Vec<(String, Option<i64>)> = Vec::new();
    for sm in tl.iter().flat_map(|t| t.samples.iter()) {
        for g in &sm.groups {
            if !v.iter().any(|(l, _)| *l == g.label) {
                v.push((g.label.clone(), g.revision));
            }
        }
    }
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(PALETTE.len());
    v
}

pub fn draw(s: &State, subject: &Subject, f: &mut Frame, area: Rect, t: &Theme) {
    let tl = s.timelines.get(subject);
    let span = span(s, tl);
    let groups = groups(tl);
    let color = |label: &str| {
        let i = groups.iter().position(|(l, _)| l == label).unwrap_or(0);
        Style::default().fg(PALETTE[i % PALETTE.len()])
    };
    let mut markers: Vec<(f64, Style, String)> = Vec::new();
    for m in tl.iter().flat_map(|t| t.markers.iter()) {
        let st = match m.kind {
            MarkerKind::Rollout => t.accent,
            MarkerKind::Scale => t.warn,
            MarkerKind::Load => t.muted,
            MarkerKind::Verdict(Judged::Pass) => t.ok,
            MarkerKind::Verdict(Judged::Fail) => t.bad,
            MarkerKind::Verdict(Judged::Inconclusive) => t.warn,
        };
        markers.push((x(s, m.at), st, m.text.clone()));
    }
    for m in s.load.iter().flat_map(|r| r.markers()) {
        markers.push((x(s, m.at), t.muted, m.text));
    }
    markers.sort_by(|a, b| b.0.total_cmp(&a.0));
    let lines: Vec<(f64, Style)> = markers.iter().map(|(x, st, _)| (*x, *st)).collect();

    let h = area.height;
    let deployment = subject.is_some();
    let (lat_h, rps_h, rep_h, queue_h) = match h {
        0..=21 => (h.saturating_sub(4).max(3), 0, 0, 0),
        22..=33 => (8, 6, if deployment { 5 } else { 0 }, 0),
        _ => (12, 7, if deployment { 6 } else { 0 }, 6),
    };
    let canary = canary::line(s, subject, t).is_some();
    let [head, lat, rps, rep, queue, marks, pods] = Layout::vertical([
        Constraint::Length(3 + u16::from(canary)),
        Constraint::Length(lat_h),
        Constraint::Length(rps_h),
        Constraint::Length(rep_h),
        Constraint::Length(queue_h),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    status::draw(s, subject, tl, f, head, t, &color);

    // latency: the client's own (window) p50/p99 first, then p50/p90/p99 per revision
    // drawn over them (a later line wins a shared cell)
    let mut series = Vec::new();
    if let Some(r) = &s.load {
        let white = Style::default().fg(Color::White);
        series.push(Series {
            name: "client p99".into(),
            style: white.add_modifier(Modifier::BOLD),
            points: r
                .points
                .iter()
                .filter_map(|p| Some((x(s, p.at), p.p99?)))
                .collect(),
        });
        series.push(Series {
            name: "client p50".into(),
            style: white.add_modifier(Modifier::DIM),
            points: r
                .points
                .iter()
                .filter_map(|p| Some((x(s, p.at), p.p50?)))
                .collect(),
        });
    }
    for (label, _) in &groups {
        for (q, get, modifier) in [
            (
                "p99",
                (|g: &crate::state::timeline::GroupPoint| g.p99) as fn(&_) -> _,
                Modifier::BOLD,
            ),
            ("p90", |g| g.p90, Modifier::empty()),
            ("p50", |g| g.p50, Modifier::DIM),
        ] {
            let points = samples(tl, s, |sm| {
                get(sm.groups.iter().find(|g| g.label == *label)?)
            });
            series.push(Series {
                name: format!("{label} {q}"),
                style: color(label).add_modifier(modifier),
                points,
            });
        }
    }
    let slo = s.config.slo.p99_ms;
    let mut legend: Vec<Span<'static>> = groups
        .iter()
        .map(|(label, _)| Span::styled(format!("━ {label} "), color(label)))
        .collect();
    if s.load.is_some() {
        legend.push(Span::styled("━ client ", Style::default().fg(Color::White)));
    }
    legend.push(Span::styled(
        format!(" bold p99, plain p90, dim p50; SLO p99 {slo} "),
        t.muted,
    ));
    chart::draw(
        f,
        lat,
        t,
        chart::Spec {
            title: "latency ms".into(),
            span,
            series,
            markers: &lines,
            min_max: 1.0,
            scale: axis::Scale::Log,
            legend: Some(legend),
        },
    );

    if rps_h > 0 {
        let mut series: Vec<Series> = Vec::new();
        if let Some(r) = &s.load {
            let white = Style::default().fg(Color::White);
            series.push(Series {
                name: "client req/s".into(),
                style: white.add_modifier(Modifier::BOLD),
                points: r.points.iter().map(|p| (x(s, p.at), p.rps)).collect(),
            });
            series.push(Series {
                name: "target".into(),
                style: white.add_modifier(Modifier::DIM),
                points: r
                    .points
                    .iter()
                    .filter_map(|p| Some((x(s, p.at), p.target?)))
                    .collect(),
            });
            series.push(Series {
                name: "client errors/s".into(),
                style: t.bad.add_modifier(Modifier::DIM),
                points: r
                    .points
                    .iter()
                    .map(|p| (x(s, p.at), p.errors_per_s))
                    .collect(),
            });
        }
        series.extend(groups.iter().map(|(label, _)| Series {
            name: format!("{label} req/s"),
            style: color(label),
            points: samples(tl, s, |sm| {
                sm.groups.iter().find(|g| g.label == *label)?.rps
            }),
        }));
        series.push(Series {
            name: "5xx/s (not 503)".into(),
            style: t.bad,
            points: samples(tl, s, |sm| sm.errors_per_s),
        });
        series.push(Series {
            name: "503/s".into(),
            style: t.warn,
            points: samples(tl, s, |sm| sm.rejected_per_s),
        });
        chart::draw(
            f,
            rps,
            t,
            chart::Spec {
                title: "requests/s and errors/s".into(),
                span,
                series,
                markers: &lines,
                min_max: 1.0,
                scale: axis::Scale::Linear,
                legend: None,
            },
        );
    }
    if rep_h > 0 {
        let int = |get: fn(&crate::state::timeline::Sample) -> Option<i32>| {
            samples(tl, s, move |sm| get(sm).map(f64::from))
        };
        let series = vec![
            Series {
                name: "ready".into(),
                style: t.ok,
                points: int(|sm| sm.ready),
            },
            Series {
                name: "spec".into(),
                style: Style::default().fg(Color::Cyan),
                points: int(|sm| sm.wanted),
            },
            Series {
                name: "hpa current".into(),
                style: Style::default().fg(Color::LightMagenta),
                points: int(|sm| sm.hpa_current),
            },
            Series {
                name: "hpa desired".into(),
                style: t.warn,
                points: int(|sm| sm.hpa_desired),
            },
        ];
        chart::draw(
            f,
            rep,
            t,
            chart::Spec {
                title: "replicas".into(),
                span,
                series,
                markers: &lines,
                min_max: 1.0,
                scale: axis::Scale::Integer,
                legend: None,
            },
        );
    }
    if queue_h > 0 {
        let last = tl.and_then(|t| t.samples.back());
        let batch = last
            .and_then(|l| l.batch)
            .map(|b| format!("{b:.1}"))
            .unwrap_or_else(|| "-".into());
        let inflight = last
            .map(|l| format!("{:.0}", l.inflight))
            .unwrap_or_else(|| "-".into());
        let series = vec![
            Series {
                name: "queue wait ms".into(),
                style: t.warn,
                points: samples(tl, s, |sm| sm.queue_ms),
            },
            Series {
                name: "inference ms (per batch)".into(),
                style: Style::default().fg(Color::Cyan),
                points: samples(tl, s, |sm| sm.inference_ms),
            },
            Series {
                name: "batch size".into(),
                style: t.muted,
                points: samples(tl, s, |sm| sm.batch),
            },
        ];
        chart::draw(
            f,
            queue,
            t,
            chart::Spec {
                title: format!(
                    "queue vs inference (mean); batch now {batch}, in flight {inflight}"
                ),
                span,
                series,
                markers: &lines,
                min_max: 1.0,
                scale: axis::Scale::Linear,
                legend: None,
            },
        );
    }
    let mut spans = vec![Span::styled("markers ", t.muted)];
    if markers.is_empty() {
        spans.push(Span::styled(
            "none yet (rollouts, scales and load runs appear here and as ┊ columns in the charts)",
            t.muted,
        ));
    }
    for (xs, st, text) in markers.iter().filter(|m| m.0 >= -span) {
        spans.push(Span::styled(format!("│ {} {text}  ", chart::ago(*xs)), *st));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), marks);
    // an in-cluster run's workers above the scraped servers
    let rows: &[crate::load::fleet::merge::WorkerRow] = s
        .load
        .as_ref()
        .and_then(|r| r.last.as_ref())
        .map_or(&[], |p| p.workers.as_slice());
    let [fleet, pods] = Layout::vertical([
        Constraint::Length(workers::height(rows)),
        Constraint::Min(0),
    ])
    .areas(pods);
    if fleet.height >= 4 {
        workers::draw(rows, f, fleet, t);
    }
    if pods.height >= 4 {
        targets::draw(s, subject, f, pods, t);
    }
}

fn samples(
    tl: Option<&Timeline>,
    s: &State,
    get: impl Fn(&crate::state::timeline::Sample) -> Option<f64>,
) -> Vec<(f64, f64)> {
    tl.iter()
        .flat_map(|t| t.samples.iter())
        .filter_map(|sm| Some((x(s, sm.at), get(sm)?)))
        .collect()
}
