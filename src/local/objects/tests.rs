//! What the objects say, and which kinds a change touches.
use super::{HpaView, ReplicaView, objects};
use crate::event::Kind;
use crate::local::spec::{Revision, Spec};

fn spec() -> Spec {
    Spec {
        name: "cls".into(),
        model_name: "cls".into(),
        replicas: 1,
        revisions: vec![Revision {
            number: 1,
            model: "/m/cls.onnx".into(),
            version: "v1".into(),
            args: vec![],
            change_cause: "first".into(),
            created: "2024-01-02T03:04:05Z".into(),
            restarted_at: None,
        }],
        current: 1,
        paused: false,
        max_surge: 1,
        max_unavailable: 0,
        autoscale: None,
        model_pattern: None,
        canary: None,
    }
}

#[test]
fn a_change_is_seen_in_the_kinds_it_touches() {
    let t = jiff::Timestamp::UNIX_EPOCH;
    let replica = |ready, draining| ReplicaView {
        name: "cls-r1-1".into(),
        revision: 1,
        canary: false,
        port: 9000,
        ready,
        draining,
        started: t,
    };
    let hpa = HpaView {
        min: 1,
        max: 3,
        current: 1,
        desired: 1,
        target_inflight: 0.5,
        inflight: None,
        last_scale: None,
    };
    let (s, h) = (spec(), Some(&hpa));
    let starting = objects(&s, &[replica(false, false)], h, t);
    let ready = objects(&s, &[replica(true, false)], h, t);
    for kind in Kind::ALL {
        assert!(starting.same(&starting.clone(), kind));
    }
    assert!(!starting.same(&ready, Kind::Pod));
    assert!(!starting.same(&ready, Kind::Deployment));
    assert!(!starting.same(&ready, Kind::ReplicaSet));
    assert!(starting.same(&ready, Kind::Hpa));
    assert_eq!(ready.of_kind(Kind::Hpa).len(), 1);
    let status = ready.deployment.status.clone().unwrap_or_default();
    assert_eq!(status.ready_replicas, Some(1));
    // a draining replica is a terminating pod, no longer counted
    let draining = objects(&s, &[replica(true, true)], h, t);
    assert!(draining.pods[0].metadata.deletion_timestamp.is_some());
    let status = draining.deployment.status.clone().unwrap_or_default();
    assert_eq!(status.replicas, Some(0));
}
