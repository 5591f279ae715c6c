//! A canary rollout's pure model (issue 14): what a plan is (`plan`, its `steps`), where a
//! run keeps its plan and progress (`state`, annotations on the canary Deployment, with the
//! last window's verdict as a `summary`), who may drive it (`lease`), and the canary
//! Deployment itself (`object`, checked with `selector`) and what promotion gives the stable
//! (`promote`). No I/O here: the judgement is `tractor_metrics::canary`, the API calls are
//! the caller's.
//!
//! The mechanism is the documented canary pattern on plain Deployments: a second Deployment
//! `NAME-canary` whose pods carry the labels the Service selects plus
//! `tractor.dev/track: canary`, so traffic splits roughly as the replicas do.
pub mod backend;
pub mod drive;
pub mod holder;
pub mod kube;
pub mod lease;
pub mod lines;
pub mod local;
pub mod object;
pub mod plan;
pub mod promote;
pub mod selector;
pub mod state;
pub mod steps;
pub mod summary;
mod text;
pub mod window;

pub use lease::{Held, Lease, decide_lease, take_over};
pub use object::{CanaryObjectError, canary_deployment, canary_name};
pub use plan::{AnalysisFile, CanaryArgs, CanaryPlan, Change, ImageOverride, PlanError};
pub use promote::promoted_template;
pub use state::{CanaryState, StateError};
pub use steps::{Step, Steps, StepsError};
pub use summary::VerdictSummary;

/// The label that tells a canary's pods from the stable's (the stable's pods do not have it).
pub const TRACK_LABEL: &str = "tractor.dev/track";
/// [`TRACK_LABEL`]'s value on the canary's pods (and on the canary Deployment).
pub const CANARY_TRACK: &str = "canary";
