//! `rollout undo` with kubectl's semantics.
//!
//! The target revision's ReplicaSet template replaces the Deployment's template
//! (without `pod-template-hash`), and the Deployment's annotations become the
//! ReplicaSet's, except the ones kubectl keeps from the Deployment. A JSON patch
//! replaces both wholesale, so fields the old template lacks are removed too.
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::Patch;
use serde_json::Value;
use std::collections::BTreeMap;

use super::plan::{Plan, PlanError};
use crate::action::Action;
use crate::model::deployment::history;
use crate::model::{POD_TEMPLATE_HASH, REVISION_ANNOTATION, revision};

/// Annotations that stay as the Deployment has them (kubectl's list).
pub const KEEP_FROM_DEPLOYMENT: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

fn without_hash(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = t.clone();
    if let Some(meta) = t.metadata.as_mut()
        && let Some(labels) = meta.labels.as_mut()
    {
        labels.remove(POD_TEMPLATE_HASH);
        if labels.is_empty() {
            meta.labels = None;
        }
    }
    t
}

pub fn plan_undo(
    d: &Deployment,
    rss: &[ReplicaSet],
    to_revision: Option<i64>,
) -> Result<Plan, PlanError> {
    let name = d.metadata.name.clone().unwrap_or_default();
    if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
        return Err(PlanError::Paused {
            verb: "roll back",
            name,
        });
    }
    let owned = history(d, rss.iter());
    let rs = match to_revision.filter(|r| *r != 0) {
        Some(n) => owned
            .iter()
            .find(|rs| revision(&rs.metadata) == Some(n))
            .ok_or(PlanError::NoRevision(n))?,
        None => {
            // the second-highest revision is the previous one
            let mut revs: Vec<i64> = owned
                .iter()
                .filter_map(|rs| revision(&rs.metadata))
                .collect();
            revs.dedup();
            let prev = *revs
                .get(1)
                .ok_or_else(|| PlanError::NoHistory(name.clone()))?;
            owned
                .iter()
                .find(|rs| revision(&rs.metadata) == Some(prev))
                .ok_or(PlanError::NoRevision(prev))?
        }
    };
    let to = revision(&rs.metadata).unwrap_or(0);
    let resolved = Action::Undo {
        to_revision: Some(to),
    };
    let template = without_hash(
        &rs.spec
            .as_ref()
            .and_then(|s| s.template.clone())
            .unwrap_or_default(),
    );
    let current = d
        .spec
        .as_ref()
        .map(|s| without_hash(&s.template))
        .unwrap_or_default();
    if template == current {
        return Ok(Plan::Skip(format!(
            "skipped rollback (current template already matches revision {to})"
        )));
    }
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    let d_ann = d.metadata.annotations.clone().unwrap_or_default();
    for k in KEEP_FROM_DEPLOYMENT {
        if let Some(v) = d_ann.get(k) {
            annotations.insert(k.to_string(), v.clone());
        }
    }
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !KEEP_FROM_DEPLOYMENT.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    let ops = serde_json::json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    let patch: json_patch::Patch =
        serde_json::from_value(ops).map_err(|_| PlanError::NoRevision(to))?;
    Ok(Plan::Patch {
        patch: Patch::<Value>::Json(patch),
        resolved,
    })
}
