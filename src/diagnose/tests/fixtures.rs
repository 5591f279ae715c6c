//! The objects as the API server shows them, built from JSON for the rules' fixtures.
use std::collections::VecDeque;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use serde_json::{Value, json};

pub fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

pub fn deployment(status: Value) -> Deployment {
    obj(
        json!({"metadata": {"name": "web", "namespace": "ml", "uid": "d1"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "progressDeadlineSeconds": 120,
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "server", "image": "x"}]}}},
        "status": status}),
    )
}

pub fn rs(status: Value) -> ReplicaSet {
    obj(json!({"metadata": {"name": "web-abc", "namespace": "ml",
        "annotations": {"deployment.kubernetes.io/revision": "4"}},
        "status": status}))
}

/// A pod with one container `server` of this spec (resources, probe...) and status.
pub fn pod(container: Value, status: Value) -> Pod {
    let mut c = json!({"name": "server", "image": "registry.local/serve:v4"});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), container.as_object()) {
        c.extend(extra.clone());
    }
    obj(json!({"metadata": {"name": "web-abc-1", "namespace": "ml"},
        "spec": {"containers": [c]}, "status": status}))
}

pub fn cs(state: Value, last: Value, ready: bool, restarts: i32) -> Value {
    json!({"containerStatuses": [{"name": "server", "ready": ready, "restartCount": restarts,
        "image": "registry.local/serve:v4", "imageID": "", "state": state, "lastState": last}],
        "phase": "Running"})
}

pub fn event(kind: &str, name: &str, reason: &str, message: &str) -> Event {
    obj(json!({"metadata": {"name": "e", "namespace": "ml"},
        "involvedObject": {"kind": kind, "name": name}, "reason": reason, "message": message,
        "count": 3, "type": "Warning"}))
}

pub fn hpa(spec: Value, status: Value) -> HorizontalPodAutoscaler {
    obj(json!({"metadata": {"name": "web", "namespace": "ml"},
        "spec": spec, "status": status}))
}

pub fn points(currents: &[(i64, i32)]) -> VecDeque<crate::state::ReplicaPoint> {
    currents
        .iter()
        .map(|(s, c)| crate::state::ReplicaPoint {
            at: jiff::Timestamp::from_second(1_800_000_000 + s).unwrap(),
            current: *c,
            desired: *c,
        })
        .collect()
}
