//! A local canary as the objects a Kubernetes canary is: a Deployment `NAME-canary` with
//! the run in its annotations, one ReplicaSet it owns, and its replicas as pods labelled as
//! the deployment's plus `tractor.dev/track: canary`. The console reads them as it reads a
//! cluster's.
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

use super::{
    NAMESPACE, Objects, ReplicaView, count, map, owner, replica_pod, status, template, time, uid,
};
use crate::canary::object::CANARY_OF_ANNOTATION;
use crate::canary::{CANARY_TRACK, TRACK_LABEL, canary_name};
use crate::local::spec::{CanarySpec, Spec};
use crate::model::{CHANGE_CAUSE_ANNOTATION, REVISION_ANNOTATION};

/// The pod-template-hash of the canary's one ReplicaSet.
const HASH: &str = "canary";

fn canary_template(spec: &Spec, c: &CanarySpec) -> PodTemplateSpec {
    let mut t = template(spec, &c.template);
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.insert(TRACK_LABEL.into(), CANARY_TRACK.into());
        labels.insert("pod-template-hash".into(), HASH.into());
    }
    t
}

fn selector(spec: &Spec) -> LabelSelector {
    LabelSelector {
        match_labels: map([
            ("app", spec.name.clone()),
            (TRACK_LABEL, CANARY_TRACK.to_string()),
        ]),
        ..LabelSelector::default()
    }
}

/// Adds the canary `c` of `spec`, with its replicas `replicas`, to `objs`.
pub(super) fn add(
    objs: &mut Objects,
    spec: &Spec,
    c: &CanarySpec,
    replicas: &[ReplicaView],
    created: jiff::Timestamp,
) {
    let name = canary_name(&spec.name);
    let d_uid = format!("{}-canary", uid(spec));
    let rs_name = format!("{name}-{HASH}");
    let rs_uid = format!("{d_uid}-{HASH}");
    let live: Vec<&ReplicaView> = replicas.iter().filter(|r| !r.draining).collect();
    let ready = count(live.iter().filter(|r| r.ready).count());
    let n = count(live.len());
    let t = canary_template(spec, c);
    let mut annotations = c.annotations.clone();
    annotations.insert(CANARY_OF_ANNOTATION.into(), spec.name.clone());
    annotations.insert(
        CHANGE_CAUSE_ANNOTATION.into(),
        c.template.change_cause.clone(),
    );
    annotations.insert(REVISION_ANNOTATION.into(), "1".into());
    objs.canary = Some(Deployment {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(NAMESPACE.into()),
            uid: Some(d_uid.clone()),
            generation: Some(1),
            resource_version: Some(c.version.to_string()),
            creation_timestamp: time(&c.created).or(Some(Time(created))),
            labels: map([(TRACK_LABEL, CANARY_TRACK.to_string())]),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(c.replicas),
            selector: selector(spec),
            template: t.clone(),
            ..DeploymentSpec::default()
        }),
        // every live canary replica runs the canary's one template
        status: Some(status((n, n, ready), c.replicas, c.replicas)),
    });
    objs.replica_sets.push(ReplicaSet {
        metadata: ObjectMeta {
            name: Some(rs_name.clone()),
            namespace: Some(NAMESPACE.into()),
            uid: Some(rs_uid.clone()),
            creation_timestamp: time(&c.created),
            labels: t.metadata.as_ref().and_then(|m| m.labels.clone()),
            annotations: map([
                (REVISION_ANNOTATION, "1".to_string()),
                (CHANGE_CAUSE_ANNOTATION, c.template.change_cause.clone()),
            ]),
            owner_references: owner("Deployment", &name, &d_uid),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(c.replicas),
            selector: selector(spec),
            template: Some(t.clone()),
            ..ReplicaSetSpec::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas: n,
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            ..ReplicaSetStatus::default()
        }),
    });
    let labels = t.metadata.and_then(|m| m.labels);
    objs.pods.extend(
        replicas
            .iter()
            .map(|r| replica_pod(r, labels.clone(), owner("ReplicaSet", &rs_name, &rs_uid))),
    );
}
