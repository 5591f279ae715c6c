//! Building the API patch for each action from the objects as they are now: the facts
//! for the shared write rules (`decide`) come from the Deployment and its ReplicaSets,
//! and each decision becomes its patch here. Pure: the same code backs the TUI, the
//! subcommands and the tests.
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Container;
use kube::api::Patch;
use serde_json::{Value, json};

use crate::action::{Action, Target};
use crate::decide::{self, Decision, Facts, decide};
use crate::model::deployment::{history, model_version};
use crate::model::{
    CHANGE_CAUSE_ANNOTATION, MODEL_PATH_ENV, MODEL_VERSION_ENV, MODEL_VERSION_LABEL,
    RESTARTED_AT_ANNOTATION, revision,
};

pub use super::rollback::undo_patch;
use super::rollback::without_hash;
/// The Kubernetes backend's name for the write rules' refusals.
pub use crate::decide::Refusal as PlanError;

/// What to send, or why nothing needs sending.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Nothing to change; the message says why.
    Skip(String),
    Patch {
        patch: Patch<Value>,
        /// The action with every choice resolved (e.g. the undo's revision number).
        resolved: Action,
    },
}

/// What the write rules need, read from the deployment `d` (named by `target`) and its
/// ReplicaSets.
pub fn facts(target: &Target, d: &Deployment, rss: &[ReplicaSet]) -> Facts {
    let spec = d.spec.as_ref();
    let current = spec.map(|s| without_hash(&s.template)).unwrap_or_default();
    let history = history(d, rss.iter())
        .into_iter()
        .filter_map(|rs| {
            let template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
            Some(decide::Revision {
                number: revision(&rs.metadata)?,
                is_current_template: template.map(without_hash).unwrap_or_default() == current,
            })
        })
        .collect();
    Facts {
        name: target.name.clone(),
        paused: spec.and_then(|s| s.paused).unwrap_or(false),
        replicas: spec.and_then(|s| s.replicas),
        history,
        containers: containers(d).map(container).collect(),
        images: true,
        model_version: model_version(spec.map(|s| &s.template)).map(String::from),
    }
}

fn container(c: &Container) -> decide::Container {
    let env = |k: &str| {
        c.env
            .iter()
            .flatten()
            .find(|e| e.name == k)
            .and_then(|e| e.value.clone())
    };
    decide::Container {
        name: c.name.clone(),
        image: c.image.clone(),
        model_version: env(MODEL_VERSION_ENV),
        model_path: env(MODEL_PATH_ENV),
    }
}

/// Plans `action` against the deployment `d` and its ReplicaSets.
pub fn plan(
    target: &Target,
    d: &Deployment,
    rss: &[ReplicaSet],
    action: &Action,
    now: Timestamp,
) -> Result<Plan, PlanError> {
    let decision = decide(&facts(target, d, rss), action)?;
    let resolved = decision.resolved(action);
    let cause = action.describe(target);
    let patch = |mut body: Value| {
        body["metadata"] = json!({"annotations": {CHANGE_CAUSE_ANNOTATION: cause}});
        Plan::Patch {
            patch: Patch::Strategic(body),
            resolved: resolved.clone(),
        }
    };
    Ok(match decision {
        Decision::Skip(why) => Plan::Skip(why.to_string()),
        Decision::Undo { to } => Plan::Patch {
            patch: undo_patch(d, rss, to)?,
            resolved,
        },
        Decision::Restart => patch(
            json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: now.to_string()}}}}}),
        ),
        Decision::Scale(replicas) => patch(json!({"spec": {"replicas": replicas}})),
        Decision::Pause => patch(json!({"spec": {"paused": true}})),
        Decision::Resume => patch(json!({"spec": {"paused": false}})),
        Decision::SetImage { container, image } => patch(
            json!({"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}),
        ),
        Decision::SetModel {
            container,
            version,
            path,
        } => {
            let mut env = vec![json!({"name": MODEL_VERSION_ENV, "value": version})];
            if let Some(p) = path {
                env.push(json!({"name": MODEL_PATH_ENV, "value": p}));
            }
            patch(json!({"spec": {"template": {
                "metadata": {"labels": {MODEL_VERSION_LABEL: version}},
                "spec": {"containers": [{"name": container, "env": env}]}
            }}}))
        }
    })
}

fn containers(d: &Deployment) -> impl Iterator<Item = &Container> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.iter())
        .into_iter()
        .flatten()
}

/// The deployment's revision, for messages and the audit log.
pub fn current_revision(d: &Deployment) -> Option<i64> {
    revision(&d.metadata)
}

#[cfg(test)]
mod tests;
