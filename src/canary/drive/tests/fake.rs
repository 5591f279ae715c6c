//! An in-memory canary backend for the driver's tests (a mock of one collaborator): it
//! records the calls, keeps the saved run with a version like `resourceVersion`, and makes
//! each snapshot's counters grow by `per_pod` requests at a fixed latency per revision.
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use tractor_metrics::histogram::Bucket;
use tractor_metrics::revision::Revision;

use crate::canary::backend::{BackendError, CanaryBackend, Loaded};
use crate::canary::lease::{Lease, decide_lease};
use crate::canary::state::CanaryState;
use crate::canary::window::{PodSample, Snapshot};
use crate::scrape::PodMetrics;

const BOUNDS: [f64; 5] = [0.005, 0.01, 0.05, 0.1, f64::INFINITY];

/// Cumulative metrics of a pod that answered `n` requests, each taking `latency` seconds.
fn pod_metrics(n: f64, latency: f64) -> PodMetrics {
    PodMetrics {
        requests: n,
        latency: BOUNDS
            .iter()
            .map(|&le| Bucket {
                le,
                count: if latency <= le { n } else { 0.0 },
            })
            .collect(),
        ..PodMetrics::default()
    }
}

pub(super) struct Canary {
    pub(super) state: CanaryState,
    pub(super) lease: Option<Lease>,
    pub(super) replicas: i32,
    pub(super) version: u64,
}

pub(super) struct Inner {
    pub(super) canary: Option<Canary>,
    pub(super) calls: Vec<String>,
    /// Snapshots taken so far (each adds `per_pod` requests to every pod).
    pub(super) snaps: u32,
    pub(super) stable_template: &'static str,
    /// At this snapshot, "bob" takes the lease (a person's take-over).
    pub(super) steal_at: Option<u32>,
    /// The saved run cannot be read: `load` answers this.
    pub(super) damaged: Option<crate::canary::StateError>,
}

pub(super) struct Fake {
    pub(super) stable: i32,
    pub(super) per_pod: f64,
    pub(super) canary_latency: f64,
    pub(super) stable_latency: f64,
    pub(super) inner: Mutex<Inner>,
}

impl Fake {
    pub(super) fn new(canary_latency: f64, per_pod: f64) -> Fake {
        Fake {
            stable: 4,
            per_pod,
            canary_latency,
            stable_latency: 0.004,
            inner: Mutex::new(Inner {
                canary: None,
                calls: Vec::new(),
                snaps: 0,
                stable_template: "v1",
                steal_at: None,
                damaged: None,
            }),
        }
    }
    pub(super) fn calls(&self) -> Vec<String> {
        self.inner.lock().unwrap().calls.clone()
    }
    fn gone(&self) -> BackendError {
        BackendError::Gone {
            canary: self.canary_name(),
        }
    }
}

impl CanaryBackend for Fake {
    fn stable_name(&self) -> &str {
        "web"
    }
    fn canary_name(&self) -> String {
        "web-canary".into()
    }
    async fn managed_by(&self) -> Result<Option<crate::model::manager::Manager>, BackendError> {
        Ok(None)
    }
    async fn stable_replicas(&self) -> Result<i32, BackendError> {
        Ok(self.stable)
    }
    async fn dry_run(
        &self,
        state: &CanaryState,
        _lease: &Lease,
        replicas: i32,
    ) -> Result<(), BackendError> {
        if replicas < 1 {
            return Err(crate::canary::CanaryObjectError::BadReplicas(replicas).into());
        }
        match self.inner.lock().unwrap().canary.is_some() {
            true => Err(BackendError::Exists {
                canary: state.plan.target.clone() + "-canary",
            }),
            false => Ok(()),
        }
    }
    async fn create(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
    ) -> Result<(), BackendError> {
        let mut i = self.inner.lock().unwrap();
        if i.canary.is_some() {
            return Err(BackendError::Exists {
                canary: self.canary_name(),
            });
        }
        i.calls.push(format!("create {replicas}"));
        i.canary = Some(Canary {
            state: state.clone(),
            lease: Some(lease.clone()),
            replicas,
            version: 1,
        });
        Ok(())
    }
    async fn load(&self) -> Result<Option<Loaded>, BackendError> {
        let i = self.inner.lock().unwrap();
        if let (Some(error), Some(_)) = (&i.damaged, &i.canary) {
            return Err(BackendError::State {
                canary: self.canary_name(),
                error: Box::new(error.clone()),
            });
        }
        Ok(i.canary.as_ref().map(|c| Loaded {
            state: c.state.clone(),
            lease: c.lease.clone(),
            replicas: c.replicas,
            version: c.version.to_string(),
        }))
    }
    async fn save(
        &self,
        state: &CanaryState,
        lease: &Lease,
        version: &str,
    ) -> Result<(), BackendError> {
        let mut i = self.inner.lock().unwrap();
        let c = i.canary.as_mut().ok_or(self.gone())?;
        if c.version.to_string() != version {
            return Err(BackendError::Conflict {
                canary: self.canary_name(),
            });
        }
        c.state = state.clone();
        c.lease = Some(lease.clone());
        c.version += 1;
        Ok(())
    }
    async fn scale(&self, replicas: i32) -> Result<(), BackendError> {
        let mut i = self.inner.lock().unwrap();
        let c = i.canary.as_mut().ok_or(self.gone())?;
        c.replicas = replicas;
        c.version += 1;
        i.calls.push(format!("scale {replicas}"));
        Ok(())
    }
    async fn ready(&self, _replicas: i32) -> Result<bool, BackendError> {
        Ok(true)
    }
    async fn snapshot(&self) -> Result<Snapshot, BackendError> {
        let mut i = self.inner.lock().unwrap();
        i.snaps += 1;
        if i.steal_at == Some(i.snaps)
            && let Some(c) = i.canary.as_mut()
        {
            c.lease = decide_lease(None, "bob", Timestamp::now(), Duration::from_secs(60)).ok();
            c.version += 1;
        }
        let n = f64::from(i.snaps) * self.per_pod;
        let canary = i.canary.as_ref().map(|c| c.replicas).unwrap_or(0);
        let pod = |name: String, revision, latency| PodSample {
            pod: name,
            revision,
            metrics: Ok(pod_metrics(n, latency)),
        };
        let mut pods: Vec<PodSample> = (0..self.stable)
            .map(|k| pod(format!("s{k}"), Revision::Stable, self.stable_latency))
            .collect();
        pods.extend(
            (0..canary).map(|k| pod(format!("c{k}"), Revision::Canary, self.canary_latency)),
        );
        Ok(Snapshot { pods })
    }
    async fn promote(&self, cause: &str, _deadline: Timestamp) -> Result<(), BackendError> {
        let mut i = self.inner.lock().unwrap();
        if i.canary.is_none() {
            return Err(self.gone());
        }
        i.stable_template = "v2";
        i.calls.push(format!("promote ({cause})"));
        Ok(())
    }
    async fn remove(&self) -> Result<(), BackendError> {
        let mut i = self.inner.lock().unwrap();
        i.canary = None;
        i.calls.push("remove".into());
        Ok(())
    }
}
