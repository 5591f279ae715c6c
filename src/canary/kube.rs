//! The canary on Kubernetes: a second Deployment `NAME-canary` beside the stable one
//! (`object`), its run in annotations written with the `resourceVersion` read before
//! (a 409 is a [`BackendError::Conflict`]), pods scraped as the console scrapes them
//! (`scrape.via`), promotion as a merge patch of the stable's template followed by waiting
//! (by watching) for its rollout, removal as scale to 0, wait for the pods to go, delete.
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::{Api, Client};
use serde_json::json;
use tractor_metrics::revision::Revision;

use super::backend::{BackendError, CanaryBackend, Loaded};
use super::lease::Lease;
use super::object::{canary_deployment, canary_name};
use super::promote::promoted_template;
use super::selector::selects;
use super::state::CanaryState;
use super::window::{PodSample, Snapshot};
use super::{CANARY_TRACK, TRACK_LABEL};
use crate::action::Target;
use crate::k8s::errors::describe;
use crate::k8s::runner::Runner;
use crate::model::{CHANGE_CAUSE_ANNOTATION, key};
use crate::scrape::source::{PodTarget, Settings, scrape_pod};

const FIELD_MANAGER: &str = "tractor";
/// How long removal waits for the canary's pods to go before deleting it anyway.
const DRAIN_WAIT: Duration = Duration::from_secs(60);

pub struct KubeCanary {
    client: Client,
    namespace: String,
    stable: String,
    user: String,
    scrape: Settings,
    http: Option<reqwest::Client>,
}

impl KubeCanary {
    /// The canary of `target` as the console or a subcommand drives it with `r`'s client and
    /// user; the driver's settings and audit from the same runner.
    pub fn for_runner(r: &Runner, target: &Target, scrape: Settings) -> KubeCanary {
        KubeCanary::new(
            r.client.clone(),
            &target.namespace,
            &target.name,
            &r.user,
            scrape,
        )
    }

    pub fn new(
        client: Client,
        namespace: &str,
        stable: &str,
        user: &str,
        scrape: Settings,
    ) -> KubeCanary {
        let http = reqwest::Client::builder()
            .timeout(scrape.timeout)
            .build()
            .ok();
        KubeCanary {
            client,
            namespace: namespace.into(),
            stable: stable.into(),
            user: user.into(),
            scrape,
            http,
        }
    }

    /// Creates the canary (or, with `dry_run`, has the API server check it).
    async fn post(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
        dry_run: bool,
    ) -> Result<(), BackendError> {
        let stable = self.stable().await?;
        let canary = canary_deployment(&stable, state, lease, replicas)?;
        let pp = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        match self.deployments().create(&pp, &canary).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(BackendError::Exists {
                canary: self.canary_name(),
            }),
            Err(e) => Err(self.failed(&e, "create", "deployments.apps", &self.canary_name())),
        }
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn failed(&self, e: &kube::Error, verb: &str, resource: &str, name: &str) -> BackendError {
        describe(e, &self.user, verb, resource, &self.namespace, name).into()
    }

    fn on_canary(&self, e: kube::Error, verb: &str) -> BackendError {
        let canary = self.canary_name();
        match &e {
            kube::Error::Api(s) if s.code == 404 => BackendError::Gone { canary },
            kube::Error::Api(s) if s.code == 409 => BackendError::Conflict { canary },
            _ => self.failed(&e, verb, "deployments.apps", &canary),
        }
    }

    async fn stable(&self) -> Result<Deployment, BackendError> {
        self.deployments()
            .get(&self.stable)
            .await
            .map_err(|e| self.failed(&e, "get", "deployments.apps", &self.stable))
    }

    async fn canary(&self) -> Result<Option<Deployment>, BackendError> {
        let name = self.canary_name();
        self.deployments()
            .get_opt(&name)
            .await
            .map_err(|e| self.failed(&e, "get", "deployments.apps", &name))
    }

    /// The serving pods the stable's selector names (the canary's pods too: they carry
    /// the stable's labels), with their revision. Listed by the selector's labels, then
    /// read as the API server reads the whole selector (its expressions too).
    async fn pods(&self) -> Result<Vec<(Pod, Revision)>, BackendError> {
        let stable = self.stable().await?;
        let Some(selector) = stable.spec.as_ref().map(|s| s.selector.clone()) else {
            return Ok(Vec::new());
        };
        let labels: Vec<String> = selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = api
            .list(&ListParams::default().labels(&labels.join(",")))
            .await
            .map_err(|e| self.failed(&e, "list", "pods", ""))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|p| {
                let labels = p.metadata.labels.clone().unwrap_or_default();
                if !selects(&selector, &labels) {
                    return None;
                }
                let canary = labels.get(TRACK_LABEL).is_some_and(|t| t == CANARY_TRACK);
                let r = if canary {
                    Revision::Canary
                } else {
                    Revision::Stable
                };
                Some((p, r))
            })
            .collect())
    }

    async fn scrape_all(&self, pods: Vec<(Pod, Revision)>) -> Snapshot {
        let scrapes = pods.into_iter().filter_map(|(p, revision)| {
            let target = PodTarget::of(&p)?;
            let k = key(&p.metadata);
            Some(async move {
                let metrics =
                    scrape_pod(&self.client, self.http.as_ref(), self.scrape, &k, &target).await;
                PodSample {
                    pod: k.1,
                    revision,
                    metrics,
                }
            })
        });
        let pods = futures::stream::iter(scrapes)
            .buffer_unordered(self.scrape.concurrency.max(1))
            .collect()
            .await;
        Snapshot { pods }
    }

    /// Waits (by watching) until `cond` holds for `name`, or `until`; a watch that fails
    /// is started again (the last failure is reported if the time runs out).
    async fn wait_for(
        &self,
        name: &str,
        what: String,
        until: Duration,
        cond: impl Fn(&Deployment) -> bool + Clone + Send + 'static,
    ) -> Result<(), BackendError> {
        let deadline = tokio::time::Instant::now() + until;
        let mut last_error = None;
        loop {
            let c = cond.clone();
            let watch = await_condition(self.deployments(), name, move |d: Option<&Deployment>| {
                d.is_some_and(&c)
            });
            match tokio::time::timeout_at(deadline, watch).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => {
                    last_error = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(_) => {
                    let what = match last_error {
                        Some(e) => format!("{what} (last watch error: {e})"),
                        None => what,
                    };
                    return Err(BackendError::Timeout {
                        what,
                        seconds: until.as_secs(),
                    });
                }
            }
        }
    }
}

/// Has the Deployment's controller rolled out its current template to every replica?
fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    d.status.as_ref().is_some_and(|s| {
        s.observed_generation.unwrap_or(0) >= generation
            && s.updated_replicas.unwrap_or(0) == want
            && s.replicas.unwrap_or(0) == want
            && s.available_replicas.unwrap_or(0) == want
    })
}

impl CanaryBackend for KubeCanary {
    fn stable_name(&self) -> &str {
        &self.stable
    }

    fn canary_name(&self) -> String {
        canary_name(&self.stable)
    }

    async fn managed_by(&self) -> Result<Option<crate::model::manager::Manager>, BackendError> {
        Ok(crate::model::manager::of(&self.stable().await?.metadata))
    }

    async fn stable_replicas(&self) -> Result<i32, BackendError> {
        let d = self.stable().await?;
        Ok(d.spec.and_then(|s| s.replicas).unwrap_or(1))
    }

    /// The canary `create` would make, through the API server's dry run (admission,
    /// validation, RBAC), nothing written.
    async fn dry_run(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
    ) -> Result<(), BackendError> {
        self.post(state, lease, replicas, true).await
    }

    async fn create(
        &self,
        state: &CanaryState,
        lease: &Lease,
        replicas: i32,
    ) -> Result<(), BackendError> {
        self.post(state, lease, replicas, false).await
    }

    async fn load(&self) -> Result<Option<Loaded>, BackendError> {
        let Some(d) = self.canary().await? else {
            return Ok(None);
        };
        Loaded::decode(
            &self.canary_name(),
            &d.metadata.annotations.clone().unwrap_or_default(),
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
            d.metadata.resource_version.clone().unwrap_or_default(),
        )
        .map(Some)
    }

    async fn save(
        &self,
        state: &CanaryState,
        lease: &Lease,
        version: &str,
    ) -> Result<(), BackendError> {
        let canary = self.canary_name();
        let annotations = lease
            .with_run(state)
            .map_err(|e| BackendError::state(&canary, e))?;
        let patch = json!({
            "metadata": { "resourceVersion": version, "annotations": annotations }
        });
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        self.deployments()
            .patch(&canary, &pp, &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| self.on_canary(e, "patch"))
    }

    async fn scale(&self, replicas: i32) -> Result<(), BackendError> {
        let patch = json!({ "spec": { "replicas": replicas } });
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        self.deployments()
            .patch(&self.canary_name(), &pp, &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| self.on_canary(e, "patch"))
    }

    async fn ready(&self, replicas: i32) -> Result<bool, BackendError> {
        let d = self.canary().await?.ok_or_else(|| BackendError::Gone {
            canary: self.canary_name(),
        })?;
        if !rolled_out(&d) || d.spec.as_ref().and_then(|s| s.replicas) != Some(replicas) {
            return Ok(false);
        }
        let pods: Vec<(Pod, Revision)> = self
            .pods()
            .await?
            .into_iter()
            .filter(|(_, r)| *r == Revision::Canary)
            .collect();
        let snap = self.scrape_all(pods).await;
        let answered = snap.answered(Revision::Canary);
        Ok(snap.all_answered() && i32::try_from(answered).unwrap_or(i32::MAX) >= replicas)
    }

    async fn snapshot(&self) -> Result<Snapshot, BackendError> {
        let pods = self.pods().await?;
        Ok(self.scrape_all(pods).await)
    }

    async fn promote(&self, cause: &str, deadline: Timestamp) -> Result<(), BackendError> {
        let stable = self.stable().await?;
        let canary = self.canary().await?.ok_or_else(|| BackendError::Gone {
            canary: self.canary_name(),
        })?;
        let template = promoted_template(&stable, &canary)?;
        // only the stable as read: a change meanwhile is a conflict, not a mix of two templates
        let patch = json!({
            "metadata": {
                "resourceVersion": stable.metadata.resource_version,
                "annotations": { CHANGE_CAUSE_ANNOTATION: cause },
            },
            "spec": { "template": template },
        });
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        self.deployments()
            .patch(&self.stable, &pp, &Patch::Merge(&patch))
            .await
            .map_err(|e| self.failed(&e, "patch", "deployments.apps", &self.stable))?;
        let left = deadline
            .duration_since(Timestamp::now())
            .unsigned_abs()
            .max(Duration::from_secs(1));
        let what = format!("deploy/{} rolling out the canary's template", self.stable);
        self.wait_for(&self.stable, what, left, rolled_out).await
    }

    async fn remove(&self) -> Result<(), BackendError> {
        match self.scale(0).await {
            Ok(()) => {}
            Err(BackendError::Gone { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
        let canary = self.canary_name();
        // the pods leave the traffic and drain as the ReplicaSet scales down; the delete
        // then has nothing left to cut off
        let gone = |d: &Deployment| {
            d.status
                .as_ref()
                .is_none_or(|s| s.replicas.unwrap_or(0) == 0)
        };
        let what = format!("deploy/{canary} scaling to 0");
        if let Err(e) = self.wait_for(&canary, what, DRAIN_WAIT, gone).await {
            tracing::warn!(error = %e, "deleting the canary before its pods left");
        }
        match self
            .deployments()
            .delete(&canary, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.failed(&e, "delete", "deployments.apps", &canary)),
        }
    }
}

/// The driver's settings for a console writing through `r`: its user as the lease holder,
/// its read-only flag, a lease of `ttl`.
pub fn settings(r: &Runner, ttl: Duration) -> super::drive::Settings {
    super::drive::Settings {
        me: super::holder::me(&r.user),
        lease_ttl: ttl,
        read_only: r.read_only,
        poll: Duration::from_millis(500),
        load_lag: None,
    }
}

/// Where a console writing through `r` records the canary of `target`.
pub fn audit(r: &Runner, target: &Target) -> super::drive::Audit {
    super::drive::Audit {
        log: r.audit.clone(),
        context: r.context.clone(),
        user: r.user.clone(),
        target: target.clone(),
    }
}
