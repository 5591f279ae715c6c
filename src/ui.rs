//! Drawing: a pure function of the state into a ratatui frame.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::event::SourceStatus;
use crate::state::keymap::{self, At};
use crate::state::{Level, Mode, PromptKind, State, View};

pub mod deployments;
pub mod detail;
pub mod diagnosis;
pub mod events;
pub mod hpas;
pub mod jobs;
pub mod logs;
pub mod monitor;
pub mod overlay;
pub mod pods;
pub mod table;
pub mod theme;

pub use theme::Theme;

/// Draw the whole screen. `theme` is built once from the config (`Theme::from_config`), not
/// per frame.
pub fn draw(s: &State, f: &mut Frame, theme: &Theme) {
    let follow_h = if s.follow.is_some() { 3 } else { 0 };
    let [head, body, follow, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(follow_h),
        Constraint::Length(1),
    ])
    .areas(f.area());
    header(s, f, head, theme);
    match &s.view {
        View::Deployments => deployments::draw(s, f, body, theme),
        View::Detail(k) => detail::draw(s, k, f, body, theme),
        View::Hpas => hpas::draw(s, f, body, theme),
        View::Pods => pods::draw(s, f, body, theme),
        View::Events => events::draw(s, f, body, theme),
        View::Jobs => jobs::draw(s, f, body, theme),
        View::Monitor(subject) => monitor::draw(s, subject, f, body, theme),
        View::Logs(_) => logs::draw(s, f, body, theme),
    }
    if s.follow.is_some() {
        overlay::follow(s, f, follow, theme);
    }
    footer(s, f, foot, theme);
    match &s.mode {
        Mode::Help => overlay::help(s, f, theme),
        Mode::Confirm {
            target,
            action,
            changes,
            notes,
        } => overlay::confirm(s, f, theme, target, action, changes, notes),
        Mode::CanaryConfirm { target, lines, .. } => {
            overlay::canary_confirm(s, f, theme, target, lines)
        }
        _ => {}
    }
    if theme.plain {
        theme::strip(f.buffer_mut());
    }
}

fn header(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let ns = match &s.namespaces {
        None => "all".to_string(),
        Some(v) => v.join(","),
    };
    let view = match &s.view {
        View::Deployments => "Deployments".to_string(),
        View::Detail(k) => format!("deploy/{} ({})", k.1, k.0),
        View::Hpas => "HPAs".to_string(),
        View::Pods => "Pods".to_string(),
        View::Events => "Events".to_string(),
        View::Jobs => "Jobs".to_string(),
        View::Monitor(Some(k)) => format!("monitor deploy/{} ({})", k.1, k.0),
        View::Monitor(None) => "monitor".to_string(),
        View::Logs(k) => format!("logs deploy/{} ({})", k.1, k.0),
    };
    let mut spans = vec![
        Span::styled(" tractor ", t.accent),
        Span::raw(format!(" ctx:{}  user:{}  ns:{}  ", s.context, s.user, ns)),
        Span::styled(view, t.header),
    ];
    if s.read_only {
        spans.push(Span::styled("  [read-only]", t.warn));
    }
    let troubled = s.troubled_sources();
    let syncing = s
        .sources
        .values()
        .filter(|v| **v == SourceStatus::Syncing)
        .count();
    let conn = if let Some((src, st)) = troubled.first() {
        match st {
            SourceStatus::Forbidden(_) => Span::styled(format!("  ✗ no access: list {src}"), t.bad),
            _ => Span::styled(
                format!(
                    "  ⟳ reconnecting ({} watch{})",
                    troubled.len(),
                    if troubled.len() == 1 { "" } else { "es" }
                ),
                t.warn,
            ),
        }
    } else if s.no_cluster {
        Span::styled("  no cluster: load test and --scrape URLs only", t.muted)
    } else if syncing > 0 || s.sources.is_empty() {
        Span::styled("  … syncing", t.muted)
    } else {
        Span::styled("  ● live", t.ok)
    };
    spans.push(conn);
    if let Some(p) = &s.prom {
        spans.push(match &p.problem {
            Some(why) => Span::styled(format!("  prometheus ✗ {why}"), t.bad),
            None => Span::styled(
                format!(
                    "  prometheus · increase[{}] · {} pods",
                    p.window
                        .map(crate::prom::queries::range)
                        .unwrap_or_else(|| "-".into()),
                    p.pods
                ),
                t.muted,
            ),
        });
    }
    if let Some(sc) = s.scrape_scope.filter(|sc| sc.limited() && s.prom.is_none()) {
        spans.push(Span::styled(
            format!(
                "  scraping {} of {} serving pods: the deployment in view (scrape.max_pods)",
                sc.scraped, sc.serving
            ),
            t.muted,
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let line = match &s.mode {
        Mode::Filter(text) => Line::from(vec![
            Span::styled("/", t.accent),
            Span::raw(format!("{text}█")),
        ]),
        Mode::Command(text) => Line::from(vec![
            Span::styled(":", t.accent),
            Span::raw(format!("{text}█")),
        ]),
        Mode::LoadPrompt(text) => Line::from(vec![
            Span::styled("load test flags: ", t.accent),
            Span::raw(format!("{text}█")),
            Span::styled("   enter: start  esc: cancel", t.muted),
        ]),
        Mode::LogsRange(text) => Line::from(vec![
            Span::styled("since/tail: ", t.accent),
            Span::raw(format!("{text}█")),
            Span::styled(
                "   200 (lines) · 5m, 1h (since) · all   enter: read again  esc: cancel",
                t.muted,
            ),
        ]),
        Mode::Prompt {
            kind,
            target,
            input,
        } => {
            let what = match kind {
                PromptKind::Scale => "replicas",
                PromptKind::SetImage => "image (or CONTAINER=IMAGE)",
                PromptKind::SetModel => "model version",
            };
            Line::from(vec![
                Span::styled(format!("deploy/{} {what}: ", target.name), t.accent),
                Span::raw(format!("{input}█")),
                Span::styled("   enter: preview  esc: cancel", t.muted),
            ])
        }
        Mode::Preparing { target, action } => Line::from(Span::styled(
            format!(
                "{} deploy/{}: server-side dry run…",
                action.verb(),
                target.name
            ),
            t.muted,
        )),
        Mode::CanaryPrompt { target, input } => Line::from(vec![
            Span::styled(format!("canary of deploy/{}: ", target.name), t.accent),
            Span::raw(format!("{input}█")),
            Span::styled("   enter: preview  ctrl-u: clear  esc: cancel", t.muted),
        ]),
        Mode::CanaryPreparing { target } => Line::from(Span::styled(
            format!(
                "canary of deploy/{}: building the plan, server-side dry run…",
                target.name
            ),
            t.muted,
        )),
        Mode::Executing { target, action } => Line::from(Span::styled(
            format!("{} deploy/{}: writing…", action.verb(), target.name),
            t.warn,
        )),
        _ => match &s.flash {
            Some(fl) => {
                let style = match fl.level {
                    Level::Info => Style::default(),
                    Level::Ok => t.ok,
                    Level::Warn => t.warn,
                    Level::Error => t.bad,
                };
                Line::from(Span::styled(fl.text.clone(), style))
            }
            None => hints(s, t),
        },
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The hint line: the table's labels for this view, each with its first key.
fn hints(s: &State, t: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (action, label) in keymap::hints(At::View(s.view.id())) {
        let first = s.keymap.keys(action).first().cloned().unwrap_or_default();
        spans.push(Span::styled(format!("<{first}>"), t.accent));
        spans.push(Span::styled(format!("{label} "), t.muted));
    }
    Line::from(spans)
}
