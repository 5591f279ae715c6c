//! `rollout undo` with kubectl's semantics.
//!
//! The target revision's ReplicaSet template replaces the Deployment's template
//! (without `pod-template-hash`), and the Deployment's annotations become the
//! ReplicaSet's, except the ones kubectl keeps from the Deployment. A JSON patch
//! replaces both wholesale, so fields the old template lacks are removed too.
//! Which revision (and whether at all) is the write rules' decision (`decide`).
use json_patch::jsonptr::PointerBuf;
use json_patch::{PatchOperation, ReplaceOperation};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::Patch;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::decide::Refusal;
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

/// The template as a revision compares: without the controller's hash label.
pub fn without_hash(t: &PodTemplateSpec) -> PodTemplateSpec {
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

/// The JSON patch that makes revision `to` (one of `d`'s ReplicaSets) current again.
pub fn undo_patch(d: &Deployment, rss: &[ReplicaSet], to: i64) -> Result<Patch<Value>, Refusal> {
    let owned = history(d, rss.iter());
    let rs = owned
        .iter()
        .find(|rs| revision(&rs.metadata) == Some(to))
        .ok_or(Refusal::NoRevision(to))?;
    let template = without_hash(
        &rs.spec
            .as_ref()
            .and_then(|s| s.template.clone())
            .unwrap_or_default(),
    );
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
    let replace = |path: [&str; 2], value: Value| {
        PatchOperation::Replace(ReplaceOperation {
            path: PointerBuf::from_tokens(path),
            value,
        })
    };
    Ok(Patch::Json(json_patch::Patch(vec![
        replace(["spec", "template"], json!(template)),
        replace(["metadata", "annotations"], json!(annotations)),
    ])))
}
