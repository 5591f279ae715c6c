//! A canary run kept on its Deployment, so that a console that dies loses nothing: the plan,
//! the counters (`RunState`, whose `step` is the current step), when the run started and the
//! last window's verdict, as annotations under `tractor.dev/`, each value JSON (the plan's
//! durations, steps and SLOs as a person writes them). The lease is `lease`'s annotation.
//!
//! `tractor.dev/canary-schema` says how to read the others; a tractor refuses a version it
//! does not know rather than guess.
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tractor_metrics::canary::counters::{self, Run, RunState};

use super::plan::{CanaryPlan, PlanError};
use super::summary::VerdictSummary;

mod run;

pub const SCHEMA_ANNOTATION: &str = "tractor.dev/canary-schema";
pub const PLAN_ANNOTATION: &str = "tractor.dev/canary-plan";
pub const RUN_ANNOTATION: &str = "tractor.dev/canary-run";
pub const STARTED_ANNOTATION: &str = "tractor.dev/canary-started-at";
pub const VERDICT_ANNOTATION: &str = "tractor.dev/canary-last-verdict";
/// The version this tractor writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The run's counters as JSON, as the annotation holds them (for `status -o json`).
pub fn run_json(run: &RunState) -> serde_json::Value {
    serde_json::to_value(run::Saved(*run)).unwrap_or_default()
}

/// A run, as saved on the canary.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryState {
    pub plan: CanaryPlan,
    pub run: RunState,
    pub started_at: Timestamp,
    /// `None` until a window was judged.
    pub last_verdict: Option<VerdictSummary>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("annotation {key} is missing: the Deployment is not a tractor canary, or was edited")]
    Missing { key: &'static str },
    #[error("annotation {key} is not valid: {detail}")]
    Malformed { key: &'static str, detail: String },
    #[error(
        "annotation {SCHEMA_ANNOTATION} is {found:?}: this tractor reads version {SCHEMA_VERSION} only; use the tractor that started the canary (or a newer one)"
    )]
    UnknownSchema { found: String },
    #[error("annotation {PLAN_ANNOTATION}: {0}")]
    Plan(PlanError),
    #[error("annotation {RUN_ANNOTATION}: {0}")]
    Run(counters::PlanError),
    #[error("cannot write annotation {key}: {detail}")]
    Encode { key: &'static str, detail: String },
}

pub(super) fn encode<T: Serialize + ?Sized>(
    key: &'static str,
    value: &T,
) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|e| StateError::Encode {
        key,
        detail: e.to_string(),
    })
}

pub(super) fn decode<T: DeserializeOwned>(
    annotations: &BTreeMap<String, String>,
    key: &'static str,
) -> Result<Option<T>, StateError> {
    annotations
        .get(key)
        .map(|text| {
            serde_json::from_str(text).map_err(|e| StateError::Malformed {
                key,
                detail: e.to_string(),
            })
        })
        .transpose()
}

impl CanaryState {
    /// A run about to start.
    pub fn start(plan: CanaryPlan, now: Timestamp) -> Self {
        CanaryState {
            plan,
            run: RunState::start(),
            started_at: now,
            last_verdict: None,
        }
    }

    /// The annotations that hold this state.
    pub fn annotations(&self) -> Result<BTreeMap<String, String>, StateError> {
        let mut a = BTreeMap::from([
            (SCHEMA_ANNOTATION.into(), SCHEMA_VERSION.to_string()),
            (PLAN_ANNOTATION.into(), encode(PLAN_ANNOTATION, &self.plan)?),
            (
                RUN_ANNOTATION.into(),
                encode(RUN_ANNOTATION, &run::Saved(self.run))?,
            ),
            (STARTED_ANNOTATION.into(), self.started_at.to_string()),
        ]);
        if let Some(v) = &self.last_verdict {
            a.insert(VERDICT_ANNOTATION.into(), encode(VERDICT_ANNOTATION, v)?);
        }
        Ok(a)
    }

    /// The state saved in `annotations` (a Deployment's), checked: a known schema, a plan
    /// that passes [`CanaryPlan::check`], and a step inside the plan.
    pub fn decode(annotations: &BTreeMap<String, String>) -> Result<Self, StateError> {
        let schema = annotations
            .get(SCHEMA_ANNOTATION)
            .ok_or(StateError::Missing {
                key: SCHEMA_ANNOTATION,
            })?;
        if schema.trim() != SCHEMA_VERSION.to_string() {
            return Err(StateError::UnknownSchema {
                found: schema.clone(),
            });
        }
        let required = |key| StateError::Missing { key };
        let plan: CanaryPlan =
            decode(annotations, PLAN_ANNOTATION)?.ok_or(required(PLAN_ANNOTATION))?;
        plan.check(None).map_err(StateError::Plan)?;
        let run::Saved(run) =
            decode(annotations, RUN_ANNOTATION)?.ok_or(required(RUN_ANNOTATION))?;
        let started = annotations
            .get(STARTED_ANNOTATION)
            .ok_or(required(STARTED_ANNOTATION))?;
        let started_at = started
            .parse()
            .map_err(|e: jiff::Error| StateError::Malformed {
                key: STARTED_ANNOTATION,
                detail: e.to_string(),
            })?;
        let state = CanaryState {
            plan,
            run,
            started_at,
            last_verdict: decode(annotations, VERDICT_ANNOTATION)?,
        };
        state.resume()?;
        Ok(state)
    }

    /// The run's counters, ready for the next event.
    pub fn resume(&self) -> Result<Run, StateError> {
        let plan = self.plan.to_counters_plan().map_err(StateError::Run)?;
        Run::resume_from(plan, self.run).map_err(StateError::Run)
    }
}

#[cfg(test)]
mod tests;
