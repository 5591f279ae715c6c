//! The Deployments list.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Cell;

use super::Theme;
use super::table::{self, Col, col, grow};
use crate::model::deployment::{RolloutState, images, model_version, rollout_status};
use crate::model::{age, created, dash, revision};
use crate::state::{State, ViewId, rows};

const COLS: [Col; 12] = [
    col("NAMESPACE", 12, 3),
    grow("NAME", 20, 0),
    col("READY", 7, 1),
    col("UP-TO-DATE", 10, 4),
    col("AVAILABLE", 9, 5),
    col("REV", 4, 2),
    col("MODEL", 10, 1),
    grow("IMAGE", 24, 6),
    col("STATE", 11, 0),
    // the diagnosis in one word: ok, or its worst finding (the detail view says the rest)
    col("HEALTH", 16, 0),
    // who else writes it (Helm, Argo CD, Flux): a direct change will not last
    col("MANAGED", 12, 6),
    col("AGE", 6, 2),
];

pub fn state_style(st: RolloutState, t: &Theme) -> Style {
    match st {
        RolloutState::Complete => t.ok,
        RolloutState::Progressing => t.warn,
        RolloutState::Paused => t.muted,
        RolloutState::Stalled => t.bad,
    }
}

fn health_cell<'a>(s: &State, d: &k8s_openapi::api::apps::v1::Deployment, t: &Theme) -> Cell<'a> {
    let key = crate::model::key(&d.metadata);
    let findings = crate::state::diagnosis::of(s, &key);
    let (word, sev) = crate::diagnose::health(&findings);
    let style = match sev {
        None => t.ok,
        Some(crate::diagnose::Severity::Warn) => t.warn,
        Some(crate::diagnose::Severity::Bad) => t.bad,
    };
    Cell::from(word.to_string()).style(style)
}

pub fn draw(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let list = rows::deployments(s);
    let filter = s.filter(ViewId::Deployments);
    let title = table::titled("Deployments", filter);
    table::draw(
        f,
        area,
        t,
        table::Spec {
            title,
            cols: &COLS,
            total: list.len(),
            selected: Some(s.selected(ViewId::Deployments)),
        },
        |i| {
            let d = list[i];
            let spec = d.spec.as_ref();
            let st = d.status.clone().unwrap_or_default();
            let tmpl = spec.map(|s| &s.template);
            let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
            let rollout = rollout_status(d);
            let ready = st.ready_replicas.unwrap_or(0);
            let ready_style = if ready < desired {
                t.warn
            } else {
                Style::default()
            };
            let cells = vec![
                Cell::from(dash(d.metadata.namespace.as_deref())),
                Cell::from(dash(d.metadata.name.as_deref())),
                Cell::from(format!("{ready}/{desired}")).style(ready_style),
                Cell::from(st.updated_replicas.unwrap_or(0).to_string()),
                Cell::from(st.available_replicas.unwrap_or(0).to_string()),
                Cell::from(
                    revision(&d.metadata)
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::from(dash(model_version(tmpl))),
                Cell::from(dash(images(tmpl).as_deref())),
                Cell::from(rollout.state.as_str()).style(state_style(rollout.state, t)),
                health_cell(s, d, t),
                Cell::from(dash(
                    crate::model::manager::of(&d.metadata)
                        .map(|m| m.short())
                        .as_deref(),
                ))
                .style(t.warn),
                Cell::from(age(created(&d.metadata), s.now)),
            ];
            (cells, Style::default())
        },
    );
}
