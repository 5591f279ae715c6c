//! Rollout rules: a rollout past its progress deadline (which revision is stuck, and the
//! pod findings that say why), and a ReplicaSet that cannot create pods (quota, admission).
use super::{Facts, Finding, Severity, event, event_line, name};
use crate::model::revision;

pub fn findings(f: &Facts) -> Vec<Finding> {
    let dep = name(&f.deployment.metadata);
    let mut out = Vec::new();
    let conds = f
        .deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref());
    if let Some(c) = conds.into_iter().flatten().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        let newest = f.replicasets.first();
        let rev = newest.and_then(|rs| revision(&rs.metadata));
        let stuck = f
            .pods
            .iter()
            .filter(|(_, r)| *r == rev && rev.is_some())
            .filter(|(p, _)| {
                !p.status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .all(|c| c.ready)
            })
            .count();
        let deadline = f
            .deployment
            .spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds)
            .unwrap_or(600);
        out.push(Finding {
            log: Vec::new(),
            severity: Severity::Bad,
            rule: "DeadlineExceeded",
            subject: format!("deploy/{dep}"),
            symptom: format!(
                "the rollout to revision {} made no progress for {deadline}s",
                rev.map_or("?".to_string(), |r| r.to_string())
            ),
            cause: format!(
                "{stuck} pod(s) of the new revision are not ready (the pod findings say why)"
            ),
            action: "roll back to the last good revision (u), then fix the new one".into(),
            evidence: vec![format!(
                "condition Progressing False: {}",
                c.message.as_deref().unwrap_or("").trim()
            )],
        });
    }
    for rs in &f.replicasets {
        let rs_name = name(&rs.metadata);
        let cond = rs
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True");
        let ev = event(f, "ReplicaSet", &rs_name, &["FailedCreate"]);
        let message = cond
            .and_then(|c| c.message.clone())
            .or_else(|| ev.and_then(|e| e.message.clone()));
        let Some(message) = message else {
            continue;
        };
        let lower = message.to_ascii_lowercase();
        let (cause, action) = if lower.contains("exceeded quota") || lower.contains("quota") {
            (
                "a ResourceQuota of the namespace refuses more pods or resources".to_string(),
                "raise the quota (kubectl describe quota), or lower the pods' requests or the replica count".to_string(),
            )
        } else if lower.contains("admission")
            || lower.contains("webhook")
            || lower.contains("denied")
        {
            (
                "an admission controller or webhook refuses the pods".to_string(),
                "read its message below and change the pod template to satisfy the policy"
                    .to_string(),
            )
        } else {
            (
                "the ReplicaSet controller cannot create the pods".to_string(),
                "read the message below".to_string(),
            )
        };
        let mut evidence = vec![format!("FailedCreate: {}", message.trim())];
        evidence.extend(ev.map(event_line));
        evidence.dedup();
        out.push(Finding {
            log: Vec::new(),
            severity: Severity::Bad,
            rule: "FailedCreate",
            subject: format!("rs/{rs_name}"),
            symptom: format!(
                "revision {} cannot create its pods",
                revision(&rs.metadata).map_or("?".to_string(), |r| r.to_string())
            ),
            cause,
            action,
            evidence,
        });
    }
    out
}
