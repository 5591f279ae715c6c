//! A failed Job of the deployment's app (a migration before an upgrade, a Helm hook): the
//! rollout may wait on it, or the new version may run against a schema it expects.
use super::{Facts, Finding, Severity, name};

pub fn findings(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for j in &f.jobs {
        let (state, why) = crate::model::job::status(j);
        let Some((reason, message)) = why.filter(|_| state == "Failed") else {
            continue;
        };
        let job = name(&j.metadata);
        let ns = j.metadata.namespace.clone().unwrap_or_default();
        let spec = j.spec.as_ref();
        let cause = match reason.as_str() {
            "BackoffLimitExceeded" => format!(
                "its pods failed more than backoffLimit ({}) times",
                spec.and_then(|s| s.backoff_limit).unwrap_or(6)
            ),
            "DeadlineExceeded" => format!(
                "it ran past activeDeadlineSeconds ({}s) without finishing",
                spec.and_then(|s| s.active_deadline_seconds)
                    .map_or("?".to_string(), |d| d.to_string())
            ),
            other => format!("it failed ({other})"),
        };
        let hook = j
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("helm.sh/hook"))
            .map(|h| format!(" (a Helm {h} hook: the release's upgrade waits on it)"))
            .unwrap_or_default();
        out.push(Finding {
            log: Vec::new(),
            severity: Severity::Bad,
            rule: "Job failed",
            subject: format!("job/{job}"),
            symptom: format!("job {job} of the same app failed{hook}"),
            cause,
            action: format!(
                "read its pods' output (kubectl logs job/{job} -n {ns}), fix it, then delete the Job to run it again"
            ),
            evidence: vec![format!("condition Failed ({reason}): {}", message.trim())],
        });
    }
    out
}
