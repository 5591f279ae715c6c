//! The canary on the local backend: canary replicas beside the deployment's behind the
//! front port (traffic share ≈ replica share, as with a Service), the run in annotations
//! saved with the local spec (a write at a stale version is a
//! [`BackendError::Conflict`]), replicas scraped on loopback, promotion as the deployment's
//! next revision followed by waiting for its rolling update, removal as draining the
//! canary's replicas. The calls go to the local controller (`local::controller::canary`).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use tractor_metrics::revision::Revision;

use super::backend::{BackendError, CanaryBackend, Loaded};
use super::lease::Lease;
use super::object::canary_name;
use super::state::CanaryState;
use super::window::{PodSample, Snapshot};
use super::{CanaryObjectError, drive};
use crate::action::Target;
use crate::local::controller::LiveReplica;
use crate::local::objects::NAMESPACE;
use crate::local::{Handle, actions};

/// How often promotion checks the rolling update.
const POLL: Duration = Duration::from_millis(200);

pub struct LocalCanary {
    handle: Arc<Handle>,
    http: Option<reqwest::Client>,
}

impl LocalCanary {
    /// The canary of the local deployment `handle` runs; replicas are scraped with
    /// `timeout`.
    pub fn new(handle: Arc<Handle>, timeout: Duration) -> LocalCanary {
        let http = reqwest::Client::builder().timeout(timeout).build().ok();
        LocalCanary { handle, http }
    }

    /// The annotations that hold `state` and `lease`, for this deployment's plan only.
    fn annotations(
        &self,
        state: &CanaryState,
        lease: &Lease,
    ) -> Result<BTreeMap<String, String>, BackendError> {
        if state.plan.target != self.handle.name {
            return Err(CanaryObjectError::OtherTarget {
                plan: state.plan.target.clone(),
                stable: self.handle.name.clone(),
            }
            .into());
        }
        lease
            .with_run(state)
            .map_err(|e| BackendError::state(&self.canary_name(), e))
    }

    async fn scrape(&self, replicas: Vec<LiveReplica>) -> Snapshot {
        let Some(http) = self.http.clone() else {
            return Snapshot::default();
        };
        let jobs = replicas.into_iter().map(|r| {
            let http = http.clone();
            async move {
                let url = format!("http://127.0.0.1:{}/metrics", r.port);
                let text = crate::scrape::fetch::fetch_url(&http, &url).await;
                PodSample {
                    pod: r.name,
                    revision: if r.canary {
                        Revision::Canary
                    } else {
                        Revision::Stable
                    },
                    metrics: crate::scrape::scraped(text),
                }
            }
        });
        let pods = futures::stream::iter(jobs)
            .buffer_unordered(16)
            .collect()
            .await;
        Snapshot { pods }
    }
}

impl CanaryBackend for LocalCanary {
    fn stable_name(&self) -> &str {
        &self.handle.name
    }

    fn canary_name(&self) -> String {
        canary_name(&self.handle.name)
    }

    /// Nothing else manages a local deployment.
    async fn managed_by(&self) -> Result<Option<crate::model::manager::Manager>, BackendError> {
        Ok(None)
    }

    async fn stable_replicas(&self) -> Result<i32, BackendError> {
        Ok(self.handle.canary_view().await?.replicas)
    }

    /// Checks what `create` would do (the plan's target, the template by the write rules,
    /// the annotations), nothing written.
    async fn dry_run(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
    ) -> Result<(), BackendError> {
        self.annotations(state, lease)?;
        if replicas < 1 {
            return Err(CanaryObjectError::BadReplicas(replicas).into());
        }
        let cause = state.plan.describe(NAMESPACE);
        self.handle
            .canary_check(state.plan.change.clone(), cause)
            .await
            .map(|_| ())
    }

    async fn create(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
    ) -> Result<(), BackendError> {
        let annotations = self.annotations(state, lease)?;
        let cause = state.plan.describe(NAMESPACE);
        self.handle
            .canary_create(state.plan.change.clone(), cause, annotations, replicas)
            .await
    }

    async fn load(&self) -> Result<Option<Loaded>, BackendError> {
        let Some(c) = self.handle.canary_view().await?.canary else {
            return Ok(None);
        };
        Loaded::decode(
            &self.canary_name(),
            &c.annotations,
            c.replicas,
            c.version.to_string(),
        )
        .map(Some)
    }

    async fn save(
        &self,
        state: &CanaryState,
        lease: &Lease,
        version: &str,
    ) -> Result<(), BackendError> {
        let annotations = self.annotations(state, lease)?;
        // a version this backend never gave out cannot be the canary's
        let version = version.parse().map_err(|_| BackendError::Conflict {
            canary: self.canary_name(),
        })?;
        self.handle.canary_save(annotations, version).await
    }

    async fn scale(&self, replicas: i32) -> Result<(), BackendError> {
        self.handle.canary_scale(replicas).await
    }

    async fn ready(&self, replicas: i32) -> Result<bool, BackendError> {
        let view = self.handle.canary_view().await?;
        let Some(c) = &view.canary else {
            return Err(BackendError::Gone {
                canary: self.canary_name(),
            });
        };
        let canaries: Vec<LiveReplica> = view.live.into_iter().filter(|r| r.canary).collect();
        let n = i32::try_from(canaries.len()).unwrap_or(i32::MAX);
        if c.replicas != replicas || n != replicas || !canaries.iter().all(|r| r.ready) {
            return Ok(false);
        }
        let snap = self.scrape(canaries).await;
        Ok(snap.all_answered())
    }

    async fn snapshot(&self) -> Result<Snapshot, BackendError> {
        let view = self.handle.canary_view().await?;
        let serving = view.live.into_iter().filter(|r| r.ready).collect();
        Ok(self.scrape(serving).await)
    }

    async fn promote(&self, cause: &str, deadline: Timestamp) -> Result<(), BackendError> {
        self.handle.canary_promote(cause.to_string()).await?;
        let seconds = deadline
            .duration_since(Timestamp::now())
            .as_secs()
            .unsigned_abs();
        loop {
            if self.handle.canary_view().await?.rolled_out() {
                return Ok(());
            }
            if Timestamp::now() >= deadline {
                return Err(BackendError::Timeout {
                    what: format!(
                        "deploy/{} rolling out the canary's template",
                        self.handle.name
                    ),
                    seconds,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn remove(&self) -> Result<(), BackendError> {
        self.handle.canary_remove().await
    }
}

/// The driver's settings for the local console: `user` as the lease holder.
pub fn settings(user: &str, read_only: bool, ttl: Duration) -> drive::Settings {
    drive::Settings {
        me: super::holder::me(user),
        lease_ttl: ttl,
        read_only,
        poll: Duration::from_millis(200),
        load_lag: None,
    }
}

/// Where the local console records the canary of `target`.
pub fn audit(h: &Handle, user: &str, target: &Target) -> drive::Audit {
    drive::Audit {
        log: h.audit.clone(),
        context: actions::CONTEXT.into(),
        user: user.into(),
        target: target.clone(),
    }
}
