//! `RunState` as saved, in both directions. The metrics crate's types serialize only (for
//! the audit log); here serde's remote derive mirrors them field by field, so a field added
//! there fails to compile here until the saved form (and its schema version) says how to
//! read it.
use serde::{Deserialize, Serialize};
use tractor_metrics::canary::counters::{AbortReason, PauseReason, Phase, RunState};

#[derive(Serialize, Deserialize)]
#[serde(remote = "AbortReason", tag = "reason", rename_all = "snake_case")]
enum AbortReasonDef {
    Failures { failures: u32, limit: u32 },
    NotReady,
    MaxDuration,
    ByHand,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "PauseReason", tag = "reason", rename_all = "snake_case")]
enum PauseReasonDef {
    Inconclusive { inconclusive: u32, limit: u32 },
    ScrapeErrors { consecutive: u32, limit: u32 },
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Phase", tag = "phase", rename_all = "snake_case")]
enum PhaseDef {
    Running,
    Paused {
        #[serde(with = "PauseReasonDef")]
        reason: PauseReason,
    },
    Promoted,
    Aborted {
        #[serde(with = "AbortReasonDef")]
        reason: AbortReason,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "RunState", deny_unknown_fields)]
struct RunStateDef {
    step: usize,
    passes_in_step: u32,
    failures: u32,
    inconclusive: u32,
    consecutive_scrape_errors: u32,
    #[serde(with = "PhaseDef")]
    phase: Phase,
}

/// The run's counters as the annotation holds them.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Saved(#[serde(with = "RunStateDef")] pub RunState);
