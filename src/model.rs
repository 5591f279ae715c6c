//! Reading Kubernetes objects into what the views and actions need.
//! Missing or odd fields become `None` (shown as `-`), never a panic.
pub mod deployment;
pub mod hpa;
pub mod job;
pub mod manager;
pub mod pod;
pub mod quantity;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Where tractor reads a workload's model version: a label on the pod template.
pub const MODEL_VERSION_LABEL: &str = "tractor.dev/model-version";
/// The env var tractor-serve reads its `--model-version` from.
pub const MODEL_VERSION_ENV: &str = "TRACTOR_SERVE_MODEL_VERSION";
/// The env var tractor-serve reads its `--model` path from.
pub const MODEL_PATH_ENV: &str = "TRACTOR_SERVE_MODEL";
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// (namespace, name)
pub type Key = (String, String);

pub fn key(meta: &ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

pub fn revision(meta: &ObjectMeta) -> Option<i64> {
    meta.annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?
        .trim()
        .parse()
        .ok()
}

pub fn annotation<'a>(meta: &'a ObjectMeta, k: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(k).map(String::as_str)
}

pub fn created(meta: &ObjectMeta) -> Option<Timestamp> {
    meta.creation_timestamp.as_ref().map(|t| t.0)
}

/// kubectl-style age: `45s`, `12m`, `3h5m`, `4d`.
pub fn age(since: Option<Timestamp>, now: Timestamp) -> String {
    let Some(t) = since else { return "-".into() };
    let secs = now.as_second() - t.as_second();
    if secs < 0 {
        return "0s".into();
    }
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => {
            let m = (s % 3600) / 60;
            if m == 0 {
                format!("{}h", s / 3600)
            } else {
                format!("{}h{}m", s / 3600, m)
            }
        }
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// `-` for absent text.
pub fn dash(s: Option<&str>) -> String {
    match s {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_like_kubectl() {
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let at = |s: i64| Some(Timestamp::from_second(now.as_second() - s).unwrap());
        assert_eq!(age(at(5), now), "5s");
        assert_eq!(age(at(119), now), "119s");
        assert_eq!(age(at(600), now), "10m");
        assert_eq!(age(at(3600 * 3 + 300), now), "3h5m");
        assert_eq!(age(at(3600 * 2), now), "2h");
        assert_eq!(age(at(3600 * 20), now), "20h");
        assert_eq!(age(at(86400 * 3), now), "3d");
        assert_eq!(age(at(-10), now), "0s");
        assert_eq!(age(None, now), "-");
    }
}
