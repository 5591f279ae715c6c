//! A Job as an operator reads it: its state (and why it failed), completions, and whether
//! it belongs to a deployment's app (a migration, a Helm hook of the same release).
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// `Complete`, `Failed`, `Suspended` or `Running`, and the failure's reason and message.
pub fn status(j: &Job) -> (String, Option<(String, String)>) {
    let conds = j.status.as_ref().and_then(|s| s.conditions.as_ref());
    let on = |t: &str| {
        conds
            .into_iter()
            .flatten()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if let Some(c) = on("Failed") {
        let why = (
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        );
        return ("Failed".into(), Some(why));
    }
    if on("Complete").is_some() {
        return ("Complete".into(), None);
    }
    if j.spec.as_ref().and_then(|s| s.suspend) == Some(true) {
        return ("Suspended".into(), None);
    }
    ("Running".into(), None)
}

/// `succeeded/completions`.
pub fn completions(j: &Job) -> String {
    let want = j.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
    let done = j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
    format!("{done}/{want}")
}

const APP_LABELS: [&str; 3] = [
    "app.kubernetes.io/instance",
    "app.kubernetes.io/name",
    "app",
];

/// Whether the Job is of the same app as a deployment whose metadata and pod labels are
/// given: the same Helm release, or the same app label.
pub fn same_app(
    job: &ObjectMeta,
    deployment: &ObjectMeta,
    pod_labels: Option<&std::collections::BTreeMap<String, String>>,
) -> bool {
    if job.namespace != deployment.namespace {
        return false;
    }
    let release = |m: &ObjectMeta| {
        m.annotations
            .as_ref()
            .and_then(|a| a.get("meta.helm.sh/release-name"))
            .cloned()
    };
    if let (Some(a), Some(b)) = (release(job), release(deployment))
        && a == b
    {
        return true;
    }
    let jl = job.labels.as_ref();
    APP_LABELS.iter().any(|k| {
        let j = jl.and_then(|l| l.get(*k));
        let d = pod_labels
            .and_then(|l| l.get(*k))
            .or_else(|| deployment.labels.as_ref().and_then(|l| l.get(*k)));
        j.is_some() && j == d
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta(v: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_job_is_of_the_app_by_release_or_app_label() {
        let d = meta(json!({"name": "web", "namespace": "ml",
            "annotations": {"meta.helm.sh/release-name": "web"}}));
        let pods = [("app".to_string(), "web".to_string())].into();
        let table = [
            (
                json!({"name": "m", "namespace": "ml", "annotations": {"meta.helm.sh/release-name": "web"}}),
                true,
            ),
            (
                json!({"name": "m", "namespace": "ml", "labels": {"app": "web"}}),
                true,
            ),
            (
                json!({"name": "m", "namespace": "ml", "labels": {"app": "other"}}),
                false,
            ),
            (
                json!({"name": "m", "namespace": "other", "labels": {"app": "web"}}),
                false,
            ),
            (json!({"name": "m", "namespace": "ml"}), false),
        ];
        for (job, want) in table {
            assert_eq!(same_app(&meta(job.clone()), &d, Some(&pods)), want, "{job}");
        }
    }
}
