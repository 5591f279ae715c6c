//! The canary on the local backend, as the controller keeps it: `spec.canary` (its
//! template, replicas and annotations, saved with the spec before anything acts on it) and
//! its replicas, started and drained here beside the deployment's own (which the rolling
//! update never counts). Its ready replicas are in the front port's set, so they take
//! their share of the traffic. The calls answer as the Kubernetes canary's do (`Exists`,
//! `Gone`, `Conflict`); what they mean is decided by the canary's driver.
use std::collections::BTreeMap;
use std::time::Instant;

use jiff::Timestamp;

use super::super::actions::canary_template;
use super::super::spec::{CanarySpec, Revision, Spec};
use super::{Ctl, Handle};
use crate::canary::backend::BackendError;
use crate::canary::{CanaryObjectError, Change, canary_name};
use crate::failure::Failure;

/// A replica as the canary's backend sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveReplica {
    pub name: String,
    pub port: u16,
    pub canary: bool,
    pub revision: i64,
    pub ready: bool,
}

/// The deployment, its canary and the replicas in traffic, at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryView {
    pub current: i64,
    pub replicas: i32,
    pub canary: Option<CanarySpec>,
    /// Replicas not draining.
    pub live: Vec<LiveReplica>,
}

impl CanaryView {
    /// Has the deployment rolled out its current revision to every replica, all ready?
    pub fn rolled_out(&self) -> bool {
        let stable: Vec<&LiveReplica> = self.live.iter().filter(|r| !r.canary).collect();
        let want = usize::try_from(self.replicas).unwrap_or(0);
        stable.len() == want && stable.iter().all(|r| r.ready && r.revision == self.current)
    }
}

fn gone(spec: &Spec) -> BackendError {
    BackendError::Gone {
        canary: canary_name(&spec.name),
    }
}

impl Ctl {
    /// Saves the spec as `edit` leaves it; on failure the spec is left as it was. Refused
    /// when read-only.
    fn save_with(&mut self, edit: impl FnOnce(&mut Spec)) -> Result<(), BackendError> {
        if self.cfg.read_only {
            return Err(Failure::ReadOnly { verb: "canary" }.into());
        }
        let before = self.spec.clone();
        edit(&mut self.spec);
        if let Err(e) = self.cfg.store.save(&self.spec) {
            self.spec = before;
            return Err(Failure::Save(e).into());
        }
        Ok(())
    }

    /// A write to the canary there is, at `version` when one is given.
    fn canary_write(
        &mut self,
        version: Option<u64>,
        edit: impl FnOnce(&mut CanarySpec),
    ) -> Result<(), BackendError> {
        let c = self.spec.canary.as_ref().ok_or_else(|| gone(&self.spec))?;
        if version.is_some_and(|v| v != c.version) {
            return Err(BackendError::Conflict {
                canary: canary_name(&self.spec.name),
            });
        }
        self.save_with(|s| {
            if let Some(c) = &mut s.canary {
                edit(c);
                c.version += 1;
            }
        })
    }

    fn view(&self) -> CanaryView {
        CanaryView {
            current: self.spec.current,
            replicas: self.spec.replicas,
            canary: self.spec.canary.clone(),
            live: self
                .replicas
                .iter()
                .filter(|r| r.draining.is_none())
                .map(|r| LiveReplica {
                    name: r.name.clone(),
                    port: r.port,
                    canary: r.canary.is_some(),
                    revision: r.revision,
                    ready: r.ready,
                })
                .collect(),
        }
    }

    /// Keeps `spec.canary.replicas` canary replicas: starts the missing ones (within the
    /// restart backoff), drains the surplus (not ready first, then the youngest) and every
    /// replica of an earlier canary.
    pub(super) fn roll_canary(&mut self) {
        let (want, created) = match &self.spec.canary {
            Some(c) => (
                usize::try_from(c.replicas).unwrap_or(0),
                Some(c.created.clone()),
            ),
            None => (0, None),
        };
        let now = Instant::now();
        for r in &mut self.replicas {
            if r.draining.is_none() && r.canary.is_some() && r.canary != created {
                r.draining = Some(now);
            }
        }
        let mut live: Vec<usize> = (0..self.replicas.len())
            .filter(|&i| {
                let r = &self.replicas[i];
                r.draining.is_none() && r.canary.is_some()
            })
            .collect();
        // the ready ones first, oldest to youngest, then the not-ready: the surplus comes
        // off the end
        live.sort_by_key(|&i| (!self.replicas[i].ready, i));
        while live.len() > want {
            if let Some(i) = live.pop() {
                self.replicas[i].draining = Some(now);
            }
        }
        let (Some(c), true) = (self.spec.canary.clone(), live.len() < want) else {
            return;
        };
        if !self.canary_restarts.may_start(now) {
            return;
        }
        for _ in live.len()..want {
            self.seq += 1;
            let name = format!("{}-{}", canary_name(&self.spec.name), self.seq);
            self.start_replica(name, c.template.clone(), Some(c.created.clone()));
        }
    }
}

impl Handle {
    /// The template a canary of `change` would run (nothing is written).
    pub async fn canary_check(
        &self,
        change: Change,
        cause: String,
    ) -> Result<Revision, BackendError> {
        self.with(move |c| canary_template(&c.spec, &change, &cause))
            .await?
    }

    /// Creates the canary at `replicas` with `annotations`; `Exists` when there is one.
    pub async fn canary_create(
        &self,
        change: Change,
        cause: String,
        annotations: BTreeMap<String, String>,
        replicas: i32,
    ) -> Result<(), BackendError> {
        self.with(move |c| {
            if c.spec.canary.is_some() {
                return Err(BackendError::Exists {
                    canary: canary_name(&c.spec.name),
                });
            }
            if replicas < 1 {
                return Err(CanaryObjectError::BadReplicas(replicas).into());
            }
            let template = canary_template(&c.spec, &change, &cause)?;
            let canary = CanarySpec {
                template,
                replicas,
                stable_revision: c.spec.current,
                annotations,
                version: 1,
                created: Timestamp::now().to_string(),
            };
            c.save_with(|s| s.canary = Some(canary))
        })
        .await?
    }

    /// The deployment, its canary and its live replicas now.
    pub async fn canary_view(&self) -> Result<CanaryView, BackendError> {
        Ok(self.with(|c| c.view()).await?)
    }

    /// Replaces the canary's annotations if it is still at `version`.
    pub async fn canary_save(
        &self,
        annotations: BTreeMap<String, String>,
        version: u64,
    ) -> Result<(), BackendError> {
        self.with(move |c| c.canary_write(Some(version), |k| k.annotations = annotations))
            .await?
    }

    pub async fn canary_scale(&self, replicas: i32) -> Result<(), BackendError> {
        self.with(move |c| c.canary_write(None, |k| k.replicas = replicas.max(0)))
            .await?
    }

    /// The deployment takes the canary's template as its next revision (a rolling update
    /// with `cause`); refused when the deployment's revision changed since the canary
    /// started. Nothing when it already runs the canary's template (a promotion taken up
    /// again after its console stopped). The canary stays until it is removed.
    pub async fn canary_promote(&self, cause: String) -> Result<(), BackendError> {
        self.with(move |c| {
            let k = c.spec.canary.clone().ok_or_else(|| gone(&c.spec))?;
            if c.spec
                .current_revision()
                .is_some_and(|r| r.same_template(&k.template))
            {
                return Ok(());
            }
            if c.spec.current != k.stable_revision {
                return Err(CanaryObjectError::StableChanged {
                    name: c.spec.name.clone(),
                }
                .into());
            }
            let template = Revision {
                change_cause: cause,
                ..k.template
            };
            let now = Timestamp::now().to_string();
            c.save_with(|s| {
                s.roll_to(template, &now);
            })
        })
        .await?
    }

    /// Removes the canary: its replicas leave the traffic at once and drain. Nothing when
    /// there is none.
    pub async fn canary_remove(&self) -> Result<(), BackendError> {
        self.with(|c| {
            if c.spec.canary.is_none() {
                return Ok(());
            }
            c.save_with(|s| s.canary = None)
        })
        .await?
    }
}
