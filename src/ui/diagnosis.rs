//! The detail view's diagnosis panel: each finding's symptom, cause, first action and
//! evidence (a crashed container's last lines among it), the worst first; a finding that
//! does not fit is counted in the title.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::Theme;
use crate::diagnose::{Finding, Severity};

/// The rows the panel wants for `findings` (borders included; 0 when there is none).
pub fn height(findings: &[Finding], small: bool) -> u16 {
    if findings.is_empty() {
        return 0;
    }
    let want: usize = findings
        .iter()
        .map(|f| 3 + usize::from(!f.evidence.is_empty()) + f.log.len())
        .sum();
    let most = if small { 6 } else { 12 };
    u16::try_from(want + 2).unwrap_or(u16::MAX).min(most)
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, findings: &[Finding]) {
    if findings.is_empty() || area.height == 0 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    for x in findings {
        let (mark, style) = match x.severity {
            Severity::Bad => ("✗", t.bad),
            Severity::Warn => ("!", t.warn),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} {} ", x.rule), style),
            Span::styled(format!("{} ", x.subject), t.header),
            Span::raw(x.symptom.clone()),
        ]));
        lines.push(Line::from(vec![
            Span::styled("  cause  ", t.muted),
            Span::raw(x.cause.clone()),
        ]));
        lines.push(Line::from(vec![
            Span::styled("  first  ", t.muted),
            Span::styled(x.action.clone(), t.accent),
        ]));
        if !x.evidence.is_empty() {
            lines.push(Line::from(vec![
                Span::styled("  seen   ", t.muted),
                Span::styled(x.evidence.join(" · "), t.muted),
            ]));
        }
        for l in &x.log {
            lines.push(Line::from(vec![
                Span::styled("  log    ", t.muted),
                Span::raw(l.clone()),
            ]));
        }
    }
    let title = format!(
        " Diagnosis: {} finding{} ",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.muted)
        .title(Span::styled(title, t.header));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
