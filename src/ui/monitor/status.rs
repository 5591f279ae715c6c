//! The monitor's status lines: what is watched, the load test now, the servers now (and
//! the canary, when there is one).
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::state::State;
use crate::state::timeline::{Subject, Timeline};
use crate::ui::Theme;

fn q(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())
}

pub fn draw(
    s: &State,
    subject: &Subject,
    tl: Option<&Timeline>,
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    color: &dyn Fn(&str) -> Style,
) {
    let what = match subject {
        Some(k) => {
            let gone = if s.cluster.deployments.contains_key(k) {
                ""
            } else {
                "  (not seen in the cluster yet)"
            };
            format!("deploy/{} in {}{gone}", k.1, k.0)
        }
        None => "the --scrape URLs (no deployment)".into(),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("monitor ", t.accent),
        Span::styled(what, t.header),
        Span::styled(
            format!(
                "   samples every {:.1}s",
                s.config.scrape.interval_ms as f64 / 1000.0
            ),
            t.muted,
        ),
    ])];

    let load = match &s.load {
        None => Line::from(Span::styled(
            "load  none: L starts one (the flags of tractor loadtest)",
            t.muted,
        )),
        Some(r) => {
            let (badge, st) = match &r.ended {
                None if r.stopping => ("■ stopping".to_string(), t.warn),
                None => ("● running".to_string(), t.ok),
                Some((_, Ok(_))) => ("■ done".to_string(), t.muted),
                Some((_, Err(_))) => ("✗ failed".to_string(), t.bad),
            };
            let mut spans = vec![Span::styled("load  ", t.accent), Span::styled(badge, st)];
            match (&r.ended, &r.last) {
                (Some((_, Err(e))), _) => spans.push(Span::styled(format!("  {e}"), t.bad)),
                (Some((_, Ok(summary))), _) => spans.push(Span::raw(format!("  {summary}"))),
                (None, Some(p)) => {
                    let err_style = if p.errors > 0 {
                        t.bad
                    } else {
                        Style::default()
                    };
                    // first, so that a narrow screen does not cut them off
                    if let Some(w) = p.health.warning() {
                        spans.push(Span::styled(format!("  {w}"), t.warn));
                    }
                    spans.push(Span::styled(format!("  errors {}", p.errors), err_style));
                    spans.push(Span::raw(format!("  {}", p.figures(r.duration_s))));
                }
                (None, None) => spans.push(Span::styled("  starting…", t.muted)),
            }
            spans.push(Span::styled(format!("   [{}]", r.args), t.muted));
            Line::from(spans)
        }
    };
    lines.push(load);

    let mut spans = vec![Span::styled("server", t.accent)];
    match tl.and_then(|t| t.samples.back()) {
        None => spans.push(Span::styled(
            "  no scrapes yet (pods with the tractor.dev/model-version label, or --scrape URLs)",
            t.muted,
        )),
        Some(last) => {
            if last.groups.is_empty() {
                spans.push(Span::styled(
                    "  no scraped server in the last sample",
                    t.muted,
                ));
            }
            for g in &last.groups {
                spans.push(Span::styled(format!("  {} ", g.label), color(&g.label)));
                spans.push(Span::raw(format!(
                    "p50 {} p90 {} p99 {} ms {} req/s",
                    q(g.p50),
                    q(g.p90),
                    q(g.p99),
                    g.rps
                        .map(|r| format!("{r:.1}"))
                        .unwrap_or_else(|| "-".into())
                )));
                if let Some(e) = g.error_share.filter(|e| *e > 0.0) {
                    spans.push(Span::styled(format!(" 5xx {:.1}%", e * 100.0), t.bad));
                }
                spans.push(Span::styled("  │", t.muted));
            }
            if let (Some(ready), Some(wanted)) = (last.ready, last.wanted) {
                spans.push(Span::raw(format!("  ready {ready}/{wanted}")));
            }
            if let (Some(c), Some(d)) = (last.hpa_current, last.hpa_desired) {
                spans.push(Span::raw(format!("  hpa {c}→{d}")));
            }
        }
    }
    lines.push(Line::from(spans));
    lines.extend(super::canary::line(s, subject, t));
    f.render_widget(Paragraph::new(lines), area);
}
