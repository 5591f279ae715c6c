//! A table that keeps the columns that fit, most important first, and builds
//! only the rows on screen.
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::Theme;

#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub title: &'static str,
    /// Width the column needs; `grow` columns take what is left.
    pub width: u16,
    /// Lower is kept first when space is short.
    pub prio: u8,
    pub grow: bool,
}

pub const fn col(title: &'static str, width: u16, prio: u8) -> Col {
    Col {
        title,
        width,
        prio,
        grow: false,
    }
}

pub const fn grow(title: &'static str, width: u16, prio: u8) -> Col {
    Col {
        title,
        width,
        prio,
        grow: true,
    }
}

/// Indices of the columns that fit in `width`, in their original order.
pub fn fit(cols: &[Col], width: u16) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|&i| (cols[i].prio, i));
    let mut used = 0u16;
    let mut keep = Vec::new();
    for i in order {
        let need = cols[i].width + 1;
        if used + need <= width || keep.is_empty() {
            used = used.saturating_add(need);
            keep.push(i);
        }
    }
    keep.sort_unstable();
    keep
}

/// A list's title with its filter: `Pods /crash`.
pub fn titled(name: &str, filter: &str) -> String {
    if filter.is_empty() {
        name.to_string()
    } else {
        format!("{name} /{filter}")
    }
}

/// First row shown so that `selected` is visible in `height` rows.
pub fn offset(selected: usize, height: usize) -> usize {
    if height == 0 {
        0
    } else {
        selected.saturating_sub(height - 1)
    }
}

pub struct Spec<'a> {
    pub title: String,
    pub cols: &'a [Col],
    pub total: usize,
    /// Cursor row; `None` when the table is not focused.
    pub selected: Option<usize>,
}

/// Draws a bordered table. `row(i)` builds row `i` (cells, style) on demand.
pub fn draw<'a>(
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    spec: Spec<'_>,
    mut row: impl FnMut(usize) -> (Vec<Cell<'a>>, Style),
) -> usize {
    let inner_w = area.width.saturating_sub(2);
    let height = area.height.saturating_sub(3) as usize;
    let keep = fit(spec.cols, inner_w);
    let widths: Vec<Constraint> = keep
        .iter()
        .map(|&i| {
            let c = &spec.cols[i];
            if c.grow {
                Constraint::Min(c.width)
            } else {
                Constraint::Length(c.width)
            }
        })
        .collect();
    let sel = spec.selected.unwrap_or(0).min(spec.total.saturating_sub(1));
    let first = if spec.selected.is_some() {
        offset(sel, height)
    } else {
        0
    };
    let rows: Vec<Row> = (first..spec.total.min(first + height))
        .map(|i| {
            let (cells, style) = row(i);
            let mut cells: Vec<Option<Cell>> = cells.into_iter().map(Some).collect();
            let picked: Vec<Cell> = keep
                .iter()
                .map(|&k| cells.get_mut(k).and_then(Option::take).unwrap_or_default())
                .collect();
            let style = if spec.selected == Some(i) {
                style.patch(t.selected)
            } else {
                style
            };
            Row::new(picked).style(style)
        })
        .collect();
    let header = Row::new(keep.iter().map(|&i| Cell::from(spec.cols[i].title))).style(t.header);
    let title = if spec.total > height && height > 0 {
        format!(
            " {} [{}-{} of {}] ",
            spec.title,
            first + 1,
            (first + height).min(spec.total),
            spec.total
        )
    } else {
        format!(" {} [{}] ", spec.title, spec.total)
    };
    let border = if spec.selected.is_some() {
        t.accent
    } else {
        t.muted
    };
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(Line::from(title)),
        );
    f.render_widget(table, area);
    height
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_priority() {
        let cols = [col("A", 10, 0), col("B", 10, 2), col("C", 10, 1)];
        assert_eq!(fit(&cols, 40), [0, 1, 2]);
        assert_eq!(fit(&cols, 25), [0, 2]);
        assert_eq!(fit(&cols, 5), [0]);
    }

    #[test]
    fn offsets_keep_the_cursor_visible() {
        assert_eq!(offset(0, 10), 0);
        assert_eq!(offset(9, 10), 0);
        assert_eq!(offset(10, 10), 1);
        assert_eq!(offset(5, 0), 0);
    }
}
