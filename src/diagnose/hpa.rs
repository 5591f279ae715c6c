//! Autoscaler rules: at its maximum with a metric still over target (raise maxReplicas),
//! unable to read its metric, and flapping: direction changes within its scale-down
//! stabilization window, counted from the replica history the console keeps.
use super::{Facts, Finding, Severity, name};
use crate::autoscale::hpa::Target;

pub fn findings(f: &Facts) -> Vec<Finding> {
    let Some(h) = f.hpa else {
        return Vec::new();
    };
    let subject = format!("hpa/{}", name(&h.metadata));
    let mut out = Vec::new();
    let (min, max, current, _desired) = crate::model::hpa::replicas(h);
    let _ = min;
    let rows = crate::model::hpa::metric_rows(h);
    let over: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let m = r.metric.as_ref()?;
            let target = match m.target {
                Target::Utilization(t) | Target::AverageValue(t) | Target::Value(t) => t,
            };
            (m.current > target * 1.1)
                .then(|| format!("{} {} against target {}", r.name, r.current, r.target))
        })
        .collect();
    if current >= max && max > 0 && !over.is_empty() {
        out.push(Finding {
            log: Vec::new(),
            severity: Severity::Warn,
            rule: "HPA at max",
            subject: subject.clone(),
            symptom: format!("the autoscaler is at its maximum ({max}) and the load is still over target"),
            cause: "more replicas are needed than maxReplicas allows".into(),
            action: format!(
                "raise maxReplicas above {max} (kubectl patch hpa or the chart's values), or make each replica faster"
            ),
            evidence: over,
        });
    }
    let conds = h.status.as_ref().and_then(|s| s.conditions.as_ref());
    if let Some(c) = conds
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "ScalingActive" && c.status == "False")
    {
        let msg = c.message.clone().unwrap_or_default();
        let lower = msg.to_ascii_lowercase();
        let action = if lower.contains("missing request") {
            "set resources.requests for the metric's resource in the pod template (utilization is a share of the request)"
        } else if lower.contains("metrics api")
            || lower.contains("unable to fetch")
            || lower.contains("unable to get")
        {
            "check that the metrics pipeline answers (metrics-server, or the custom/external metrics adapter) for these pods"
        } else {
            "read the condition's message below"
        };
        out.push(Finding {
            log: Vec::new(),
            severity: Severity::Bad,
            rule: "HPA blind",
            subject: subject.clone(),
            symptom: "the autoscaler cannot read its metric, so it does not scale".into(),
            cause: format!(
                "{}: {}",
                c.reason.as_deref().unwrap_or("ScalingActive False"),
                msg.trim()
            ),
            action: action.into(),
            evidence: vec![format!("condition ScalingActive False: {}", msg.trim())],
        });
    }
    if let Some(history) = f.hpa_history {
        let window = crate::model::hpa::behavior(h)
            .scale_down
            .stabilization_seconds;
        if let Some(flips) = flapping(history, window) {
            out.push(Finding {
                log: Vec::new(),
                severity: Severity::Warn,
                rule: "HPA flapping",
                subject,
                symptom: format!(
                    "replicas went up and down {flips} times within {window}s"
                ),
                cause: "the scale-down stabilization window is shorter than the load's swings".into(),
                action: format!(
                    "raise behavior.scaleDown.stabilizationWindowSeconds above {window} (or add a scaleDown policy limiting the rate)"
                ),
                evidence: vec![format!("{flips} changes of direction in the replica history")],
            });
        }
    }
    out
}

/// How many times the current replica count changed direction within one window of
/// `window` seconds, when that is 2 or more (up-down-up is flapping; one up and one
/// down is a load that came and went).
pub fn flapping(
    history: &std::collections::VecDeque<crate::state::ReplicaPoint>,
    window: i64,
) -> Option<usize> {
    let mut turns: Vec<jiff::Timestamp> = Vec::new();
    let mut last_dir = 0i32;
    let mut prev: Option<i32> = None;
    for p in history {
        if let Some(before) = prev
            && p.current != before
        {
            let dir = (p.current - before).signum();
            if last_dir != 0 && dir != last_dir {
                turns.push(p.at);
            }
            last_dir = dir;
        }
        prev = Some(p.current);
    }
    let window = jiff::SignedDuration::from_secs(window.max(1));
    let most = turns
        .iter()
        .enumerate()
        .map(|(i, start)| {
            turns[i..]
                .iter()
                .take_while(|t| t.duration_since(*start) <= window)
                .count()
        })
        .max()
        .unwrap_or(0);
    (most >= 2).then_some(most)
}
