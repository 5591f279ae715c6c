//! The monitor's table of an in-cluster load test's workers: each pod's state, what it
//! sent, its errors, its lag against the schedule and its CPU, so a worker that fails or
//! lags is seen beside the merged figures above.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Cell;

use crate::load::fleet::merge::WorkerRow;
use crate::ui::Theme;
use crate::ui::table::{self, col, grow};

const COLS: [table::Col; 7] = [
    col("WORKER", 6, 0),
    grow("POD", 28, 0),
    col("SENT", 9, 1),
    col("ERRORS", 7, 2),
    col("LAG P99 ms", 10, 2),
    col("CPU", 5, 3),
    grow("STATE", 16, 0),
];

/// The rows the table needs (with its border and header).
pub(super) fn height(rows: &[WorkerRow]) -> u16 {
    if rows.is_empty() {
        0
    } else {
        (rows.len() as u16 + 3).min(10)
    }
}

pub(super) fn draw(rows: &[WorkerRow], f: &mut Frame, area: Rect, t: &Theme) {
    let n = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{x:.2}"));
    table::draw(
        f,
        area,
        t,
        table::Spec {
            title: format!("Load workers ({} pods, merged above)", rows.len()),
            cols: &COLS,
            total: rows.len(),
            selected: None,
        },
        |i| {
            let r = &rows[i];
            let style = if r.state.starts_with("failed") || r.state.starts_with("lost") {
                t.bad
            } else if r.state == "done" {
                t.muted
            } else {
                Style::default()
            };
            (
                vec![
                    Cell::from(r.index.to_string()),
                    Cell::from(r.pod.clone()),
                    Cell::from(r.sent.to_string()),
                    Cell::from(r.errors.to_string()),
                    Cell::from(n(r.lag_p99_ms)),
                    Cell::from(n(r.cpu_cores)),
                    Cell::from(r.state.clone()),
                ],
                style,
            )
        },
    );
}
