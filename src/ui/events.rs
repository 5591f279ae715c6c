//! Events, newest first.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Cell;

use super::Theme;
use super::table::{self, Col, col, grow};
use crate::model::{age, dash};
use crate::state::{State, ViewId, rows};

const COLS: [Col; 6] = [
    col("NAMESPACE", 12, 3),
    col("LAST SEEN", 9, 1),
    col("TYPE", 7, 2),
    col("REASON", 18, 0),
    col("OBJECT", 24, 0),
    grow("MESSAGE", 20, 0),
];

pub fn event_cells<'a>(
    e: &k8s_openapi::api::core::v1::Event,
    s: &State,
    t: &Theme,
) -> (Vec<Cell<'a>>, Style) {
    let when = rows::event_time(e);
    let ts = (when > 0)
        .then(|| jiff::Timestamp::from_second(when).ok())
        .flatten();
    let warn = e.type_.as_deref() == Some("Warning");
    let count = e
        .count
        .filter(|c| *c > 1)
        .map(|c| format!(" (x{c})"))
        .unwrap_or_default();
    let obj = format!(
        "{}/{}",
        short_kind(e.involved_object.kind.as_deref().unwrap_or("-")),
        e.involved_object.name.as_deref().unwrap_or("-")
    );
    let cells = vec![
        Cell::from(dash(e.metadata.namespace.as_deref())),
        Cell::from(format!("{}{count}", age(ts, s.now))),
        Cell::from(dash(e.type_.as_deref())),
        Cell::from(dash(e.reason.as_deref())),
        Cell::from(obj),
        Cell::from(dash(e.message.as_deref().map(str::trim))),
    ];
    (cells, if warn { t.warn } else { Style::default() })
}

pub fn draw(s: &State, f: &mut Frame, area: Rect, t: &Theme) {
    let list = rows::events(s);
    let filter = s.filter(ViewId::Events);
    let title = table::titled("Events", filter);
    table::draw(
        f,
        area,
        t,
        table::Spec {
            title,
            cols: &COLS,
            total: list.len(),
            selected: Some(s.selected(ViewId::Events)),
        },
        |i| event_cells(list[i], s, t),
    );
}

/// kubectl's short names, so the object column stays narrow.
pub fn short_kind(kind: &str) -> String {
    match kind {
        "Deployment" => "deploy".into(),
        "ReplicaSet" => "rs".into(),
        "HorizontalPodAutoscaler" => "hpa".into(),
        "Pod" => "pod".into(),
        "Node" => "node".into(),
        "Service" => "svc".into(),
        other => other.to_lowercase(),
    }
}
