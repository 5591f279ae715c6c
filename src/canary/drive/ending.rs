//! How a run ends: promotion (the stable takes the canary's template, then the canary is
//! removed) or removal alone, with the lease held through the waits.
use jiff::Timestamp;
use tractor_metrics::canary::counters::AbortReason;

use super::halt::{Halt, REMOVE_TIME, Ttl};
use super::{Driver, Outcome, PhaseText, Progress};
use crate::canary::backend::CanaryBackend;

impl<B: CanaryBackend> Driver<'_, B> {
    pub(super) async fn promote(&mut self) -> Result<Outcome, Halt> {
        let stable = self.b.stable_name().to_string();
        (self.report)(&Progress::Promoting {
            stable: stable.clone(),
        });
        let deadline = Timestamp::now()
            .checked_add(self.state.plan.progress_deadline)
            .unwrap_or(Timestamp::MAX);
        let cause = self.command();
        let hold = self
            .state
            .plan
            .progress_deadline
            .saturating_add(REMOVE_TIME);
        self.write(Ttl::For(hold)).await?;
        let promoted = self.b.promote(&cause, deadline).await;
        let result = match &promoted {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        self.audit
            .record("canary-promote", cause, &result, &self.state.plan.change)?;
        promoted?;
        (self.report)(&Progress::Promoted { stable });
        self.remove().await?;
        Ok(Outcome::Promoted)
    }

    pub(super) async fn abort(&mut self, reason: AbortReason) -> Result<Outcome, Halt> {
        (self.report)(&Progress::Aborting { reason });
        self.remove().await?;
        Ok(Outcome::RolledBack { reason })
    }

    pub(super) async fn remove(&mut self) -> Result<(), Halt> {
        let canary = self.b.canary_name();
        self.write(Ttl::For(REMOVE_TIME)).await?;
        let removed = self.b.remove().await;
        let result = match &removed {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let phase = PhaseText(&self.state.run.phase).to_string();
        self.audit.record(
            "canary-remove",
            format!("{} (remove deploy/{canary})", self.command()),
            &result,
            &serde_json::json!({ "phase": phase }),
        )?;
        removed?;
        (self.report)(&Progress::Removed { canary });
        Ok(())
    }
}
