//! A canary run in words: a line per progress report (the CLI prints them; the audit log
//! keeps the numbers), and the status of a run saved on a canary.
use tractor_metrics::canary::counters::{Action, Judged, Phase};
use tractor_metrics::canary::judge::{RevisionNumbers, Verdict};
use tractor_metrics::histogram::Quantile;

use super::backend::Loaded;
use super::drive::{AbortText, PauseText, PhaseText, Progress};
use super::plan::CanaryPlan;
use super::summary::VerdictSummary;
use super::text::duration;

fn ms(q: Quantile) -> String {
    match q {
        Quantile::Value(v) => format!("{:.1}ms", v * 1000.0),
        Quantile::AboveHighestBound(v) => format!(">{:.0}ms", v * 1000.0),
        Quantile::NoData | Quantile::Invalid(_) => "-".into(),
    }
}

fn share(s: Option<f64>) -> String {
    match s {
        Some(s) => format!("{:.0}%", s * 100.0),
        None => "-".into(),
    }
}

fn numbers(r: &RevisionNumbers) -> String {
    let errors = match r.error_rate {
        Some(e) => format!("{:.2}%", e * 100.0),
        None => "-".into(),
    };
    format!(
        "{:.0} req, p50 {} p99 {}, errors {errors}",
        r.requests,
        ms(r.p50),
        ms(r.p99)
    )
}

/// What the counters do next, in words.
pub fn next(a: &Action) -> String {
    match a {
        Action::Continue => "next: another window".into(),
        Action::AdvanceStep { step } => format!("next: step {}", step + 1),
        Action::Promote => "next: promote".into(),
        Action::Abort { reason } => format!("next: roll back ({})", AbortText(reason)),
        Action::Pause { reason } => format!("next: pause ({})", PauseText(reason)),
    }
}

fn judged(j: Judged) -> &'static str {
    match j {
        Judged::Pass => "PASS",
        Judged::Fail => "FAIL",
        Judged::Inconclusive => "INCONCLUSIVE",
    }
}

/// One line (or a few, indented) for a progress report.
pub fn line(p: &Progress) -> String {
    match p {
        Progress::Created {
            canary,
            replicas,
            stable_replicas,
        } => format!(
            "created deploy/{canary}: {replicas} canary replicas beside {stable_replicas} stable"
        ),
        Progress::Resumed {
            canary,
            step,
            phase,
        } => format!(
            "resumed deploy/{canary} at step {} ({})",
            step + 1,
            PhaseText(phase)
        ),
        Progress::Step {
            step,
            steps,
            replicas,
            stable_replicas,
        } => format!(
            "step {}/{steps}: {replicas} canary replicas beside {stable_replicas} stable",
            step + 1
        ),
        Progress::Ready { step, replicas } => {
            format!(
                "step {}: {replicas} canary pods ready and answering",
                step + 1
            )
        }
        Progress::Window {
            step,
            canary_share,
            canary_pods,
            stable_pods,
            stale,
            verdict,
            next: action,
            ..
        } => {
            let n = &verdict.numbers;
            let mut s = format!(
                "window at step {}: {} · canary {} of requests ({canary_pods} pods, stable {stable_pods}) · canary {} · stable {} · {}",
                step + 1,
                judged(Judged::from(&verdict.verdict)),
                share(*canary_share),
                numbers(&n.canary),
                numbers(&n.stable),
                next(action)
            );
            let summary = VerdictSummary::of(verdict, *step, jiff::Timestamp::UNIX_EPOCH);
            if !matches!(verdict.verdict, Verdict::Pass) {
                for r in &summary.reasons {
                    s += &format!("\n    {r}");
                }
            }
            for st in stale {
                s += &format!("\n    {st}");
            }
            s
        }
        Progress::ScrapeFailed {
            step,
            error,
            next: action,
        } => format!(
            "window at step {}: no snapshot: {error} · {}",
            step + 1,
            next(action)
        ),
        Progress::NotReady { step, replicas } => format!(
            "step {}: {replicas} canary pods not ready within the progress deadline",
            step + 1
        ),
        Progress::MaxDuration => "the run went past its maximum duration".into(),
        Progress::Promoting { stable } => {
            format!("promoting: deploy/{stable} takes the canary's template")
        }
        Progress::Promoted { stable } => {
            format!("deploy/{stable} rolled out the canary's template")
        }
        Progress::Aborting { reason } => {
            format!(
                "rolling back: {}; the stable is not changed",
                AbortText(reason)
            )
        }
        Progress::Removed { canary } => format!("deploy/{canary} removed"),
        Progress::Paused { reason } => format!(
            "paused: {}; the canary stays at its step (resume, promote or abort it)",
            PauseText(reason)
        ),
        Progress::Unpaused => "unpaused: counting inconclusive windows from zero".into(),
    }
}

/// How the Kubernetes backend checked a canary before the preview.
pub const CHECKED_BY_API_SERVER: &str = "server-side dry run accepted";

/// The preview of a canary about to start: the command (and `checked`, how the backend
/// checked it), the canary's replicas per step beside the stable's now, how each window is
/// judged, and the limits.
pub fn preview(
    plan: &CanaryPlan,
    namespace: &str,
    (canary, checked): (&str, &str),
    stable_replicas: i32,
    sizes: &[i32],
) -> Vec<String> {
    let steps: Vec<String> = sizes.iter().map(|n| n.to_string()).collect();
    let slos: Vec<String> = plan.slos.iter().map(|s| s.to_string()).collect();
    vec![
        format!("{} ({checked}):", plan.describe(namespace)),
        format!(
            "  deploy/{canary}: canary replicas per step {} beside {stable_replicas} stable",
            steps.join(" → ")
        ),
        format!(
            "  judged every {}, {} passing window(s) per step; SLOs: {}",
            duration(plan.interval),
            plan.windows_per_step,
            if slos.is_empty() {
                "none".into()
            } else {
                slos.join(", ")
            }
        ),
        match &plan.compare {
            Some(c) => format!(
                "  compared with the stable: {}% confidence, minimum effect {}",
                c.confidence() * 100.0,
                c.min_effect()
            ),
            None => "  not compared with the stable (absolute SLOs only)".into(),
        },
        format!(
            "  rolled back after {} failed window(s); paused after {} inconclusive; at most {} in all",
            u64::from(plan.failure_limit) + 1,
            u64::from(plan.inconclusive_limit) + 1,
            duration(plan.max_duration)
        ),
    ]
}

/// The status of a run saved on a canary, beside a stable of `stable_replicas`.
pub fn status(
    stable: &str,
    canary: &str,
    l: &Loaded,
    stable_replicas: i32,
    now: jiff::Timestamp,
) -> Vec<String> {
    let plan = &l.state.plan;
    let run = &l.state.run;
    let steps = plan.steps.as_slice().len();
    let mut out = vec![
        format!(
            "deploy/{canary}: canary of deploy/{stable}, model {}",
            plan.change.model_version
        ),
        format!(
            "  step {}/{steps} ({}): {} canary replicas beside {stable_replicas} stable; {}/{} passing windows",
            run.step + 1,
            plan.steps,
            l.replicas,
            run.passes_in_step,
            plan.windows_per_step
        ),
        format!("  phase: {}", PhaseText(&run.phase)),
        format!(
            "  failed windows {} (limit {}), inconclusive {} (limit {}), failed scrapes in a row {} (limit {})",
            run.failures,
            plan.failure_limit,
            run.inconclusive,
            plan.inconclusive_limit,
            run.consecutive_scrape_errors,
            plan.scrape_error_limit
        ),
        format!(
            "  started {}, window {}, maximum duration {}",
            l.state.started_at,
            duration(plan.interval),
            duration(plan.max_duration)
        ),
    ];
    out.push(match &l.lease {
        Some(lease) if lease.held_at(now) => {
            format!(
                "  driven by {} (lease until {})",
                lease.holder,
                lease.expires()
            )
        }
        Some(lease) => format!(
            "  nobody drives it: {}'s lease ran out at {} (resume it)",
            lease.holder,
            lease.expires()
        ),
        None => "  nobody drives it (resume it)".into(),
    });
    match &l.state.last_verdict {
        Some(v) => {
            out.push(format!(
                "  last window at step {}, ended {}: {} · canary {} of requests",
                v.step + 1,
                v.at,
                judged(v.verdict),
                share(v.canary_share)
            ));
            out.extend(v.reasons.iter().map(|r| format!("    {r}")));
        }
        None => out.push("  no window judged yet".into()),
    }
    if matches!(run.phase, Phase::Paused { .. }) {
        out.push("  waiting for a person: resume, promote or abort".into());
    }
    out
}

#[cfg(test)]
mod tests;
