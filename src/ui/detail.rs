//! One deployment: rollout state, revision history, pods, conditions, events.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph};

use super::Theme;
use super::table::{self, Col, col, grow};
use crate::model::deployment::{images, is_current, model_version, rollout_status};
use crate::model::pod::health;
use crate::model::{CHANGE_CAUSE_ANNOTATION, Key, age, annotation, created, dash, revision};
use crate::state::{Section, State, rows};

const REV_COLS: [Col; 8] = [
    col("REV", 5, 0),
    col("", 3, 0),
    grow("CHANGE-CAUSE", 30, 1),
    col("MODEL", 10, 0),
    grow("IMAGE", 24, 3),
    col("DESIRED", 7, 2),
    col("READY", 5, 1),
    col("AGE", 6, 2),
];

const LAT_COLS: [Col; 10] = [
    col("REV", 5, 0),
    col("SERVING", 10, 0),
    col("PODS", 4, 2),
    col("RPS", 7, 1),
    col("P50", 9, 0),
    col("P90", 9, 2),
    col("P99", 9, 0),
    col("5XX", 5, 1),
    col("503", 5, 2),
    grow("SCRAPE", 10, 3),
];

/// A quantile for a person: `12.3ms`, `>1s` when in the +Inf bucket, `no data`.
pub fn quantile_text(q: crate::metrics::histogram::Quantile) -> String {
    use crate::metrics::histogram::Quantile as Q;
    let ms = |v: f64| {
        if v >= 1.0 {
            format!("{v:.2}s")
        } else {
            format!("{:.1}ms", v * 1e3)
        }
    };
    match q {
        Q::Value(v) => ms(v),
        Q::AboveHighestBound(v) => format!(">{}", ms(v)),
        Q::NoData => "no data".into(),
        Q::Invalid(_) => "-".into(),
    }
}

const POD_COLS: [Col; 9] = [
    grow("POD", 28, 0),
    col("READY", 6, 1),
    col("STATUS", 18, 0),
    col("RESTARTS", 8, 2),
    col("LAST EXIT", 10, 3),
    col("NODE", 14, 5),
    col("IP", 15, 6),
    col("AGE", 6, 2),
    col("REV", 4, 1),
];

const EVENT_COLS: [Col; 5] = [
    col("LAST SEEN", 9, 1),
    col("TYPE", 7, 2),
    col("REASON", 18, 0),
    col("OBJECT", 24, 3),
    grow("MESSAGE", 20, 0),
];

pub fn draw(s: &State, k: &Key, f: &mut Frame, area: Rect, t: &Theme) {
    let Some(det) = rows::detail(s, k) else {
        let msg = format!(
            "deploy/{} in namespace {} is not (or no longer) in the cluster",
            k.1, k.0
        );
        f.render_widget(
            Paragraph::new(msg)
                .style(t.warn)
                .block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let d = det.deployment;
    let small = area.height < 30;
    let rev_h = (det.revisions.len() as u16 + 3).clamp(4, if small { 5 } else { 9 });
    let ev_h = if small { 5 } else { 9 };
    let lat = crate::state::latency::of_detail(s, &det);
    let lat_h = if lat.is_empty() {
        0
    } else {
        (lat.len() as u16 + 3).min(6)
    };
    let findings = crate::state::diagnosis::of(s, k);
    let diag_h = super::diagnosis::height(&findings, small);
    let [summary, diag, revs, latency, pods, evs] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Length(diag_h),
        Constraint::Length(rev_h),
        Constraint::Length(lat_h),
        Constraint::Min(4),
        Constraint::Length(ev_h),
    ])
    .areas(area);
    super::diagnosis::draw(f, diag, t, &findings);
    if !lat.is_empty() {
        table::draw(
            f,
            latency,
            t,
            table::Spec {
                title: "Latency per revision (scraped from the pods)".into(),
                cols: &LAT_COLS,
                total: lat.len(),
                selected: None,
            },
            |i| {
                let l = &lat[i];
                let rate =
                    |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
                let scrape = match (&l.last_error, l.failing) {
                    (Some(e), n) => format!("{n} failing: {e}"),
                    _ => "ok".to_string(),
                };
                let cells = vec![
                    Cell::from(
                        l.revision
                            .map(|r| r.to_string())
                            .unwrap_or_else(|| "-".into()),
                    ),
                    Cell::from(l.versions.clone()),
                    Cell::from(l.pods.to_string()),
                    Cell::from(rate(l.rps)),
                    Cell::from(quantile_text(l.p50)),
                    Cell::from(quantile_text(l.p90)),
                    Cell::from(quantile_text(l.p99)),
                    Cell::from(format!("{}", l.errors)).style(if l.errors > 0.0 {
                        t.bad
                    } else {
                        Style::default()
                    }),
                    Cell::from(format!("{}", l.rejected)).style(if l.rejected > 0.0 {
                        t.warn
                    } else {
                        Style::default()
                    }),
                    Cell::from(scrape).style(if l.failing > 0 { t.warn } else { t.muted }),
                ];
                (cells, Style::default())
            },
        );
    }

    // summary
    let spec = d.spec.as_ref();
    let st = d.status.clone().unwrap_or_default();
    let ro = rollout_status(d);
    let tmpl = spec.map(|s| &s.template);
    let strategy = spec.and_then(|s| s.strategy.as_ref());
    let ru = strategy.and_then(|s| s.rolling_update.as_ref());
    let iors = |v: Option<&k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>| match v {
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i)) => i.to_string(),
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s)) => s.clone(),
        None => "-".into(),
    };
    let conds: Vec<Span> = st
        .conditions
        .iter()
        .flatten()
        .flat_map(|c| {
            let style = if c.status == "True" { t.ok } else { t.bad };
            [
                Span::styled(format!("{}={}", c.type_, c.status), style),
                Span::styled(format!(" ({}) ", dash(c.reason.as_deref())), t.muted),
            ]
        })
        .collect();
    let lines = vec![
        Line::from(vec![
            Span::styled(
                ro.state.as_str(),
                super::deployments::state_style(ro.state, t),
            ),
            Span::raw(format!("  {}", ro.message)),
        ]),
        Line::from(format!(
            "replicas: {} desired · {} updated · {} ready · {} available · {} total   strategy: {} (surge {}, unavailable {})",
            spec.and_then(|s| s.replicas).unwrap_or(1),
            st.updated_replicas.unwrap_or(0),
            st.ready_replicas.unwrap_or(0),
            st.available_replicas.unwrap_or(0),
            st.replicas.unwrap_or(0),
            dash(strategy.and_then(|s| s.type_.as_deref())),
            iors(ru.and_then(|r| r.max_surge.as_ref())),
            iors(ru.and_then(|r| r.max_unavailable.as_ref())),
        )),
        Line::from(vec![
            Span::raw("model: "),
            Span::styled(dash(model_version(tmpl)), t.accent),
            Span::raw(format!(
                "   revision: {}   image: {}   age: {}",
                revision(&d.metadata)
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "-".into()),
                dash(images(tmpl).as_deref()),
                age(created(&d.metadata), s.now)
            )),
        ]),
        Line::from(conds),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(
            match crate::model::manager::of(&d.metadata) {
                Some(m) => Line::from(vec![
                    Span::raw(format!(" deploy/{} · ", k.1)),
                    Span::styled(format!("managed by {} ", m.describe()), t.warn),
                ]),
                None => Line::from(format!(" deploy/{} ", k.1)),
            },
        )),
        summary,
    );

    // revisions
    let focus = s.section;
    let rev_sel = s
        .detail_selected
        .get(&Section::Revisions)
        .copied()
        .unwrap_or(0);
    table::draw(
        f,
        revs,
        t,
        table::Spec {
            title: "Revisions".into(),
            cols: &REV_COLS,
            total: det.revisions.len(),
            selected: (focus == Section::Revisions).then_some(rev_sel),
        },
        |i| {
            let rs = det.revisions[i];
            let cur = is_current(d, rs);
            let rt = rs.spec.as_ref().and_then(|s| s.template.as_ref());
            let rst = rs.status.as_ref();
            let cells = vec![
                Cell::from(
                    revision(&rs.metadata)
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::from(if cur { "*" } else { "" }),
                Cell::from(dash(annotation(&rs.metadata, CHANGE_CAUSE_ANNOTATION))),
                Cell::from(dash(model_version(rt))),
                Cell::from(dash(images(rt).as_deref())),
                Cell::from(
                    rs.spec
                        .as_ref()
                        .and_then(|s| s.replicas)
                        .unwrap_or(0)
                        .to_string(),
                ),
                Cell::from(rst.and_then(|s| s.ready_replicas).unwrap_or(0).to_string()),
                Cell::from(age(created(&rs.metadata), s.now)),
            ];
            (cells, if cur { t.ok } else { Style::default() })
        },
    );

    // pods
    let pod_sel = s.detail_selected.get(&Section::Pods).copied().unwrap_or(0);
    table::draw(
        f,
        pods,
        t,
        table::Spec {
            title: "Pods".into(),
            cols: &POD_COLS,
            total: det.pods.len(),
            selected: (focus == Section::Pods).then_some(pod_sel),
        },
        |i| {
            let (p, rev) = det.pods[i];
            let h = health(p);
            (
                super::pods::cells(p, &h, rev, s, t, false),
                Style::default(),
            )
        },
    );

    // events
    table::draw(
        f,
        evs,
        t,
        table::Spec {
            title: "Events".into(),
            cols: &EVENT_COLS,
            total: det.events.len(),
            selected: None,
        },
        |i| {
            let (mut cells, style) = super::events::event_cells(det.events[i], s, t);
            cells.remove(0); // the namespace is the deployment's
            (cells, style)
        },
    );
}
