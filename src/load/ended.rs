//! How a console load test ended: its one-line summary, or a typed reason it could not
//! run or report. Travels in the event channel and stays in the state, so the reason is
//! shared (`Arc`) rather than re-worded into a string.
use std::sync::Arc;

use super::engine::RunError;
use super::plan::PlanError;
use super::report::JsonError;

/// Why a console run did not end with a summary.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan's flags or body were wrong: nothing was sent.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The run could not be carried out (no target, threads, preparing requests).
    #[error(transparent)]
    Run(#[from] RunError),
    /// An in-cluster run could not create, start or reach its workers.
    #[error(transparent)]
    Fleet(#[from] super::fleet::coordinator::FleetError),
    /// The run ended but `--json` could not be written.
    #[error(transparent)]
    Json(#[from] JsonError),
}

/// A [`LoadError`] cheap to clone; equal when it is the same error or says the same.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct LoadFailure(pub Arc<LoadError>);

impl PartialEq for LoadFailure {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl<E: Into<LoadError>> From<E> for LoadFailure {
    fn from(e: E) -> Self {
        LoadFailure(Arc::new(e.into()))
    }
}

/// The summary line, or why there is none.
pub type LoadEnded = Result<String, LoadFailure>;
