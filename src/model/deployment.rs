//! Deployments and their ReplicaSets: rollout state, revisions, model versions.
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::{MODEL_VERSION_LABEL, revision};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutState {
    Progressing,
    Complete,
    Paused,
    /// Progress deadline exceeded.
    Stalled,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Progressing => "progressing",
            RolloutState::Complete => "complete",
            RolloutState::Paused => "paused",
            RolloutState::Stalled => "stalled",
        }
    }
}

/// The rollout's state and kubectl's words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutStatus {
    pub state: RolloutState,
    pub message: String,
}

/// Same logic and wording as `kubectl rollout status`, plus `paused`.
pub fn rollout_status(d: &Deployment) -> RolloutStatus {
    let name = d.metadata.name.as_deref().unwrap_or("-");
    let spec = d.spec.as_ref();
    let st = d.status.clone().unwrap_or_default();
    let progressing = |message: String| RolloutStatus {
        state: RolloutState::Progressing,
        message,
    };
    if spec.and_then(|s| s.paused).unwrap_or(false) {
        return RolloutStatus {
            state: RolloutState::Paused,
            message: format!("deployment \"{name}\" is paused"),
        };
    }
    let generation = d.metadata.generation.unwrap_or(0);
    if generation > st.observed_generation.unwrap_or(0) {
        return progressing("Waiting for deployment spec update to be observed...".into());
    }
    let timed_out = st.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if timed_out {
        return RolloutStatus {
            state: RolloutState::Stalled,
            message: format!("deployment \"{name}\" exceeded its progress deadline"),
        };
    }
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let updated = st.updated_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    if updated < desired {
        return progressing(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return progressing(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return progressing(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    RolloutStatus {
        state: RolloutState::Complete,
        message: format!("deployment \"{name}\" successfully rolled out"),
    }
}

pub fn model_version(t: Option<&PodTemplateSpec>) -> Option<&str> {
    t?.metadata
        .as_ref()?
        .labels
        .as_ref()?
        .get(MODEL_VERSION_LABEL)
        .map(String::as_str)
}

/// The images of the template's containers, comma-separated.
pub fn images(t: Option<&PodTemplateSpec>) -> Option<String> {
    let spec = t?.spec.as_ref()?;
    let imgs: Vec<&str> = spec
        .containers
        .iter()
        .filter_map(|c| c.image.as_deref())
        .collect();
    (!imgs.is_empty()).then(|| imgs.join(","))
}

/// Does this ReplicaSet belong to the Deployment (by controller owner reference)?
pub fn owns(d: &Deployment, rs: &ReplicaSet) -> bool {
    if d.metadata.namespace != rs.metadata.namespace {
        return false;
    }
    rs.metadata.owner_references.iter().flatten().any(|o| {
        o.kind == "Deployment"
            && o.controller.unwrap_or(false)
            && match (&d.metadata.uid, o.uid.is_empty()) {
                (Some(uid), false) => *uid == o.uid,
                _ => d.metadata.name.as_deref() == Some(o.name.as_str()),
            }
    })
}

/// The Deployment's ReplicaSets, newest revision first.
pub fn history<'a>(
    d: &Deployment,
    all: impl Iterator<Item = &'a ReplicaSet>,
) -> Vec<&'a ReplicaSet> {
    let mut v: Vec<&ReplicaSet> = all.filter(|rs| owns(d, rs)).collect();
    v.sort_by_key(|rs| std::cmp::Reverse(revision(&rs.metadata).unwrap_or(0)));
    v
}

/// The ReplicaSet whose template is the Deployment's current one.
pub fn is_current(d: &Deployment, rs: &ReplicaSet) -> bool {
    match (revision(&d.metadata), revision(&rs.metadata)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
