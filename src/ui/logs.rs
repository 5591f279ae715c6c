//! The logs view: every line with its pod in front (a colour per pod, stern's way), the
//! newest at the bottom while following; the title says what is read (all pods, a
//! revision's, a pod's), how many streams are open, following or held, and the filter.
//! Streams that could not be read say why on top.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Theme;
use crate::logs::text;
use crate::state::logview::{Matcher, visible};
use crate::state::{State, ViewId};

const POD_COLOURS: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::LightGreen,
    Color::LightMagenta,
    Color::LightBlue,
    Color::LightRed,
];

pub fn draw(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let Some(v) = &s.logs else {
        return;
    };
    let filter = s.filter(ViewId::Logs);
    let matcher = Matcher::new(filter);
    let lines = visible(v, &matcher);
    let mut title = vec![
        Span::styled(format!(" logs deploy/{} ", v.target.1), t.header),
        Span::raw(format!("· {} · {} ", v.scope(), v.range.label())),
    ];
    if v.previous {
        title.push(Span::styled("· previous runs ", t.warn));
    }
    title.push(Span::raw(format!("· {} open ", v.open.len())));
    title.push(if v.paused {
        Span::styled(format!("· held ({} back) ", v.scroll), t.warn)
    } else {
        Span::styled("· following ", t.ok)
    });
    if v.wrap {
        title.push(Span::raw("· wrap "));
    }
    if !filter.is_empty() {
        let kind = if matcher.is_text() { "text" } else { "regex" };
        title.push(Span::styled(
            format!("· /{filter}/ {kind}, {} of {} ", lines.len(), v.ring.len()),
            t.accent,
        ));
    }
    if v.ring.dropped > 0 {
        title.push(Span::styled(
            format!("· {} oldest dropped ", v.ring.dropped),
            t.muted,
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.muted)
        .title(Line::from(title));
    let inner = block.inner(area);
    f.render_widget(block, area);

    let mut notes: Vec<Line> = Vec::new();
    if let Some(e) = &v.error {
        notes.push(Line::styled(e.clone(), t.bad));
    }
    for (k, why) in &v.failures {
        notes.push(Line::styled(
            format!("{}/{}: {why}", k.pod, k.container),
            t.warn,
        ));
    }
    if lines.is_empty() && notes.is_empty() {
        let what = if v.want.is_empty() {
            if v.previous {
                "no container has a previous run (none restarted)"
            } else {
                "no container has started yet"
            }
        } else {
            "no lines yet"
        };
        notes.push(Line::styled(what, t.muted));
    }
    let height = usize::from(inner.height).saturating_sub(notes.len());
    let width = lines
        .iter()
        .map(|l| text::prefix(&l.stream, false).chars().count())
        .max()
        .unwrap_or(0);
    let end = lines.len().saturating_sub(v.scroll);
    let mut body: Vec<Line> = Vec::new();
    // newest first, until the screen is full (a wrapped line takes several rows)
    for l in lines[..end].iter().rev() {
        let prefix = text::prefix(&l.stream, false);
        let colour = POD_COLOURS[text::colour_index(&l.stream.pod, POD_COLOURS.len())];
        let mut spans = vec![Span::styled(
            format!("{prefix:<width$} "),
            Style::default().fg(colour),
        )];
        if v.timestamps {
            let at = l.at.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
            spans.push(Span::styled(format!("{at} "), t.muted));
        }
        let head: usize = spans.iter().map(|s| s.content.chars().count()).sum();
        let shown = text::clean(&l.text);
        let rows = if v.wrap {
            wrap(&shown, usize::from(inner.width).saturating_sub(head).max(1))
        } else {
            vec![shown]
        };
        let mut block: Vec<Line> = Vec::new();
        for (i, r) in rows.into_iter().enumerate() {
            if i == 0 {
                let mut first = spans.clone();
                first.push(Span::raw(r));
                block.push(Line::from(first));
            } else {
                block.push(Line::from(vec![Span::raw(" ".repeat(head)), Span::raw(r)]));
            }
        }
        for row in block.into_iter().rev() {
            body.push(row);
        }
        if body.len() >= height {
            break;
        }
    }
    body.truncate(height);
    body.reverse();
    notes.extend(body);
    f.render_widget(Paragraph::new(notes), inner);
}

/// `text` cut into rows of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(width).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_lines_wrap_by_width() {
        assert_eq!(super::wrap("abcdefg", 3), ["abc", "def", "g"]);
        assert_eq!(super::wrap("", 3), [""]);
    }
}
