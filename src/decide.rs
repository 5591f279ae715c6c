//! The write rules, once for both backends: what an action means for a deployment as it
//! is now, or why it is refused (kubectl's rules and wording).
//!
//! Pure. The Kubernetes backend fills [`Facts`] from the Deployment and its ReplicaSets
//! (`k8s/plan.rs`), the local backend from its spec (`local/actions.rs`); each then only
//! turns the [`Decision`] into its patch or its spec change.
use std::fmt;

use crate::action::Action;

/// What the rules need to know about a deployment, whichever backend runs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub name: String,
    pub paused: bool,
    /// The desired replica count, when the deployment sets one.
    pub replicas: Option<i32>,
    /// The revisions in its history, newest first.
    pub history: Vec<Revision>,
    pub containers: Vec<Container>,
    /// Whether its containers run images an action may set (local replicas run a binary).
    pub images: bool,
    /// The model version label of the pod template.
    pub model_version: Option<String>,
}

/// One revision of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub number: i64,
    /// Its template is the one the deployment has now.
    pub is_current_template: bool,
}

/// One container of the pod template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
    /// Its model version and model path environment variables.
    pub model_version: Option<String>,
    pub model_path: Option<String>,
}

/// What a write means, every choice resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to change.
    Skip(Skip),
    /// Make this revision's template current again.
    Undo {
        to: i64,
    },
    /// A new template that runs the same thing.
    Restart,
    Scale(i32),
    Pause,
    Resume,
    SetImage {
        container: String,
        image: String,
    },
    SetModel {
        container: String,
        version: String,
        path: Option<String>,
    },
}

impl Decision {
    /// `action` with the decision's choices filled in (the undo's revision number).
    pub fn resolved(&self, action: &Action) -> Action {
        match self {
            Decision::Undo { to } => Action::Undo {
                to_revision: Some(*to),
            },
            _ => action.clone(),
        }
    }
}

/// Why nothing needs to change; `Display` gives the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    Replicas {
        name: String,
        replicas: i32,
    },
    /// Already paused (`true`) or already running (`false`).
    Paused {
        name: String,
        paused: bool,
    },
    Image {
        name: String,
        container: String,
        image: String,
    },
    Model {
        name: String,
        version: String,
    },
    /// The undo's revision is the current template.
    Rollback {
        revision: i64,
    },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Replicas { name, replicas } => {
                write!(f, "deploy/{name} already has {replicas} replicas")
            }
            Skip::Paused { name, paused } => {
                let word = if *paused { "paused" } else { "resumed" };
                write!(f, "deploy/{name} is already {word}")
            }
            Skip::Image {
                name,
                container,
                image,
            } => write!(
                f,
                "deploy/{name} container {container} already runs {image}"
            ),
            Skip::Model { name, version } => {
                write!(f, "deploy/{name} already serves model version {version}")
            }
            Skip::Rollback { revision } => write!(
                f,
                "skipped rollback (current template already matches revision {revision})"
            ),
        }
    }
}

/// Why a write is refused before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
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
    /// `helm rollback` is for a release on Kubernetes, carried out by the Helm binary.
    #[error("helm rollback applies to a Helm release on Kubernetes, not to this backend")]
    NotHelm,
    /// The local backend runs the tractor-serve binary, not images.
    #[error(
        "local replicas run the tractor-serve binary (--serve-bin): there is no image to set; use set model"
    )]
    NoImage,
    /// The local backend needs a model file for a version it cannot find by pattern.
    #[error("set model {0}: give the model file (--path) for the local backend")]
    NoModelPath(String),
    #[error("set model {version}: no model file at {path}")]
    NoModelFile { version: String, path: String },
}

/// Decides what `action` means for the deployment described by `facts`.
pub fn decide(facts: &Facts, action: &Action) -> Result<Decision, Refusal> {
    let name = || facts.name.clone();
    match action {
        Action::Undo { to_revision } => undo(facts, *to_revision),
        Action::Restart if facts.paused => Err(Refusal::Paused {
            verb: "restart",
            name: name(),
        }),
        Action::Restart => Ok(Decision::Restart),
        Action::HelmRollback { .. } => Err(Refusal::NotHelm),
        Action::Scale { replicas } if *replicas < 0 => Err(Refusal::BadReplicas(*replicas)),
        Action::Scale { replicas } if facts.replicas == Some(*replicas) => {
            Ok(Decision::Skip(Skip::Replicas {
                name: name(),
                replicas: *replicas,
            }))
        }
        Action::Scale { replicas } => Ok(Decision::Scale(*replicas)),
        Action::Pause | Action::Resume => {
            let pause = matches!(action, Action::Pause);
            Ok(match (facts.paused == pause, pause) {
                (true, _) => Decision::Skip(Skip::Paused {
                    name: name(),
                    paused: pause,
                }),
                (false, true) => Decision::Pause,
                (false, false) => Decision::Resume,
            })
        }
        Action::SetImage { .. } if !facts.images => Err(Refusal::NoImage),
        Action::SetImage { image, .. } if image.trim().is_empty() => Err(Refusal::Empty("image")),
        Action::SetImage { container, image } => {
            let c = container_named(facts, container.as_deref())?;
            if c.image.as_deref() == Some(image.as_str()) {
                return Ok(Decision::Skip(Skip::Image {
                    name: name(),
                    container: c.name.clone(),
                    image: image.clone(),
                }));
            }
            Ok(Decision::SetImage {
                container: c.name.clone(),
                image: image.clone(),
            })
        }
        Action::SetModel { version, .. } if version.trim().is_empty() => {
            Err(Refusal::Empty("model version"))
        }
        Action::SetModel {
            container,
            version,
            path,
        } => {
            let c = container_named(facts, container.as_deref())?;
            let same_label = facts.model_version.as_deref() == Some(version.as_str());
            let same_env = c.model_version.as_deref() == Some(version.as_str());
            let same_path = path.is_none() || c.model_path == *path;
            if same_label && same_env && same_path {
                return Ok(Decision::Skip(Skip::Model {
                    name: name(),
                    version: version.clone(),
                }));
            }
            Ok(Decision::SetModel {
                container: c.name.clone(),
                version: version.clone(),
                path: path.clone(),
            })
        }
    }
}

/// `rollout undo`: the named revision, or the previous one (the second newest) when none
/// (or 0) is named; refused while paused, skipped when it is the current template.
fn undo(facts: &Facts, to_revision: Option<i64>) -> Result<Decision, Refusal> {
    if facts.paused {
        return Err(Refusal::Paused {
            verb: "roll back",
            name: facts.name.clone(),
        });
    }
    let find = |n: i64| facts.history.iter().find(|r| r.number == n);
    let rev = match to_revision.filter(|r| *r != 0) {
        Some(n) => find(n).ok_or(Refusal::NoRevision(n))?,
        None => {
            let mut numbers: Vec<i64> = facts.history.iter().map(|r| r.number).collect();
            numbers.dedup();
            let prev = *numbers
                .get(1)
                .ok_or_else(|| Refusal::NoHistory(facts.name.clone()))?;
            find(prev).ok_or(Refusal::NoRevision(prev))?
        }
    };
    if rev.is_current_template {
        return Ok(Decision::Skip(Skip::Rollback {
            revision: rev.number,
        }));
    }
    Ok(Decision::Undo { to: rev.number })
}

/// The container an action names, or the only one.
fn container_named<'a>(facts: &'a Facts, wanted: Option<&str>) -> Result<&'a Container, Refusal> {
    let names = || {
        if facts.containers.is_empty() {
            "none".to_string()
        } else {
            let v: Vec<&str> = facts.containers.iter().map(|c| c.name.as_str()).collect();
            v.join(", ")
        }
    };
    match (wanted, facts.containers.as_slice()) {
        (Some(w), all) => all
            .iter()
            .find(|c| c.name == w)
            .ok_or_else(|| Refusal::NoContainer {
                name: facts.name.clone(),
                container: w.into(),
                names: names(),
            }),
        (None, [only]) => Ok(only),
        (None, _) => Err(Refusal::AmbiguousContainer {
            name: facts.name.clone(),
            names: names(),
        }),
    }
}

#[cfg(test)]
mod tests;
