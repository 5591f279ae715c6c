//! The monitor's canary line: the canary of the deployment watched, as its annotations say
//! (whichever console drives it), or how this console's run of it ended.
use ratatui::text::{Line, Span};
use tractor_metrics::canary::counters::{Judged, Phase};

use crate::canary::drive::PhaseText;
use crate::state::State;
use crate::state::canaries;
use crate::state::timeline::Subject;
use crate::ui::Theme;

pub fn line(s: &State, subject: &Subject, t: &Theme) -> Option<Line<'static>> {
    let k = subject.as_ref()?;
    let mut spans = vec![Span::styled("canary", t.accent)];
    match canaries::of(s, k) {
        Some(Ok(seen)) => {
            let plan = &seen.state.plan;
            let run = &seen.state.run;
            let phase_style = match run.phase {
                Phase::Running => t.ok,
                Phase::Paused { .. } => t.warn,
                Phase::Promoted => t.ok,
                Phase::Aborted { .. } => t.bad,
            };
            spans.push(Span::raw(format!(
                "  {} · step {}/{} · {}/{} ready  ",
                plan.change.model_version,
                run.step + 1,
                plan.steps.as_slice().len(),
                seen.ready,
                seen.replicas
            )));
            spans.push(Span::styled(PhaseText(&run.phase).to_string(), phase_style));
            // who drives it before the numbers: a narrow terminal cuts the end of the line
            match &seen.lease {
                Some(l) if l.held_at(s.now) => {
                    spans.push(Span::styled(format!("  · driven by {}", l.holder), t.muted))
                }
                _ => spans.push(Span::styled("  · nobody drives it", t.warn)),
            }
            if let Some(v) = &seen.state.last_verdict {
                let (word, st) = match v.verdict {
                    Judged::Pass => ("PASS", t.ok),
                    Judged::Fail => ("FAIL", t.bad),
                    Judged::Inconclusive => ("INCONCLUSIVE", t.warn),
                };
                spans.push(Span::raw("  · last window "));
                spans.push(Span::styled(word, st));
                if let Some(share) = v.canary_share {
                    spans.push(Span::raw(format!(
                        " (canary {:.0}% of requests)",
                        share * 100.0
                    )));
                }
                if let Some(p) = v.p99s() {
                    spans.push(Span::raw(format!(" {p}")));
                }
                if let Some(r) = v.reasons.first() {
                    spans.push(Span::styled(format!(" {r}"), t.muted));
                }
            }
        }
        Some(Err(e)) => spans.push(Span::styled(format!("  unreadable: {e}"), t.bad)),
        None => {
            let run = s.canary_runs.get(k)?;
            match (&run.ended, run.lines.back()) {
                (Some(end), _) => spans.push(Span::raw(format!("  {end}"))),
                (None, Some(last)) => spans.push(Span::raw(format!("  {last}"))),
                (None, None) => spans.push(Span::styled("  starting…", t.muted)),
            }
        }
    }
    Some(Line::from(spans))
}
