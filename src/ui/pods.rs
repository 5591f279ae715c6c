//! All pods.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Cell;

use super::Theme;
use super::table::{self, Col, col, grow};
use crate::model::pod::{PodHealth, health, is_bad_reason};
use crate::model::{age, created, dash};
use crate::state::{State, ViewId, rows};

const COLS: [Col; 10] = [
    col("NAMESPACE", 12, 3),
    grow("NAME", 28, 0),
    col("READY", 6, 1),
    col("STATUS", 18, 0),
    col("RESTARTS", 8, 2),
    col("LAST EXIT", 10, 4),
    col("NODE", 14, 5),
    col("IP", 15, 6),
    col("AGE", 6, 2),
    col("REV", 4, 7),
];

pub fn status_style(h: &PodHealth, t: &Theme) -> Style {
    if is_bad_reason(&h.status) {
        t.bad
    } else if h.status == "Running" && h.ready == h.containers {
        Style::default()
    } else if h.status == "Completed" || h.status == "Succeeded" {
        t.muted
    } else {
        t.warn
    }
}

pub fn draw(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let list = rows::pods(s);
    let filter = s.filter(ViewId::Pods);
    let title = table::titled("Pods", filter);
    table::draw(
        f,
        area,
        t,
        table::Spec {
            title,
            cols: &COLS,
            total: list.len(),
            selected: Some(s.selected(ViewId::Pods)),
        },
        |i| {
            let p = list[i];
            let h = health(p);
            let rev = h
                .owner_replicaset
                .as_ref()
                .and_then(|rs| {
                    s.cluster
                        .replicasets
                        .get(&(p.metadata.namespace.clone().unwrap_or_default(), rs.clone()))
                })
                .and_then(|rs| crate::model::revision(&rs.metadata));
            (cells(p, &h, rev, s, t, true), Style::default())
        },
    );
}

/// One pod's cells (shared with the detail view).
pub fn cells<'a>(
    p: &k8s_openapi::api::core::v1::Pod,
    h: &PodHealth,
    rev: Option<i64>,
    s: &State,
    t: &Theme,
    with_ns: bool,
) -> Vec<Cell<'a>> {
    let mut v = Vec::with_capacity(10);
    if with_ns {
        v.push(Cell::from(dash(p.metadata.namespace.as_deref())));
    }
    v.extend([
        Cell::from(dash(p.metadata.name.as_deref())),
        Cell::from(format!("{}/{}", h.ready, h.containers)),
        Cell::from(h.status.clone()).style(status_style(h, t)),
        Cell::from(h.restarts.to_string()).style(if h.restarts > 0 {
            t.warn
        } else {
            Style::default()
        }),
        Cell::from(dash(h.last_termination.as_deref())).style(
            match h.last_termination.as_deref() {
                Some(r) if is_bad_reason(r) => t.bad,
                _ => Style::default(),
            },
        ),
        Cell::from(dash(h.node.as_deref())),
        Cell::from(dash(h.ip.as_deref())),
        Cell::from(age(created(&p.metadata), s.now)),
        Cell::from(rev.map(|r| r.to_string()).unwrap_or_else(|| "-".into())),
    ]);
    v
}
