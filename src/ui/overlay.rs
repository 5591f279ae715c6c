//! Pop-ups and the rollout follower.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, Paragraph, Wrap};

use super::Theme;
use crate::action::{Action, Target};
use crate::diff::{Change, render};
use crate::model::deployment::{RolloutState, rollout_status};
use crate::state::State;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn help(s: &State, f: &mut Frame, t: &Theme) {
    let mut lines: Vec<Line> = s
        .keymap
        .shown
        .iter()
        .map(|(a, keys)| {
            Line::from(vec![
                Span::styled(format!("{keys:>16}  "), t.accent),
                Span::raw(a.help().to_string()),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "views: :deploy :pods :hpa :events   writes: preview → dry run → confirm",
        t.muted,
    )));
    let area = centered(f.area(), 76, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys (any key closes) "),
        ),
        area,
    );
}

pub fn confirm(
    f: &mut Frame,
    t: &Theme,
    target: &Target,
    action: &Action,
    changes: &[Change],
    notes: &[String],
) {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(action.verb().to_string(), t.accent),
            Span::raw(format!(
                " deploy/{} in namespace {}",
                target.name, target.namespace
            )),
        ]),
        Line::from(Span::styled(action.describe(target), t.muted)),
        Line::from(Span::styled("dry run: accepted", t.ok)),
        Line::from(""),
    ];
    let diff = render(changes);
    if diff.is_empty() {
        lines.push(Line::from(Span::styled(
            "no change to the pod template or spec",
            t.muted,
        )));
    }
    for l in diff {
        let style = if l.starts_with('-') { t.bad } else { t.ok };
        lines.push(Line::from(Span::styled(l, style)));
    }
    for n in notes {
        lines.push(Line::from(Span::styled(format!("note: {n}"), t.warn)));
    }
    let full = f.area();
    let width = full.width.saturating_sub(8).min(120);
    // the height after wrapping, so nothing is cut; the keys sit on the border, always visible
    let inner = usize::from(width.saturating_sub(2).max(1));
    let height: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let area = centered(full, width, height as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(t.warn)
                .title(" Confirm ")
                .title_bottom(Line::from(vec![
                    Span::styled(" y", t.accent),
                    Span::raw(": apply · "),
                    Span::styled("n/esc", t.accent),
                    Span::raw(": cancel "),
                ])),
        ),
        area,
    );
}

pub fn follow(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let Some(fo) = &s.follow else { return };
    let key = (fo.target.namespace.clone(), fo.target.name.clone());
    let block = Block::default().borders(Borders::ALL).title(format!(
        " {} deploy/{} ({}s) ",
        fo.verb,
        fo.target.name,
        s.now.as_second() - fo.started.as_second()
    ));
    let Some(d) = s.cluster.deployments.get(&key) else {
        f.render_widget(
            Paragraph::new("deployment not seen")
                .style(t.warn)
                .block(block),
            area,
        );
        return;
    };
    let ro = rollout_status(d);
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0);
    let st = d.status.clone().unwrap_or_default();
    let avail = st
        .available_replicas
        .unwrap_or(0)
        .min(st.updated_replicas.unwrap_or(0));
    let ratio = if desired == 0 {
        1.0
    } else {
        (f64::from(avail) / f64::from(desired)).clamp(0.0, 1.0)
    };
    let style = match ro.state {
        RolloutState::Complete => t.ok,
        RolloutState::Stalled => t.bad,
        _ => t.warn,
    };
    let label = match ro.state {
        RolloutState::Complete => format!(
            "complete: {} (revision {} → {})",
            ro.message,
            fo.revision_before
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            crate::model::revision(&d.metadata)
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into())
        ),
        _ => format!("{}: {}", ro.state.as_str(), ro.message),
    };
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [g] = Layout::vertical([Constraint::Length(1)]).areas(inner);
    f.render_widget(
        Gauge::default()
            .gauge_style(style.patch(Style::default()))
            .ratio(ratio)
            .label(Span::raw(format!(
                "{avail}/{desired} updated+available · {label}"
            ))),
        g,
    );
}
