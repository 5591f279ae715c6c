//! The canary Deployment, built from the stable one: `NAME-canary` in the same namespace,
//! the stable's pod template with the plan's change applied (decided by the same write rules
//! as `set model` and `set image`), its pods labelled as the stable's (so the Service
//! selects them too) plus `tractor.dev/track: canary`, which its selector also requires (so
//! its ReplicaSets never count the stable's pods). No owner: the canary is not garbage
//! collected with the stable, and abort/promote delete it explicitly. Its annotations hold
//! the run (`state`), the lease and the change-cause.
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::lease::Lease;
use super::selector::{names_label, selects, show};
use super::state::{CanaryState, StateError};
use super::{CANARY_TRACK, TRACK_LABEL};
use crate::action::{Action, Target};
use crate::decide::{Decision, Refusal, decide};
use crate::k8s::plan::facts;
use crate::k8s::rollback::without_hash;
use crate::model::{
    CHANGE_CAUSE_ANNOTATION, MODEL_PATH_ENV, MODEL_VERSION_ENV, MODEL_VERSION_LABEL,
};

/// The annotation on a canary naming its stable Deployment.
pub const CANARY_OF_ANNOTATION: &str = "tractor.dev/canary-of";

/// The canary's name beside the stable `name`.
pub fn canary_name(name: &str) -> String {
    format!("{name}-canary")
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CanaryObjectError {
    #[error("deploy/{name} has no {what}")]
    Incomplete { name: String, what: &'static str },
    #[error(
        "deploy/{name} is itself a canary ({TRACK_LABEL}={CANARY_TRACK}): run the canary on its stable Deployment"
    )]
    IsCanary { name: String },
    #[error(
        "deploy/{name} selects its pods by {TRACK_LABEL}, the label that tells a canary's pods apart: a canary beside it cannot be told from it"
    )]
    TrackInSelector { name: String },
    #[error("{name}: a Deployment name has at most 253 characters")]
    NameTooLong { name: String },
    #[error("the canary must run at least 1 replica, got {0}")]
    BadReplicas(i32),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(
        "deploy/{name} already runs model {version} with these images: the canary would be compared with itself"
    )]
    NoChange { name: String, version: String },
    #[error(
        "the canary's pods would not match {whose} selector ({labels}); does the selector name {MODEL_VERSION_LABEL} or another label the change sets? Select pods by a label every version keeps"
    )]
    SelectorMismatch { whose: String, labels: String },
    #[error(
        "the progress deadline ({deadline}s) must be longer than deploy/{name}'s minReadySeconds ({min_ready}s)"
    )]
    DeadlineWithinMinReady {
        name: String,
        deadline: i32,
        min_ready: i32,
    },
    #[error("the plan is for deploy/{plan}, not deploy/{stable}")]
    OtherTarget { plan: String, stable: String },
    #[error("deploy/{canary} is not the canary of deploy/{stable}")]
    NotTheCanary { canary: String, stable: String },
    #[error(
        "deploy/{name}'s template changed since the canary started: promoting would undo that change; abort the canary and start a new one"
    )]
    StableChanged { name: String },
    #[error(transparent)]
    State(#[from] StateError),
}

pub(super) fn name_of(d: &Deployment) -> String {
    d.metadata.name.clone().unwrap_or_default()
}

pub(super) fn spec_of(d: &Deployment) -> Result<&DeploymentSpec, CanaryObjectError> {
    d.spec.as_ref().ok_or(CanaryObjectError::Incomplete {
        name: name_of(d),
        what: "spec",
    })
}

pub(super) fn labels_of(t: &PodTemplateSpec) -> BTreeMap<String, String> {
    t.metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn set_env(c: &mut Container, name: &str, value: &str) {
    let env = c.env.get_or_insert_with(Vec::new);
    match env.iter_mut().find(|e| e.name == name) {
        Some(e) => {
            e.value = Some(value.into());
            e.value_from = None;
        }
        None => env.push(EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..EnvVar::default()
        }),
    }
}

fn container_mut<'t>(t: &'t mut PodTemplateSpec, name: &str) -> Option<&'t mut Container> {
    t.spec
        .as_mut()
        .and_then(|s| s.containers.iter_mut().find(|c| c.name == name))
}

/// `decision` (a `set model` or `set image` the write rules resolved) on a template.
fn apply(t: &mut PodTemplateSpec, decision: &Decision) {
    match decision {
        Decision::SetImage {
            container: name,
            image,
        } => {
            if let Some(c) = container_mut(t, name) {
                c.image = Some(image.clone());
            }
        }
        Decision::SetModel {
            container: name,
            version,
            path,
        } => {
            t.metadata
                .get_or_insert_with(ObjectMeta::default)
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(MODEL_VERSION_LABEL.into(), version.clone());
            if let Some(c) = container_mut(t, name) {
                set_env(c, MODEL_VERSION_ENV, version);
                if let Some(p) = path {
                    set_env(c, MODEL_PATH_ENV, p);
                }
            }
        }
        _ => {}
    }
}

/// The stable's template with the plan's change, as the write rules decide it; refused as
/// `set model`/`set image` would be, or when it changes nothing.
pub(super) fn changed_template(
    stable: &Deployment,
    state: &CanaryState,
) -> Result<PodTemplateSpec, CanaryObjectError> {
    let name = name_of(stable);
    let target = Target {
        namespace: stable.metadata.namespace.clone().unwrap_or_default(),
        name: name.clone(),
    };
    let facts = facts(&target, stable, &[]);
    let change = &state.plan.change;
    let mut actions = vec![Action::SetModel {
        container: change.container.clone(),
        version: change.model_version.clone(),
        path: change.model_path.clone(),
    }];
    actions.extend(change.images.iter().map(|i| Action::SetImage {
        container: i.container.clone(),
        image: i.image.clone(),
    }));
    let mut template = without_hash(&spec_of(stable)?.template);
    let mut changed = false;
    for action in &actions {
        let decision = decide(&facts, action)?;
        changed |= !matches!(decision, Decision::Skip(_));
        apply(&mut template, &decision);
    }
    if !changed {
        return Err(CanaryObjectError::NoChange {
            name,
            version: change.model_version.clone(),
        });
    }
    Ok(template)
}

/// The canary Deployment to create beside `stable`, at `replicas`, saving `state` and
/// `lease` on it.
pub fn canary_deployment(
    stable: &Deployment,
    state: &CanaryState,
    lease: &Lease,
    replicas: i32,
) -> Result<Deployment, CanaryObjectError> {
    let name = name_of(stable);
    if state.plan.target != name {
        return Err(CanaryObjectError::OtherTarget {
            plan: state.plan.target.clone(),
            stable: name,
        });
    }
    let spec = spec_of(stable)?;
    let stable_labels = labels_of(&spec.template);
    if stable_labels.get(TRACK_LABEL).map(String::as_str) == Some(CANARY_TRACK) {
        return Err(CanaryObjectError::IsCanary { name });
    }
    if names_label(&spec.selector, TRACK_LABEL) {
        return Err(CanaryObjectError::TrackInSelector { name });
    }
    let canary = canary_name(&name);
    if canary.len() > 253 {
        return Err(CanaryObjectError::NameTooLong { name: canary });
    }
    if replicas < 1 {
        return Err(CanaryObjectError::BadReplicas(replicas));
    }
    let deadline = i32::try_from(state.plan.progress_deadline.as_secs().max(1)).unwrap_or(i32::MAX);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    if deadline <= min_ready {
        return Err(CanaryObjectError::DeadlineWithinMinReady {
            name,
            deadline,
            min_ready,
        });
    }

    let mut template = changed_template(stable, state)?;
    let mut labels = labels_of(&template);
    labels.insert(TRACK_LABEL.into(), CANARY_TRACK.into());
    template
        .metadata
        .get_or_insert_with(ObjectMeta::default)
        .labels = Some(labels.clone());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(TRACK_LABEL.into(), CANARY_TRACK.into());
    if !selects(&selector, &labels) {
        return Err(CanaryObjectError::SelectorMismatch {
            whose: "the canary's".into(),
            labels: show(&labels),
        });
    }

    let namespace = stable.metadata.namespace.clone();
    let mut annotations = lease.with_run(state)?;
    annotations.insert(CANARY_OF_ANNOTATION.into(), name);
    annotations.insert(
        CHANGE_CAUSE_ANNOTATION.into(),
        state
            .plan
            .describe(namespace.as_deref().unwrap_or("default")),
    );
    Ok(Deployment {
        metadata: ObjectMeta {
            name: Some(canary),
            namespace,
            labels: Some(BTreeMap::from([(TRACK_LABEL.into(), CANARY_TRACK.into())])),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector,
            template,
            paused: None,
            progress_deadline_seconds: Some(deadline),
            ..spec.clone()
        }),
        status: None,
    })
}

#[cfg(test)]
pub(super) mod fixtures;
#[cfg(test)]
mod tests;
