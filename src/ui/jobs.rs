//! Jobs: migrations, batch scoring, Helm hooks; a failed one with its reason.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Cell;

use super::Theme;
use super::table::{self, Col, col, grow};
use crate::model::job::{completions, status};
use crate::model::{age, created, dash};
use crate::state::{State, ViewId, rows};

const COLS: [Col; 6] = [
    col("NAMESPACE", 12, 3),
    col("NAME", 32, 0),
    col("STATUS", 10, 0),
    col("COMPLETIONS", 11, 1),
    grow("WHY", 30, 2),
    col("AGE", 6, 1),
];

pub fn draw(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let list = rows::jobs(s);
    let filter = s.filter(ViewId::Jobs);
    table::draw(
        f,
        area,
        t,
        table::Spec {
            title: table::titled("Jobs", filter),
            cols: &COLS,
            total: list.len(),
            selected: Some(s.selected(ViewId::Jobs)),
        },
        |i| {
            let j = list[i];
            let (state, why) = status(j);
            let style = match state.as_str() {
                "Failed" => t.bad,
                "Complete" => t.ok,
                _ => t.warn,
            };
            let why = why.map(|(r, m)| format!("{r}: {m}"));
            let cells = vec![
                Cell::from(dash(j.metadata.namespace.as_deref())),
                Cell::from(dash(j.metadata.name.as_deref())),
                Cell::from(state).style(style),
                Cell::from(completions(j)),
                Cell::from(dash(why.as_deref())),
                Cell::from(age(created(&j.metadata), s.now)),
            ];
            (cells, Style::default())
        },
    );
}
