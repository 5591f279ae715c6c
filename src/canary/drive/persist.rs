//! Saving the run on the canary: read first, checked (nobody else drove it meanwhile, the
//! lease still this console's or free), written with the version read, retried on the
//! controller's own writes; and waiting with the lease renewed.
use std::time::Duration;

use jiff::Timestamp;

use super::halt::{Halt, Ttl};
use super::{Driver, PhaseText};
use crate::canary::backend::{BackendError, CanaryBackend};
use crate::canary::lease::{decide_lease, take_over};

impl<B: CanaryBackend> Driver<'_, B> {
    /// Saves the state with this console's lease renewed, if the lease is still its own.
    pub(super) async fn save(&mut self) -> Result<(), Halt> {
        self.write(Ttl::Renew).await
    }

    /// Saves the state with the lease `ttl` says: this console's ended (`Release`), so that
    /// any console may take the run up at once, or held for a long wait (`For`).
    pub(super) async fn write(&mut self, ttl: Ttl) -> Result<(), Halt> {
        let canary = self.b.canary_name();
        for attempt in 0..8u32 {
            let Some(loaded) = self.b.load().await? else {
                return Err(Halt::Lost(format!("deploy/{canary} was removed")));
            };
            // someone else wrote the run since this console last did: it is theirs now
            if !self.force && loaded.state.run != self.saved {
                return Err(Halt::Lost(format!(
                    "someone else drove the run meanwhile (it is {})",
                    PhaseText(&loaded.state.run.phase)
                )));
            }
            let now = Timestamp::now();
            let (me, base) = (&self.s.me, self.s.lease_ttl);
            let lease_ttl = match ttl {
                Ttl::Renew | Ttl::Release => base,
                Ttl::For(d) => base.max(d),
            };
            let lease = if self.force {
                take_over(loaded.lease.as_ref(), me, now, lease_ttl).lease
            } else {
                match decide_lease(loaded.lease.as_ref(), me, now, lease_ttl) {
                    Ok(l) => l,
                    Err(held) => return Err(Halt::Lost(held.to_string())),
                }
            };
            self.lease = lease;
            if ttl == Ttl::Release {
                self.lease.ttl = Duration::ZERO;
            }
            match self.b.save(&self.state, &self.lease, &loaded.version).await {
                Ok(()) => {
                    self.force = false;
                    self.saved = self.state.run;
                    return Ok(());
                }
                // the controller writes the status too: read again and retry
                Err(BackendError::Conflict { .. }) => {
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt + 1))).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(BackendError::Conflict { canary }.into())
    }

    /// Sleeps `d`, renewing the lease well inside its time to live.
    pub(super) async fn pause(&mut self, d: Duration) -> Result<(), Halt> {
        let chunk = (self.s.lease_ttl / 4).max(Duration::from_millis(100));
        let now = tokio::time::Instant::now();
        let until = now
            .checked_add(d)
            .unwrap_or(now + Duration::from_secs(86_400));
        loop {
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::time::sleep(chunk.min(until - now)).await;
            let since = Timestamp::now().duration_since(self.lease.renewed);
            if since.unsigned_abs() >= chunk {
                self.save().await?;
            }
        }
    }
}
