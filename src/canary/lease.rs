//! Who drives a canary: a lease annotation on the canary Deployment, so two consoles cannot
//! both step one canary. A console takes the lease when there is none, when it has expired,
//! or when it is already its own (a renewal), and renews it well inside its time to live;
//! the write that saves it carries the Deployment's `resourceVersion`, so of two consoles
//! racing for an expired lease the API server lets one win (409 for the other).
//!
//! A lease is held while `now < renewed + ttl`: at the expiry instant it is free. Times are
//! each console's own clock; a clock ahead of the holder's sees the lease free early, so a
//! ttl should be far above the skew between machines (NTP keeps it under a second).
//!
//! A person's `abort` or `promote` must not wait for a console that died holding the
//! lease: [`take_over`] is that override, explicit, and answers whose lease it broke so the
//! audit log can say so.
use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::state::{CanaryState, StateError, decode, encode};
use super::text::{as_duration, as_timestamp};

pub const LEASE_ANNOTATION: &str = "tractor.dev/canary-lease";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// Who drives the canary: unique per console process (e.g. `alice@host/4242`), so two
    /// consoles of one person do not share a lease.
    pub holder: String,
    #[serde(with = "as_timestamp")]
    pub acquired: Timestamp,
    #[serde(with = "as_timestamp")]
    pub renewed: Timestamp,
    #[serde(with = "as_duration")]
    pub ttl: Duration,
}

/// Someone else drives the canary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the canary is driven by {holder} (its lease runs until {until}); wait for it, or abort or promote it by hand"
)]
pub struct Held {
    pub holder: String,
    pub until: Timestamp,
}

impl Lease {
    fn new(me: &str, now: Timestamp, ttl: Duration) -> Self {
        Lease {
            holder: me.into(),
            acquired: now,
            renewed: now,
            ttl,
        }
    }

    /// The instant it is free: `renewed + ttl` (the far future when that overflows).
    pub fn expires(&self) -> Timestamp {
        self.renewed.checked_add(self.ttl).unwrap_or(Timestamp::MAX)
    }

    /// Still held at `now` (false from the expiry instant on).
    pub fn held_at(&self, now: Timestamp) -> bool {
        now < self.expires()
    }

    /// The annotation that holds it.
    pub fn annotation(&self) -> Result<(String, String), StateError> {
        Ok((LEASE_ANNOTATION.into(), encode(LEASE_ANNOTATION, self)?))
    }

    /// The annotations that save `state` with this lease on the canary (the run's and the
    /// lease's, as every backend writes them).
    pub fn with_run(&self, state: &CanaryState) -> Result<BTreeMap<String, String>, StateError> {
        let mut a = state.annotations()?;
        let (k, v) = self.annotation()?;
        a.insert(k, v);
        Ok(a)
    }

    /// The lease in a Deployment's annotations; a malformed one is an error, not a free
    /// canary (only [`take_over`] overrides it).
    pub fn decode(annotations: &BTreeMap<String, String>) -> Result<Option<Lease>, StateError> {
        decode(annotations, LEASE_ANNOTATION)
    }
}

/// The lease `me` writes to drive the canary at `now`, or who holds it. Renewing keeps
/// `acquired`; taking a free lease starts a new one.
pub fn decide_lease(
    current: Option<&Lease>,
    me: &str,
    now: Timestamp,
    ttl: Duration,
) -> Result<Lease, Held> {
    match current {
        Some(l) if l.holder == me => Ok(Lease {
            renewed: now,
            ttl,
            ..l.clone()
        }),
        Some(l) if l.held_at(now) => Err(Held {
            holder: l.holder.clone(),
            until: l.expires(),
        }),
        _ => Ok(Lease::new(me, now, ttl)),
    }
}

/// A person's override (`abort`, `promote`): the lease is `me`'s whoever held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOver {
    pub lease: Lease,
    /// The live lease of someone else that this broke, for the audit log.
    pub broke: Option<Lease>,
}

pub fn take_over(current: Option<&Lease>, me: &str, now: Timestamp, ttl: Duration) -> TakeOver {
    match decide_lease(current, me, now, ttl) {
        Ok(lease) => TakeOver { lease, broke: None },
        Err(_) => TakeOver {
            lease: Lease::new(me, now, ttl),
            broke: current.cloned(),
        },
    }
}

#[cfg(test)]
mod tests;
