//! Executes effects against the API: a server-side dry run for the preview, then
//! the write, the audit line (flushed before success is reported), and the new
//! revision once the deployment controller has seen the change.
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{ListParams, PatchParams};
use kube::runtime::wait::await_condition;
use kube::{Api, Client};

use super::errors::{Failure, describe};
use super::plan::{Plan, current_revision, plan};
use crate::action::{Action, Target};
use crate::audit::{AuditLog, Record};
use crate::event::EffectResult;
use crate::model::revision;

#[derive(Clone)]
pub struct Runner {
    pub client: Client,
    pub context: String,
    pub user: String,
    pub audit: AuditLog,
    pub read_only: bool,
    /// The container `set model`/`set image` change when none is named.
    pub container: Option<String>,
    /// How long to wait for the controller to record the new revision.
    pub observe_timeout: Duration,
    /// The kubeconfig the console was given (`helm` is run with it and the context).
    pub kubeconfig: Option<std::path::PathBuf>,
}

const FIELD_MANAGER: &str = "tractor";

struct Planned {
    d: Deployment,
    rss: Vec<ReplicaSet>,
    patch: kube::api::Patch<serde_json::Value>,
    resolved: Action,
    action: Action,
}

impl Runner {
    fn fill(&self, action: Action) -> Action {
        match action {
            Action::SetModel {
                container: None,
                version,
                path,
            } => Action::SetModel {
                container: self.container.clone(),
                version,
                path,
            },
            Action::SetImage {
                container: None,
                image,
            } => Action::SetImage {
                container: self.container.clone(),
                image,
            },
            a => a,
        }
    }

    fn failed(&self, target: &Target, action: &Action, failure: Failure) -> EffectResult {
        EffectResult::Failed {
            target: target.clone(),
            action: action.clone(),
            failure,
        }
    }

    /// The deployment and the ReplicaSets that may be its revisions.
    pub async fn load(&self, t: &Target) -> Result<(Deployment, Vec<ReplicaSet>), Failure> {
        let deploys: Api<Deployment> = Api::namespaced(self.client.clone(), &t.namespace);
        let d = deploys.get(&t.name).await.map_err(|e| {
            describe(
                &e,
                &self.user,
                "get",
                "deployments.apps",
                &t.namespace,
                &t.name,
            )
        })?;
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &t.namespace);
        let mut lp = ListParams::default();
        if let Some(sel) = d
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            && !sel.is_empty()
        {
            let s: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
            lp = lp.labels(&s.join(","));
        }
        let rss = rs_api.list(&lp).await.map_err(|e| {
            describe(
                &e,
                &self.user,
                "list",
                "replicasets.apps",
                &t.namespace,
                &t.name,
            )
        })?;
        Ok((d, rss.items))
    }

    /// Everything a write needs, or the result that ends it before any write:
    /// refused (read-only), failed (load or plan), or skipped (nothing to change).
    async fn plan_write(&self, t: &Target, action: Action) -> Result<Planned, EffectResult> {
        let action = self.fill(action);
        if self.read_only {
            let verb = action.verb();
            return Err(self.failed(t, &action, Failure::ReadOnly { verb }));
        }
        let (d, rss) = self.load(t).await.map_err(|f| self.failed(t, &action, f))?;
        match plan(t, &d, &rss, &action, Timestamp::now()) {
            Ok(Plan::Skip(message)) => Err(EffectResult::Skipped {
                target: t.clone(),
                action,
                message,
            }),
            Ok(Plan::Patch { patch, resolved }) => Ok(Planned {
                d,
                rss,
                patch,
                resolved,
                action,
            }),
            Err(refusal) => Err(self.failed(t, &action, Failure::Refused(refusal))),
        }
    }

    pub async fn prepare(&self, t: &Target, action: Action) -> EffectResult {
        if let Action::HelmRollback { release, revision } = &action {
            return self.helm_prepare(t, release, *revision).await;
        }
        let Planned {
            d,
            rss,
            patch,
            resolved,
            action,
        } = match self.plan_write(t, action).await {
            Ok(p) => p,
            Err(done) => return done,
        };
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &t.namespace);
        let pp = PatchParams {
            dry_run: true,
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        let after = match api.patch(&t.name, &pp, &patch).await {
            Ok(a) => a,
            Err(e) => {
                return self.failed(
                    t,
                    &action,
                    describe(
                        &e,
                        &self.user,
                        "patch",
                        "deployments.apps",
                        &t.namespace,
                        &t.name,
                    ),
                );
            }
        };
        let before_v = serde_json::to_value(&d).unwrap_or_default();
        let after_v = serde_json::to_value(&after).unwrap_or_default();
        let changes = crate::diff::deployment(&before_v, &after_v);
        let notes = self.notes(t, &d, &rss, &resolved).await;
        EffectResult::Prepared {
            target: t.clone(),
            action: resolved,
            changes,
            notes,
        }
    }

    async fn notes(
        &self,
        t: &Target,
        d: &Deployment,
        rss: &[ReplicaSet],
        action: &Action,
    ) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(m) = crate::model::manager::of(&d.metadata) {
            notes.push(m.warning());
            if let crate::model::manager::Manager::Helm { release, namespace } = &m {
                let revisions =
                    super::helm_releases::revisions(&self.client, namespace, release).await;
                notes.push(super::helm_releases::note(release, namespace, &revisions));
            }
        }
        let live = crate::model::deployment::history(d, rss.iter())
            .iter()
            .filter(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) > 0)
            .count();
        if live > 1 && action.rolls_out() {
            notes.push(format!(
                "mid-rollout: {live} ReplicaSets have pods; this replaces the template now and the controller rolls toward it"
            ));
        }
        if let Action::Scale { .. } = action {
            let hpas: Api<HorizontalPodAutoscaler> =
                Api::namespaced(self.client.clone(), &t.namespace);
            if let Ok(list) = hpas.list(&ListParams::default()).await
                && let Some(h) = list.items.iter().find(|h| {
                    h.spec.scale_target_ref.kind == "Deployment"
                        && h.spec.scale_target_ref.name == t.name
                })
            {
                notes.push(format!(
                    "hpa/{} manages this deployment's replicas and will override a manual scale",
                    h.metadata.name.as_deref().unwrap_or("-")
                ));
            }
        }
        notes
    }

    pub async fn execute(&self, t: &Target, action: Action) -> EffectResult {
        if let Action::HelmRollback { release, revision } = &action {
            return self.helm_execute(t, release, *revision).await;
        }
        let Planned {
            d,
            rss: _,
            patch,
            resolved,
            action,
        } = match self.plan_write(t, action).await {
            Ok(p) => p,
            Err(done) => return done,
        };
        let before = current_revision(&d);
        let record = |result: String, after: Option<i64>| {
            Record::write(
                &self.context,
                &self.user,
                t,
                &action,
                (before, after),
                result,
            )
        };
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &t.namespace);
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        let written = match api.patch(&t.name, &pp, &patch).await {
            Ok(w) => w,
            Err(e) => {
                let f = describe(
                    &e,
                    &self.user,
                    "patch",
                    "deployments.apps",
                    &t.namespace,
                    &t.name,
                );
                if let Err(io) = self.audit.append(&record(format!("error: {f}"), None)) {
                    tracing::error!(error = %io, "audit log write failed");
                }
                return self.failed(t, &resolved, f);
            }
        };
        let after = self
            .observed_revision(&api, &t.name, written.metadata.generation.unwrap_or(0))
            .await;
        let after = after.or(before);
        if let Err(io) = self.audit.append(&record("ok".into(), after)) {
            return self.failed(
                t,
                &resolved,
                Failure::Audit {
                    path: self.audit.path().to_path_buf(),
                    detail: io.to_string(),
                },
            );
        }
        let message = match (&resolved, before, after) {
            (
                Action::Undo {
                    to_revision: Some(r),
                },
                _,
                Some(a),
            ) => {
                format!(
                    "deploy/{} rolled back to revision {r} (now revision {a})",
                    t.name
                )
            }
            (a, Some(b), Some(n)) if b != n => format!(
                "deploy/{}: {} applied (revision {b} → {n})",
                t.name,
                a.verb()
            ),
            (a, _, _) => format!("deploy/{}: {} applied", t.name, a.verb()),
        };
        EffectResult::Done {
            target: t.clone(),
            action: resolved,
            message,
            revision_before: before,
            revision_after: after,
        }
    }

    /// Waits (by watching) for the controller to observe `generation`, then reads the revision.
    async fn observed_revision(
        &self,
        api: &Api<Deployment>,
        name: &str,
        generation: i64,
    ) -> Option<i64> {
        let cond = move |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.observed_generation)
                .unwrap_or(0)
                >= generation
        };
        match tokio::time::timeout(
            self.observe_timeout,
            await_condition(api.clone(), name, cond),
        )
        .await
        {
            Ok(Ok(Some(d))) => revision(&d.metadata),
            _ => None,
        }
    }
}
