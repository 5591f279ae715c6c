//! What an operator can do to a deployment, as data.
use serde::Serialize;

/// A deployment, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/deploy/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Roll back to a revision (the previous one when `None`).
    Undo {
        to_revision: Option<i64>,
    },
    Restart,
    Scale {
        replicas: i32,
    },
    Pause,
    Resume,
    SetImage {
        container: Option<String>,
        image: String,
    },
    /// Set the model version label and env (and optionally the model path).
    SetModel {
        container: Option<String>,
        version: String,
        path: Option<String>,
    },
    /// The Helm release that manages the deployment goes back to a release revision (the
    /// one before the deployed one when `None`): `helm rollback`, not a patch.
    HelmRollback {
        release: String,
        revision: Option<i64>,
    },
}

impl Action {
    /// The verb as the audit log and messages name it.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Undo { .. } => "undo",
            Action::Restart => "restart",
            Action::Scale { .. } => "scale",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::SetImage { .. } => "set-image",
            Action::SetModel { .. } => "set-model",
            Action::HelmRollback { .. } => "helm-rollback",
        }
    }

    /// Does this action start a new rollout that should be followed?
    pub fn rolls_out(&self) -> bool {
        matches!(
            self,
            Action::Undo { .. }
                | Action::Restart
                | Action::SetImage { .. }
                | Action::SetModel { .. }
                | Action::Resume
                | Action::HelmRollback { .. }
        )
    }

    /// The equivalent command line, recorded as the change-cause.
    pub fn describe(&self, t: &Target) -> String {
        let d = format!("deploy/{} -n {}", t.name, t.namespace);
        match self {
            Action::Undo {
                to_revision: Some(r),
            } => format!("tractor rollout undo {d} --to-revision {r}"),
            Action::Undo { to_revision: None } => format!("tractor rollout undo {d}"),
            Action::Restart => format!("tractor rollout restart {d}"),
            Action::Scale { replicas } => format!("tractor scale {d} --replicas {replicas}"),
            Action::Pause => format!("tractor rollout pause {d}"),
            Action::Resume => format!("tractor rollout resume {d}"),
            Action::SetImage { container, image } => match container {
                Some(c) => format!("tractor set image {d} {c}={image}"),
                None => format!("tractor set image {d} {image}"),
            },
            Action::SetModel { version, path, .. } => match path {
                Some(p) => format!("tractor set model {d} {version} --path {p}"),
                None => format!("tractor set model {d} {version}"),
            },
            Action::HelmRollback { release, revision } => match revision {
                Some(r) => format!("helm rollback {release} {r} -n {}", t.namespace),
                None => format!("helm rollback {release} -n {}", t.namespace),
            },
        }
    }
}
