//! Local state as the objects the views already read: a Deployment, one ReplicaSet per
//! revision, one Pod per replica (pod IP 127.0.0.1, its port as the `http` container port),
//! and an HPA for the autoscaler. Views and actions cannot tell the backends apart.
//! Built as typed `k8s-openapi` objects, so a misspelled field does not compile.
use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, DeploymentStrategy,
    ReplicaSet, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ContainerState, ContainerStateRunning, ContainerStatus, EnvVar, Pod,
    PodCondition, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::spec::{Revision, Spec};
use crate::event::{Kind, Object};

mod canary;
mod hpa;
#[cfg(test)]
mod tests;

use crate::model::{
    CHANGE_CAUSE_ANNOTATION, MODEL_PATH_ENV, MODEL_VERSION_ENV, MODEL_VERSION_LABEL,
    REVISION_ANNOTATION,
};

/// The namespace local deployments appear in.
pub const NAMESPACE: &str = "local";

#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaView {
    pub name: String,
    pub revision: i64,
    /// One of the canary's replicas (`revision` is then not the deployment's).
    pub canary: bool,
    pub port: u16,
    pub ready: bool,
    /// Out of traffic, draining, about to stop.
    pub draining: bool,
    pub started: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HpaView {
    pub min: i32,
    pub max: i32,
    pub current: i32,
    pub desired: i32,
    pub target_inflight: f64,
    /// Average in-flight requests per ready replica, once measured.
    pub inflight: Option<f64>,
    pub last_scale: Option<Timestamp>,
}

/// Every object of the local deployment; compared to the last sent to see what changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Objects {
    pub deployment: Deployment,
    /// `NAME-canary`, while a canary runs.
    pub canary: Option<Deployment>,
    pub replica_sets: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub hpas: Vec<HorizontalPodAutoscaler>,
}

impl Objects {
    /// The objects of `kind`, as a list of that kind would return them.
    pub fn of_kind(&self, kind: Kind) -> Vec<Object> {
        match kind {
            Kind::Deployment => std::iter::once(&self.deployment)
                .chain(&self.canary)
                .map(|d| Object::Deployment(Box::new(d.clone())))
                .collect(),
            Kind::ReplicaSet => self
                .replica_sets
                .iter()
                .map(|r| Object::ReplicaSet(Box::new(r.clone())))
                .collect(),
            Kind::Pod => self
                .pods
                .iter()
                .map(|p| Object::Pod(Box::new(p.clone())))
                .collect(),
            Kind::Hpa => self
                .hpas
                .iter()
                .map(|h| Object::Hpa(Box::new(h.clone())))
                .collect(),
            Kind::Event | Kind::Job => Vec::new(),
        }
    }

    /// Whether the objects of `kind` are the same in both.
    pub fn same(&self, other: &Objects, kind: Kind) -> bool {
        match kind {
            Kind::Deployment => self.deployment == other.deployment && self.canary == other.canary,
            Kind::ReplicaSet => self.replica_sets == other.replica_sets,
            Kind::Pod => self.pods == other.pods,
            Kind::Hpa => self.hpas == other.hpas,
            Kind::Event | Kind::Job => true,
        }
    }
}

fn map<const N: usize>(pairs: [(&str, String); N]) -> Option<BTreeMap<String, String>> {
    Some(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// An RFC 3339 time as the spec stores it.
fn time(rfc3339: &str) -> Option<Time> {
    rfc3339.parse::<Timestamp>().ok().map(Time)
}

fn owner(kind: &str, name: &str, uid: &str) -> Option<Vec<OwnerReference>> {
    Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        ..OwnerReference::default()
    }])
}

fn selector(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: map([("app", name.to_string())]),
        ..LabelSelector::default()
    }
}

fn container(ports: Option<Vec<ContainerPort>>, env: Option<Vec<EnvVar>>) -> Container {
    Container {
        name: "server".into(),
        image: Some("tractor-serve (local process)".into()),
        ports,
        env,
        ..Container::default()
    }
}

fn template(spec: &Spec, rev: &Revision) -> PodTemplateSpec {
    let env = |name: &str, value: String| EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    };
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: map([
                ("app", spec.name.clone()),
                (MODEL_VERSION_LABEL, rev.version.clone()),
                ("pod-template-hash", format!("r{}", rev.number)),
            ]),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container(
                None,
                Some(vec![
                    env(MODEL_VERSION_ENV, rev.version.clone()),
                    env(MODEL_PATH_ENV, rev.model.display().to_string()),
                ]),
            )],
            ..PodSpec::default()
        }),
    }
}

fn condition(type_: &str, status: bool, reason: Option<&str>) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.map(str::to_string),
        ..DeploymentCondition::default()
    }
}

/// Every object of the local deployment, from its spec and its replicas as they are now.
pub fn objects(
    spec: &Spec,
    replicas: &[ReplicaView],
    hpa: Option<&HpaView>,
    created: Timestamp,
) -> Objects {
    let (stable, canary): (Vec<ReplicaView>, Vec<ReplicaView>) =
        replicas.iter().cloned().partition(|r| !r.canary);
    let replicas = &stable[..];
    let mut objs = Objects {
        deployment: deployment(spec, replicas, created),
        canary: None,
        replica_sets: spec
            .revisions
            .iter()
            .map(|rev| replica_set(spec, rev, replicas))
            .collect(),
        pods: replicas
            .iter()
            .filter_map(|r| Some(pod(spec, spec.revision(r.revision)?, r)))
            .collect(),
        hpas: hpa
            .map(|h| hpa::autoscaler(spec, h, created))
            .into_iter()
            .collect(),
    };
    if let Some(c) = &spec.canary {
        canary::add(&mut objs, spec, c, &canary, created);
    }
    objs
}

fn uid(spec: &Spec) -> String {
    format!("local-{}", spec.name)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A Deployment's status from its (live, updated, ready) replicas, `want` of them wanted,
/// available from `min_available` ready on; complete when all are updated and ready.
fn status(
    (live, updated, ready): (i32, i32, i32),
    want: i32,
    min_available: i32,
) -> DeploymentStatus {
    let complete = updated == want && live == want && ready == want;
    DeploymentStatus {
        observed_generation: Some(1),
        replicas: Some(live),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(ready),
        conditions: Some(vec![
            condition("Available", ready >= min_available, None),
            condition(
                "Progressing",
                true,
                Some(if complete {
                    "NewReplicaSetAvailable"
                } else {
                    "ReplicaSetUpdated"
                }),
            ),
        ]),
        ..DeploymentStatus::default()
    }
}

fn deployment(spec: &Spec, replicas: &[ReplicaView], created: Timestamp) -> Deployment {
    let live: Vec<&ReplicaView> = replicas.iter().filter(|r| !r.draining).collect();
    let updated = count(live.iter().filter(|r| r.revision == spec.current).count());
    let ready = count(live.iter().filter(|r| r.ready).count());
    let live = count(live.len());
    let cur = spec.current_revision();
    Deployment {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(NAMESPACE.into()),
            uid: Some(uid(spec)),
            generation: Some(1),
            creation_timestamp: Some(Time(created)),
            annotations: map([
                (REVISION_ANNOTATION, spec.current.to_string()),
                (
                    CHANGE_CAUSE_ANNOTATION,
                    cur.map(|r| r.change_cause.clone()).unwrap_or_default(),
                ),
            ]),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(spec.replicas),
            paused: Some(spec.paused),
            selector: selector(&spec.name),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(spec.max_surge)),
                    max_unavailable: Some(IntOrString::Int(spec.max_unavailable)),
                }),
            }),
            template: cur.map(|r| template(spec, r)).unwrap_or_default(),
            ..DeploymentSpec::default()
        }),
        status: Some(status(
            (live, updated, ready),
            spec.replicas,
            spec.replicas - spec.max_unavailable,
        )),
    }
}

fn replica_set(spec: &Spec, rev: &Revision, replicas: &[ReplicaView]) -> ReplicaSet {
    let mine: Vec<&ReplicaView> = replicas
        .iter()
        .filter(|r| !r.draining && r.revision == rev.number)
        .collect();
    let ready = count(mine.iter().filter(|r| r.ready).count());
    let want = if rev.number == spec.current {
        spec.replicas
    } else {
        0
    };
    let hash = format!("r{}", rev.number);
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", spec.name)),
            namespace: Some(NAMESPACE.into()),
            uid: Some(format!("{}-{hash}", uid(spec))),
            creation_timestamp: time(&rev.created),
            labels: map([("app", spec.name.clone()), ("pod-template-hash", hash)]),
            annotations: map([
                (REVISION_ANNOTATION, rev.number.to_string()),
                (CHANGE_CAUSE_ANNOTATION, rev.change_cause.clone()),
            ]),
            owner_references: owner("Deployment", &spec.name, &uid(spec)),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(want),
            selector: selector(&spec.name),
            template: Some(template(spec, rev)),
            ..ReplicaSetSpec::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas: count(mine.len()),
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            ..ReplicaSetStatus::default()
        }),
    }
}

fn pod(spec: &Spec, rev: &Revision, r: &ReplicaView) -> Pod {
    let rs = format!("{}-r{}", spec.name, rev.number);
    let labels = template(spec, rev).metadata.and_then(|m| m.labels);
    let rs_uid = format!("{}-r{}", uid(spec), rev.number);
    replica_pod(r, labels, owner("ReplicaSet", &rs, &rs_uid))
}

/// The pod of replica `r`, with its labels and owner.
fn replica_pod(
    r: &ReplicaView,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
) -> Pod {
    let ready = r.ready && !r.draining;
    let started = Some(Time(r.started));
    Pod {
        metadata: ObjectMeta {
            name: Some(r.name.clone()),
            namespace: Some(NAMESPACE.into()),
            uid: Some(format!("local-pod-{}", r.name)),
            creation_timestamp: started.clone(),
            deletion_timestamp: r.draining.then_some(Time(r.started)),
            labels,
            owner_references,
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some("localhost".into()),
            containers: vec![container(
                Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: i32::from(r.port),
                    ..ContainerPort::default()
                }]),
                None,
            )],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some("127.0.0.1".into()),
            start_time: started.clone(),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..PodCondition::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: "server".into(),
                ready,
                restart_count: 0,
                image: "tractor-serve".into(),
                image_id: String::new(),
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: started,
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    }
}
