//! Building the API patch for each action from the objects as they are now.
//! Pure: the same code backs the TUI, the subcommands and the tests.
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::Patch;
use serde_json::{Value, json};

use crate::action::{Action, Target};
use crate::model::deployment::model_version;
use crate::model::{
    CHANGE_CAUSE_ANNOTATION, MODEL_PATH_ENV, MODEL_VERSION_ENV, MODEL_VERSION_LABEL,
    RESTARTED_AT_ANNOTATION, revision,
};

pub use super::rollback::plan_undo;

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "you cannot {verb} a paused deployment; resume it first with 'tractor rollout resume deploy/{name}' and try again"
    )]
    Paused { verb: &'static str, name: String },
    #[error("no rollout history found for deployment \"{0}\"")]
    NoHistory(String),
    #[error("unable to find specified revision {0} in history")]
    NoRevision(i64),
    #[error("deploy/{name} has containers {names}: name one (CONTAINER=IMAGE or --container)")]
    AmbiguousContainer { name: String, names: String },
    #[error("deploy/{name} has no container named \"{container}\" (it has {names})")]
    NoContainer {
        name: String,
        container: String,
        names: String,
    },
    #[error("replicas must be 0 or more, got {0}")]
    BadReplicas(i32),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// Plans `action` against the deployment `d` and its ReplicaSets.
pub fn plan(
    target: &Target,
    d: &Deployment,
    rss: &[ReplicaSet],
    action: &Action,
    now: Timestamp,
) -> Result<Plan, PlanError> {
    let name = target.name.clone();
    let spec = d.spec.as_ref();
    let paused = spec.and_then(|s| s.paused).unwrap_or(false);
    let cause = action.describe(target);
    let with_cause = |mut body: Value| {
        body["metadata"] = json!({"annotations": {CHANGE_CAUSE_ANNOTATION: cause}});
        body
    };
    let patch = |body: Value| Plan::Patch {
        patch: Patch::Strategic(with_cause(body)),
        resolved: action.clone(),
    };
    match action {
        Action::Undo { to_revision } => plan_undo(d, rss, *to_revision),
        Action::Restart => {
            if paused {
                return Err(PlanError::Paused {
                    verb: "restart",
                    name,
                });
            }
            let at = now.to_string();
            Ok(patch(
                json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: at}}}}}),
            ))
        }
        Action::Scale { replicas } => {
            if *replicas < 0 {
                return Err(PlanError::BadReplicas(*replicas));
            }
            if spec.and_then(|s| s.replicas) == Some(*replicas) {
                return Ok(Plan::Skip(format!(
                    "deploy/{name} already has {replicas} replicas"
                )));
            }
            Ok(patch(json!({"spec": {"replicas": replicas}})))
        }
        Action::Pause | Action::Resume => {
            let want = matches!(action, Action::Pause);
            if paused == want {
                let word = if want { "paused" } else { "resumed" };
                return Ok(Plan::Skip(format!("deploy/{name} is already {word}")));
            }
            Ok(patch(json!({"spec": {"paused": want}})))
        }
        Action::SetImage { container, image } => {
            if image.trim().is_empty() {
                return Err(PlanError::Empty("image"));
            }
            let c = container_name(d, container.as_deref(), &name)?;
            let current = containers(d)
                .find(|x| x.name == c)
                .and_then(|x| x.image.clone());
            if current.as_deref() == Some(image.as_str()) {
                return Ok(Plan::Skip(format!(
                    "deploy/{name} container {c} already runs {image}"
                )));
            }
            Ok(patch(
                json!({"spec": {"template": {"spec": {"containers": [{"name": c, "image": image}]}}}}),
            ))
        }
        Action::SetModel {
            container,
            version,
            path,
        } => {
            if version.trim().is_empty() {
                return Err(PlanError::Empty("model version"));
            }
            let c = container_name(d, container.as_deref(), &name)?;
            let env_now = |k: &str| {
                containers(d)
                    .find(|x| x.name == c)
                    .and_then(|x| x.env.as_ref())
                    .and_then(|env| env.iter().find(|e| e.name == k))
                    .and_then(|e| e.value.clone())
            };
            let same_label = model_version(spec.map(|s| &s.template)) == Some(version.as_str());
            let same_env = env_now(MODEL_VERSION_ENV).as_deref() == Some(version.as_str());
            let same_path = path.is_none() || env_now(MODEL_PATH_ENV) == *path;
            if same_label && same_env && same_path {
                return Ok(Plan::Skip(format!(
                    "deploy/{name} already serves model version {version}"
                )));
            }
            let mut env = vec![json!({"name": MODEL_VERSION_ENV, "value": version})];
            if let Some(p) = path {
                env.push(json!({"name": MODEL_PATH_ENV, "value": p}));
            }
            Ok(patch(json!({"spec": {"template": {
                "metadata": {"labels": {MODEL_VERSION_LABEL: version}},
                "spec": {"containers": [{"name": c, "env": env}]}
            }}})))
        }
    }
}

fn containers(d: &Deployment) -> impl Iterator<Item = &k8s_openapi::api::core::v1::Container> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.iter())
        .into_iter()
        .flatten()
}

fn container_name(d: &Deployment, wanted: Option<&str>, name: &str) -> Result<String, PlanError> {
    let names: Vec<&str> = containers(d).map(|c| c.name.as_str()).collect();
    let list = || {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    match wanted {
        Some(w) if names.contains(&w) => Ok(w.to_string()),
        Some(w) => Err(PlanError::NoContainer {
            name: name.into(),
            container: w.into(),
            names: list(),
        }),
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(PlanError::AmbiguousContainer {
            name: name.into(),
            names: list(),
        }),
    }
}

/// The deployment's revision, for messages and the audit log.
pub fn current_revision(d: &Deployment) -> Option<i64> {
    revision(&d.metadata)
}

#[cfg(test)]
mod tests;
