//! How a run starts for this console: a new canary, a saved run taken up, or a person's
//! promote or abort.
use jiff::Timestamp;
use tractor_metrics::canary::counters::{AbortReason, Event, Phase, RunState};

use super::halt::{finish, refuse_read_only};
use super::{Audit, DriveError, Driver, Outcome, PhaseText, Progress, Report, Settings};
use crate::canary::backend::{BackendError, CanaryBackend};
use crate::canary::lease::decide_lease;
use crate::canary::plan::CanaryPlan;
use crate::canary::state::CanaryState;
use crate::canary::state::{SCHEMA_ANNOTATION, StateError};

/// Starts a canary of `plan` (its first step) and drives it to an outcome.
pub async fn start<B: CanaryBackend>(
    b: &B,
    plan: CanaryPlan,
    s: &Settings,
    audit: &Audit,
    report: Report<'_>,
) -> Result<Outcome, DriveError> {
    refuse_read_only(s, "canary")?;
    let now = Timestamp::now();
    let state = CanaryState::start(plan, now);
    let lease = decide_lease(None, &s.me, now, s.lease_ttl)?;
    let stable_replicas = b.stable_replicas().await?;
    let replicas = state.plan.steps.resolve(stable_replicas)?[0];
    let command = state.plan.describe(&audit.target.namespace);
    let created = b.create(&state, &lease, replicas).await;
    let result = match &created {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    };
    audit.record("canary-start", command, &result, &state.plan)?;
    created?;
    report(&Progress::Created {
        canary: b.canary_name(),
        replicas,
        stable_replicas,
    });
    let d = Driver {
        b,
        s,
        audit,
        report,
        state,
        lease,
        force: false,
        saved: RunState::start(),
    };
    finish(d.run().await)
}

/// Takes up the run saved on the canary and drives it on: `unpause` resumes a paused run,
/// `take_over` breaks another console's live lease (the audit log says whose).
pub async fn resume<B: CanaryBackend>(
    b: &B,
    s: &Settings,
    audit: &Audit,
    report: Report<'_>,
    unpause: bool,
    take_over_lease: bool,
) -> Result<Outcome, DriveError> {
    refuse_read_only(s, "resume")?;
    let (mut d, broke) = Driver::take(b, s, audit, report, take_over_lease).await?;
    let mut unpaused = false;
    if unpause && matches!(d.state.run.phase, Phase::Paused { .. }) {
        d.act(Event::Resumed)?;
        unpaused = true;
    }
    let r = async {
        d.save().await?;
        let command = format!(
            "{} (resume)",
            d.state.plan.describe(&audit.target.namespace)
        );
        audit.record("canary-resume", command, "ok", &broke)?;
        if unpaused {
            (d.report)(&Progress::Unpaused);
        }
        (d.report)(&Progress::Resumed {
            canary: b.canary_name(),
            step: d.state.run.step,
            phase: d.state.run.phase,
        });
        d.run().await
    };
    finish(r.await)
}

/// A person's promote (`promote: true`) or abort, now, whoever drives: the lease is taken
/// over (the audit log names whose it broke), the decision saved, then carried out.
pub async fn by_hand<B: CanaryBackend>(
    b: &B,
    s: &Settings,
    audit: &Audit,
    report: Report<'_>,
    promote: bool,
) -> Result<Outcome, DriveError> {
    let verb = if promote { "promote" } else { "abort" };
    refuse_read_only(s, verb)?;
    let (mut d, broke) = match Driver::take(b, s, audit, &mut *report, true).await {
        Err(DriveError::Backend(e)) if !promote && unreadable_run(&e) => {
            return abort_unreadable(b, audit, report, &e).await;
        }
        taken => taken?,
    };
    let wanted = if promote {
        Phase::Promoted
    } else {
        Phase::Aborted {
            reason: AbortReason::ByHand,
        }
    };
    let phase = d.state.run.phase;
    // finishing what was decided is fine, and so is aborting a promotion that could not
    // finish (the canary is removed; what the stable was given stays); turning an abort
    // into a promotion is not
    if matches!(phase, Phase::Aborted { .. }) && promote {
        return Err(DriveError::Ended {
            stable: b.stable_name().into(),
            phase: PhaseText(&phase).to_string(),
            verb,
        });
    }
    if !matches!(phase, Phase::Aborted { .. }) {
        d.state.run.phase = wanted;
    }
    let r = async {
        d.save().await?;
        let command = format!(
            "tractor rollout canary {verb} deploy/{} -n {}",
            b.stable_name(),
            audit.target.namespace
        );
        audit.record(&format!("canary-{verb}"), command, "ok", &broke)?;
        d.run().await
    };
    finish(r.await)
}

/// A tractor canary whose saved run cannot be read: its schema annotation is there (so it is
/// one), the rest is damaged, hand-edited or written by another tractor version.
fn unreadable_run(e: &BackendError) -> bool {
    matches!(e, BackendError::State { error, .. }
        if !matches!(**error, StateError::Missing { key: SCHEMA_ANNOTATION }))
}

/// A person's abort of a canary whose run cannot be read: an abort must work at 3 a.m. even
/// then. Nothing of the run is trusted or written back; the canary is removed (the stable is
/// not touched) and the audit log says why the run was not read.
async fn abort_unreadable<B: CanaryBackend>(
    b: &B,
    audit: &Audit,
    report: Report<'_>,
    why: &BackendError,
) -> Result<Outcome, DriveError> {
    let canary = b.canary_name();
    let command = format!(
        "tractor rollout canary abort deploy/{} -n {} (its run unreadable: {why})",
        b.stable_name(),
        audit.target.namespace
    );
    audit.record("canary-abort", command.clone(), "ok", &why.to_string())?;
    let reason = AbortReason::ByHand;
    report(&Progress::Aborting { reason });
    let removed = b.remove().await;
    let result = match &removed {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    };
    audit.record(
        "canary-remove",
        format!("{command} (remove deploy/{canary})"),
        &result,
        &serde_json::json!({ "phase": "unreadable" }),
    )?;
    removed?;
    report(&Progress::Removed { canary });
    Ok(Outcome::RolledBack { reason })
}
