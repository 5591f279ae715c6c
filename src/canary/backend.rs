//! What a canary backend carries out (Kubernetes Deployments, or local replicas): create
//! the canary, scale it, tell when its pods are ready and answering, snapshot every serving
//! pod's metrics, save the run on the canary, promote, remove. What each call means (which
//! replicas at which step, when to save, when to promote, who holds the lease) is decided
//! once, in `drive`.
use std::future::Future;

use jiff::Timestamp;

use super::lease::Lease;
use super::state::CanaryState;
use super::window::Snapshot;
use super::{CanaryObjectError, StateError};
use crate::failure::Failure;

/// The run as saved on the canary, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub state: CanaryState,
    pub lease: Option<Lease>,
    /// The canary's desired replicas now.
    pub replicas: i32,
    /// The version the next write must match (Kubernetes' `resourceVersion`).
    pub version: String,
}

impl Loaded {
    /// The run saved in `annotations` of the canary named `canary`, which runs `replicas`
    /// at `version`.
    pub fn decode(
        canary: &str,
        annotations: &std::collections::BTreeMap<String, String>,
        replicas: i32,
        version: String,
    ) -> Result<Loaded, BackendError> {
        let state_error = |error| BackendError::state(canary, error);
        Ok(Loaded {
            state: CanaryState::decode(annotations).map_err(state_error)?,
            lease: Lease::decode(annotations).map_err(state_error)?,
            replicas,
            version,
        })
    }
}

/// Why a backend call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// The API (or the local controller) failed or refused.
    #[error(transparent)]
    Failure(#[from] Failure),
    /// The canary could not be built or read.
    #[error(transparent)]
    Object(#[from] CanaryObjectError),
    /// The canary's annotations are not a run this tractor reads.
    #[error("deploy/{canary}: {error}")]
    State {
        canary: String,
        error: Box<StateError>,
    },
    /// The canary changed since it was read (a write with a stale version).
    #[error("deploy/{canary} changed since it was read")]
    Conflict { canary: String },
    /// A canary is already there (create).
    #[error(
        "deploy/{canary} already exists: a canary is running (see `tractor rollout canary status`; resume, promote or abort it)"
    )]
    Exists { canary: String },
    /// No canary is there (any call but create).
    #[error("deploy/{canary} does not exist: no canary is running")]
    Gone { canary: String },
    /// Waited past the deadline.
    #[error("{what} did not happen within {seconds}s")]
    Timeout { what: String, seconds: u64 },
}

impl BackendError {
    /// The canary `canary`'s annotations are not a run this tractor reads (or writes).
    pub fn state(canary: &str, error: StateError) -> BackendError {
        BackendError::State {
            canary: canary.into(),
            error: Box::new(error),
        }
    }

    /// How a subcommand exits for it.
    pub fn exit_code(&self) -> i32 {
        match self {
            BackendError::Failure(f) => f.exit_code(),
            BackendError::Timeout { .. } => crate::cli::exit::TIMEOUT,
            _ => crate::cli::exit::FAILED,
        }
    }
}

/// A canary backend. Every call but [`CanaryBackend::create`] acts on the canary that
/// exists; each answers [`BackendError::Gone`] when it does not.
pub trait CanaryBackend {
    /// The stable's name, and the canary's.
    fn stable_name(&self) -> &str;
    fn canary_name(&self) -> String;
    /// Who else manages the stable (Helm, Argo CD, Flux): its promotion would not last.
    fn managed_by(
        &self,
    ) -> impl Future<Output = Result<Option<crate::model::manager::Manager>, BackendError>> + Send;
    /// The stable's desired replicas now (an autoscaler may change them).
    fn stable_replicas(&self) -> impl Future<Output = Result<i32, BackendError>> + Send;
    /// Checks what [`CanaryBackend::create`] would do (the API server's dry run, or the
    /// local write rules), writing nothing.
    fn dry_run(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Creates the canary at `replicas`, saving `state` and `lease` on it.
    fn create(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// The run saved on the canary; `None` when there is no canary.
    fn load(&self) -> impl Future<Output = Result<Option<Loaded>, BackendError>> + Send;
    /// Saves `state` and `lease` if the canary is still at `version`
    /// ([`BackendError::Conflict`] otherwise).
    fn save(
        &self,
        state: &CanaryState,
        lease: &Lease,
        version: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    fn scale(&self, replicas: i32) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Are `replicas` canary pods ready, and does each answer its metrics?
    fn ready(&self, replicas: i32) -> impl Future<Output = Result<bool, BackendError>> + Send;
    /// Every serving pod of both revisions, scraped now.
    fn snapshot(&self) -> impl Future<Output = Result<Snapshot, BackendError>> + Send;
    /// Gives the stable the canary's template (a rolling update, recorded with `cause`)
    /// and waits until the stable has rolled out, until `deadline`.
    fn promote(
        &self,
        cause: &str,
        deadline: Timestamp,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Takes the canary's pods out of the traffic, then removes the canary. Nothing when
    /// it is already gone.
    fn remove(&self) -> impl Future<Output = Result<(), BackendError>> + Send;
}
