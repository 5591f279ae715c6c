//! Pop-ups and the rollout follower.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, Padding, Paragraph, Wrap};

use super::Theme;
use crate::action::{Action, Target};
use crate::diff::{Change, render};
use crate::model::deployment::{RolloutState, rollout_status};
use crate::state::keymap::{self, At, Entry, Trigger};
use crate::state::{State, ViewId};

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

/// The keys of the current view, then the `:` commands and the confirm dialog's
/// keys, from the one table; in two columns when one does not fit the height.
pub fn help(s: &State, f: &mut Frame, t: &Theme) {
    let view = s.view.id();
    let [keys, typed, dialog] = keymap::help(view);
    let row = |e: &&Entry| {
        let k = match e.trigger {
            Trigger::Key(a) => s.keymap.keys(a).join(" "),
            Trigger::Typed(names) => format!(":{}", names.first().copied().unwrap_or_default()),
        };
        Some((k, e.help))
    };
    let mut left: Vec<HelpRow> = keys.iter().map(row).collect();
    let mut right: Vec<HelpRow> = typed.iter().map(row).collect();
    right.push(None);
    right.extend(dialog.iter().map(row));
    let full = f.area();
    let room = usize::from(full.height.saturating_sub(2));
    let fits = left.len() + 1 + right.len() <= room;
    if fits {
        left.push(None);
        left.append(&mut right);
    } else if left.len() > room {
        // more keys than rows: the rest start the second column
        let mut rest = left.split_off(room);
        rest.push(None);
        rest.append(&mut right);
        right = rest;
    }
    let (left, left_w) = help_column(&left, t);
    let (right, right_w) = help_column(&right, t);
    let gap = if right.is_empty() { 0 } else { 3 };
    let rows = left.len().max(right.len());
    let content = left_w.saturating_add(gap).saturating_add(right_w);
    // the border, and a space either side when there is room
    let pad = u16::from(content.saturating_add(4) <= full.width);
    let width = content.saturating_add(2 + 2 * pad);
    let area = centered(
        full,
        width,
        u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2),
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .padding(Padding::horizontal(pad))
        .title(format!(" Keys in {} (any key closes) ", view_name(view)));
    let inner = block.inner(area);
    f.render_widget(Clear, area);
    f.render_widget(block, area);
    let [l, _, r] = Layout::horizontal([
        Constraint::Length(left_w),
        Constraint::Length(gap),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(left), l);
    f.render_widget(Paragraph::new(right), r);
}

/// Keys and what they do; `None` is a blank line.
type HelpRow = Option<(String, &'static str)>;

/// A column of the help, keys right-aligned, and its width.
fn help_column(rows: &[HelpRow], t: &Theme) -> (Vec<Line<'static>>, u16) {
    let kw = rows
        .iter()
        .flatten()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Line<'static>> = rows
        .iter()
        .map(|r| match r {
            Some((k, help)) => Line::from(vec![
                Span::styled(format!("{k:>kw$}  "), t.accent),
                Span::raw(*help),
            ]),
            None => Line::from(""),
        })
        .collect();
    let width = lines.iter().map(Line::width).max().unwrap_or(0);
    (lines, u16::try_from(width).unwrap_or(u16::MAX))
}

fn view_name(v: ViewId) -> &'static str {
    match v {
        ViewId::Deployments => "Deployments",
        ViewId::Detail => "the detail view",
        ViewId::Hpas => "HPAs",
        ViewId::Pods => "Pods",
        ViewId::Events => "Events",
        ViewId::Jobs => "Jobs",
        ViewId::Monitor => "the monitor",
        ViewId::Logs => "the logs view",
    }
}

pub fn confirm(
    s: &State,
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
    boxed(s, f, t, lines, " Confirm ");
}

/// A canary's confirm dialog: the preview's lines (or what a promote or abort does).
pub fn canary_confirm(s: &State, f: &mut Frame, t: &Theme, target: &Target, lines: &[String]) {
    let mut out = vec![
        Line::from(vec![
            Span::styled("canary", t.accent),
            Span::raw(format!(
                " of deploy/{} in namespace {}",
                target.name, target.namespace
            )),
        ]),
        Line::from(""),
    ];
    out.extend(lines.iter().map(|l| Line::from(l.clone())));
    boxed(s, f, t, out, " Confirm canary ");
}

/// A dialog in the middle of the screen, as tall as its wrapped lines; the keys sit on the
/// border, always visible.
fn boxed(s: &State, f: &mut Frame, t: &Theme, lines: Vec<Line<'static>>, title: &'static str) {
    let full = f.area();
    let width = full.width.saturating_sub(8).min(120);
    let inner = usize::from(width.saturating_sub(2).max(1));
    let height: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let area = centered(full, width, height as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(t.warn)
                .title(title)
                .title_bottom(dialog_keys(s, t)),
        ),
        area,
    );
}

/// The confirm dialog's keys, from the table: ` y: apply · n/esc: cancel `.
fn dialog_keys(s: &State, t: &Theme) -> Line<'static> {
    let hints = keymap::hints(At::Confirm);
    let mut spans = Vec::new();
    for (i, (action, label)) in hints.iter().enumerate() {
        let keys = s.keymap.keys(*action).join("/");
        let lead = if i == 0 { " " } else { "" };
        let sep = if i + 1 == hints.len() { " " } else { " · " };
        spans.push(Span::styled(format!("{lead}{keys}"), t.accent));
        spans.push(Span::raw(format!(": {label}{sep}")));
    }
    Line::from(spans)
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
