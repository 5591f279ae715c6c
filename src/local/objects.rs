//! Local state as the objects the views already read: a Deployment, one ReplicaSet per
//! revision, one Pod per replica (pod IP 127.0.0.1, its port as the `http` container port),
//! and an HPA for the autoscaler. Views and actions cannot tell the backends apart.
use serde_json::{Value, json};

use super::spec::Spec;
use crate::event::Object;
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
    pub port: u16,
    pub ready: bool,
    /// Out of traffic, draining, about to stop.
    pub draining: bool,
    /// RFC 3339.
    pub started: String,
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
    pub last_scale: Option<String>,
}

fn from(v: Value) -> Option<Object> {
    let kind = v.get("kind")?.as_str()?.to_string();
    Some(match kind.as_str() {
        "Deployment" => Object::Deployment(Box::new(serde_json::from_value(v).ok()?)),
        "ReplicaSet" => Object::ReplicaSet(Box::new(serde_json::from_value(v).ok()?)),
        "Pod" => Object::Pod(Box::new(serde_json::from_value(v).ok()?)),
        "HorizontalPodAutoscaler" => Object::Hpa(Box::new(serde_json::from_value(v).ok()?)),
        _ => return None,
    })
}

fn template(spec: &Spec, rev: &super::spec::Revision, hash: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": spec.name, MODEL_VERSION_LABEL: rev.version, "pod-template-hash": hash}},
        "spec": {"containers": [{
            "name": "server",
            "image": "tractor-serve (local process)",
            "env": [
                {"name": MODEL_VERSION_ENV, "value": rev.version},
                {"name": MODEL_PATH_ENV, "value": rev.model.display().to_string()},
            ],
        }]}
    })
}

/// Every object of the local deployment, from its spec and its replicas as they are now.
pub fn objects(
    spec: &Spec,
    replicas: &[ReplicaView],
    hpa: Option<&HpaView>,
    created: &str,
) -> Vec<Object> {
    let name = &spec.name;
    let uid = format!("local-{name}");
    let owner = |kind: &str, n: &str, uid: &str| json!([{"apiVersion": "apps/v1", "kind": kind, "name": n, "uid": uid, "controller": true}]);
    let live: Vec<&ReplicaView> = replicas.iter().filter(|r| !r.draining).collect();
    let updated = live.iter().filter(|r| r.revision == spec.current).count();
    let ready = live.iter().filter(|r| r.ready).count();
    let cur = spec.current_revision();
    let complete = updated as i32 == spec.replicas
        && live.len() as i32 == spec.replicas
        && ready as i32 == spec.replicas;
    let mut out = Vec::new();
    let cur_hash = format!("r{}", spec.current);
    out.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": name, "namespace": NAMESPACE, "uid": uid, "generation": 1,
            "creationTimestamp": created,
            "annotations": {
                REVISION_ANNOTATION: spec.current.to_string(),
                CHANGE_CAUSE_ANNOTATION: cur.map(|r| r.change_cause.clone()).unwrap_or_default(),
            },
        },
        "spec": {
            "replicas": spec.replicas, "paused": spec.paused,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": spec.max_surge, "maxUnavailable": spec.max_unavailable}},
            "template": cur.map(|r| template(spec, r, &cur_hash)).unwrap_or(Value::Null),
        },
        "status": {
            "observedGeneration": 1, "replicas": live.len(), "updatedReplicas": updated,
            "readyReplicas": ready, "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": if ready as i32 >= spec.replicas - spec.max_unavailable { "True" } else { "False" }},
                {"type": "Progressing", "status": "True",
                 "reason": if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" }},
            ],
        },
    }));
    for rev in &spec.revisions {
        let rs_name = format!("{name}-r{}", rev.number);
        let mine: Vec<&&ReplicaView> = live.iter().filter(|r| r.revision == rev.number).collect();
        let want = if rev.number == spec.current {
            spec.replicas
        } else {
            0
        };
        out.push(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name, "namespace": NAMESPACE, "uid": format!("{uid}-r{}", rev.number),
                "creationTimestamp": rev.created,
                "labels": {"app": name, "pod-template-hash": format!("r{}", rev.number)},
                "annotations": {REVISION_ANNOTATION: rev.number.to_string(), CHANGE_CAUSE_ANNOTATION: rev.change_cause},
                "ownerReferences": owner("Deployment", name, &uid),
            },
            "spec": {"replicas": want, "selector": {"matchLabels": {"app": name}},
                     "template": template(spec, rev, &format!("r{}", rev.number))},
            "status": {"replicas": mine.len(), "readyReplicas": mine.iter().filter(|r| r.ready).count(),
                       "availableReplicas": mine.iter().filter(|r| r.ready).count()},
        }));
    }
    for r in replicas {
        let Some(rev) = spec.revision(r.revision) else {
            continue;
        };
        let ready = r.ready && !r.draining;
        out.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": r.name, "namespace": NAMESPACE, "uid": format!("local-pod-{}", r.name),
                "creationTimestamp": r.started,
                "deletionTimestamp": if r.draining { Value::String(r.started.clone()) } else { Value::Null },
                "labels": {"app": name, MODEL_VERSION_LABEL: rev.version, "pod-template-hash": format!("r{}", rev.number)},
                "ownerReferences": owner("ReplicaSet", &format!("{name}-r{}", rev.number), &format!("{uid}-r{}", rev.number)),
            },
            "spec": {"nodeName": "localhost", "containers": [{
                "name": "server", "image": "tractor-serve (local process)",
                "ports": [{"name": "http", "containerPort": r.port}],
            }]},
            "status": {
                "phase": "Running", "podIP": "127.0.0.1", "startTime": r.started,
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [{
                    "name": "server", "ready": ready, "restartCount": 0, "image": "tractor-serve",
                    "imageID": "", "state": {"running": {"startedAt": r.started}},
                }],
            },
        }));
    }
    if let Some(h) = hpa {
        out.push(json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": NAMESPACE, "creationTimestamp": created},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": h.min, "maxReplicas": h.max,
                "metrics": [{"type": "Pods", "pods": {
                    "metric": {"name": "tractor_inflight_requests"},
                    "target": {"type": "AverageValue", "averageValue": format!("{}m", (h.target_inflight * 1000.0).round() as i64)},
                }}],
            },
            "status": {
                "currentReplicas": h.current, "desiredReplicas": h.desired,
                "lastScaleTime": h.last_scale,
                "currentMetrics": h.inflight.map(|v| json!([{"type": "Pods", "pods": {
                    "metric": {"name": "tractor_inflight_requests"},
                    "current": {"averageValue": format!("{}m", (v * 1000.0).round() as i64)},
                }}])).unwrap_or(Value::Null),
                "conditions": [{"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"}],
            },
        }));
    }
    out.into_iter().filter_map(from).collect()
}
