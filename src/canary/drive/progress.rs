//! What a canary run reports as it goes (a line each in the CLI, a JSON object each with
//! `-o json`, an audit line for each write and verdict), how it ends, and why it stopped
//! early.
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use tractor_metrics::canary::counters::{AbortReason, Action, PauseReason, Phase};
use tractor_metrics::canary::judge::WindowVerdict;

use super::super::backend::BackendError;
use super::super::lease::Held;
use super::super::state::StateError;
use super::super::steps::StepsError;
use super::super::window::Stale;
use crate::cli::exit;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// The canary was created at the first step.
    Created {
        canary: String,
        replicas: i32,
        stable_replicas: i32,
    },
    /// A run saved on the canary was taken up by this console.
    Resumed {
        canary: String,
        step: usize,
        #[serde(serialize_with = "phase_text")]
        phase: Phase,
    },
    /// The canary was scaled for a step (counted from 0).
    Step {
        step: usize,
        steps: usize,
        replicas: i32,
        stable_replicas: i32,
    },
    /// The step's canary pods are ready and answer.
    Ready { step: usize, replicas: i32 },
    /// One window, judged: the verdict with its numbers, the observed request share, and
    /// the run's next action.
    Window {
        step: usize,
        /// When the window ended (RFC 3339).
        at: String,
        canary_share: Option<f64>,
        canary_pods: usize,
        stable_pods: usize,
        stale: Vec<Stale>,
        #[serde(flatten)]
        verdict: Box<WindowVerdict>,
        next: Action,
    },
    /// A snapshot failed: no window was judged.
    ScrapeFailed {
        step: usize,
        error: String,
        next: Action,
    },
    /// The canary was not ready within the progress deadline.
    NotReady { step: usize, replicas: i32 },
    /// The run went past its maximum duration.
    MaxDuration,
    /// The stable is taking the canary's template.
    Promoting { stable: String },
    /// The stable rolled out the canary's template; the canary is being removed.
    Promoted { stable: String },
    /// The canary is being removed; the stable was not changed.
    Aborting {
        #[serde(flatten)]
        reason: AbortReason,
    },
    /// The canary is gone.
    Removed { canary: String },
    /// The run waits for a person (`resume`, `promote` or `abort`).
    Paused {
        #[serde(flatten)]
        reason: PauseReason,
    },
    /// A person resumed a paused run.
    Unpaused,
}

fn phase_text<S: serde::Serializer>(p: &Phase, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&PhaseText(p))
}

/// A phase in words.
pub struct PhaseText<'a>(pub &'a Phase);

impl fmt::Display for PhaseText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Phase::Running => f.write_str("running"),
            Phase::Paused { reason } => write!(f, "paused: {}", PauseText(reason)),
            Phase::Promoted => f.write_str("promoted"),
            Phase::Aborted { reason } => write!(f, "aborted: {}", AbortText(reason)),
        }
    }
}

pub struct AbortText<'a>(pub &'a AbortReason);

impl fmt::Display for AbortText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AbortReason::Failures { failures, limit } => write!(
                f,
                "{failures} failed windows, more than the failure limit of {limit}"
            ),
            AbortReason::NotReady => {
                f.write_str("the canary was not ready within the progress deadline")
            }
            AbortReason::MaxDuration => f.write_str("the run went past its maximum duration"),
            AbortReason::ByHand => f.write_str("aborted by hand"),
        }
    }
}

pub struct PauseText<'a>(pub &'a PauseReason);

impl fmt::Display for PauseText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PauseReason::Inconclusive {
                inconclusive,
                limit,
            } => write!(
                f,
                "{inconclusive} inconclusive windows, more than the limit of {limit} (not enough traffic, or stale scrapes?)"
            ),
            PauseReason::ScrapeErrors { consecutive, limit } => write!(
                f,
                "{consecutive} scrapes in a row failed, more than the limit of {limit}"
            ),
        }
    }
}

/// How a run ended for this console.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The stable runs the canary's template; the canary is gone.
    Promoted,
    /// The canary is gone; the stable was not changed.
    RolledBack {
        #[serde(flatten)]
        reason: AbortReason,
    },
    /// The canary stays at its step, waiting for a person.
    Paused {
        #[serde(flatten)]
        reason: PauseReason,
    },
    /// Someone else drives the canary now, or it was removed: this console stopped.
    Lost { why: String },
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Promoted => exit::OK,
            Outcome::RolledBack {
                reason: AbortReason::MaxDuration,
            } => exit::TIMEOUT,
            Outcome::RolledBack { .. } => exit::ROLLED_BACK,
            Outcome::Paused { .. } => exit::PAUSED,
            Outcome::Lost { .. } => exit::REFUSED,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Promoted => f.write_str("promoted"),
            Outcome::RolledBack { reason } => write!(f, "rolled back: {}", AbortText(reason)),
            Outcome::Paused { reason } => write!(
                f,
                "paused: {}; resume, promote or abort it",
                PauseText(reason)
            ),
            Outcome::Lost { why } => write!(f, "stopped driving: {why}"),
        }
    }
}

/// Why a run stopped before an outcome (the canary stays as it was, its state saved).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Backend(Box<BackendError>),
    #[error(transparent)]
    Steps(#[from] StepsError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Held(#[from] Held),
    #[error("read-only: {verb} refused; nothing was sent")]
    ReadOnly { verb: &'static str },
    #[error("no canary of deploy/{stable} is running")]
    NoCanary { stable: String },
    #[error("the canary of deploy/{stable} is {phase}: nothing to {verb}")]
    Ended {
        stable: String,
        phase: String,
        verb: &'static str,
    },
    #[error(
        "the audit log {} could not be written: {detail}; the canary stays as it is",
        path.display()
    )]
    Audit { path: PathBuf, detail: String },
}

impl From<BackendError> for DriveError {
    fn from(e: BackendError) -> Self {
        DriveError::Backend(Box::new(e))
    }
}

impl DriveError {
    pub fn exit_code(&self) -> i32 {
        match self {
            DriveError::Backend(b) => b.exit_code(),
            DriveError::Held(_) | DriveError::ReadOnly { .. } => exit::REFUSED,
            _ => exit::FAILED,
        }
    }
}
