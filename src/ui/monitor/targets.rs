//! The monitor's lower table: the deployment's pods and its canary's (or the explicit
//! scrape URLs), each with its own last scrape window and whether the scrape worked.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Cell;

use crate::state::State;
use crate::state::latency::Window;
use crate::state::timeline::Subject;
use crate::ui::Theme;
use crate::ui::table::{self, col, grow};

const COLS: [table::Col; 12] = [
    grow("TARGET", 24, 0),
    col("REV", 6, 1),
    col("VERSION", 10, 1),
    col("REQ/S", 8, 2),
    col("P50 ms", 8, 2),
    col("P99 ms", 8, 1),
    col("5XX%", 6, 3),
    col("QUEUE ms", 9, 4),
    col("INFER ms", 9, 4),
    col("BATCH", 6, 5),
    col("INFLIGHT", 8, 5),
    grow("SCRAPE", 12, 6),
];

/// The scraped pods of deployment `k`, each with its revision as the REV column shows it
/// (`canary` for the pods of `k`'s canary, listed after `k`'s own).
fn pods<'s>(
    s: &'s State,
    k: &crate::model::Key,
) -> Vec<(String, String, &'s crate::state::PodScrape)> {
    let of = |d: &crate::model::Key, rev: &dyn Fn(Option<i64>) -> String| {
        crate::state::rows::detail(s, d)
            .map(|d| {
                d.pods
                    .iter()
                    .filter_map(|(p, r)| {
                        let pk = crate::model::key(&p.metadata);
                        let sc = s.scrapes.get(&pk)?;
                        Some((pk.1, rev(*r), sc))
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut rows = of(k, &|r| {
        r.map(|r| r.to_string()).unwrap_or_else(|| "-".into())
    });
    let canary = (k.0.clone(), crate::canary::canary_name(&k.1));
    if crate::state::rows::stable_of(s, &canary).as_ref() == Some(k) {
        rows.extend(of(&canary, &|_| "canary".into()));
    }
    rows
}

/// The pods of the deployment and its canary (or the URL targets) with their own last
/// window.
pub(super) fn draw(s: &State, subject: &Subject, f: &mut Frame, area: Rect, t: &Theme) {
    let rows: Vec<(String, String, &crate::state::PodScrape)> = match subject {
        Some(k) => pods(s, k),
        None => {
            let mut v: Vec<_> = s
                .scrapes
                .iter()
                .filter(|(k, _)| crate::state::timeline::is_url_target(k))
                .map(|(k, sc)| (k.1.clone(), "-".to_string(), sc))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
    };
    let n = |v: Option<f64>, p: usize| v.map(|x| format!("{x:.p$}")).unwrap_or_else(|| "-".into());
    let title = match subject {
        Some(_) => "Pods (scraped)",
        None => "Scrape URLs",
    };
    table::draw(
        f,
        area,
        t,
        table::Spec {
            title: title.into(),
            cols: &COLS,
            total: rows.len(),
            selected: None,
        },
        |i| {
            let (name, rev, sc) = &rows[i];
            let w = Window::of([*sc]);
            let ms = |q: f64| w.quantile(q).value().map(|v| v * 1000.0);
            let (scrape, style) = match (&sc.error, &sc.last) {
                (Some(e), _) => (format!("✗ {e}"), t.bad),
                (None, Some((at, _))) => (
                    format!("ok {}s ago", (s.now.as_second() - at.as_second()).max(0)),
                    Style::default(),
                ),
                (None, None) => ("-".into(), t.muted),
            };
            (
                vec![
                    Cell::from(name.clone()),
                    Cell::from(rev.clone()),
                    Cell::from(w.versions_label()),
                    Cell::from(n(w.rps(), 1)),
                    Cell::from(n(ms(0.5), 2)),
                    Cell::from(n(ms(0.99), 2)),
                    Cell::from(n(w.error_share().map(|e| e * 100.0), 1)),
                    Cell::from(n(w.queue_ms(), 2)),
                    Cell::from(n(w.inference_ms(), 2)),
                    Cell::from(n(w.batch(), 1)),
                    Cell::from(format!("{:.0}", w.inflight)),
                    Cell::from(scrape),
                ],
                style,
            )
        },
    );
}
