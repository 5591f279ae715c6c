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

#[test]
fn a_canary_is_published_as_a_kubernetes_canary_is() {
    use crate::canary::{CANARY_TRACK, TRACK_LABEL};
    use crate::local::spec::CanarySpec;
    let t = jiff::Timestamp::UNIX_EPOCH;
    let mut s = spec();
    let mut template = s.revisions[0].clone();
    template.version = "v2".into();
    template.change_cause = "tractor rollout canary deploy/cls --model v2".into();
    s.canary = Some(CanarySpec {
        template,
        replicas: 2,
        stable_revision: 1,
        annotations: [("tractor.dev/canary-plan".to_string(), "{}".to_string())].into(),
        version: 7,
        created: "2024-01-02T03:04:05Z".into(),
    });
    let replica = |name: &str, canary, ready, draining| ReplicaView {
        name: name.into(),
        revision: if canary { 0 } else { 1 },
        canary,
        port: 9000,
        ready,
        draining,
        started: t,
    };
    let replicas = [
        replica("cls-r1-1", false, true, false),
        replica("cls-canary-2", true, true, false),
        replica("cls-canary-3", true, false, false),
        replica("cls-canary-4", true, true, true),
    ];
    let o = objects(&s, &replicas, None, t);
    // the deployment counts its own replica only
    let st = o.deployment.status.clone().unwrap();
    assert_eq!((st.replicas, st.ready_replicas), (Some(1), Some(1)));
    let c = o.canary.clone().expect("the canary is published");
    assert_eq!(c.metadata.name.as_deref(), Some("cls-canary"));
    assert_eq!(c.metadata.resource_version.as_deref(), Some("7"));
    let a = c.metadata.annotations.clone().unwrap();
    assert_eq!(a["tractor.dev/canary-of"], "cls");
    assert_eq!(a["tractor.dev/canary-plan"], "{}");
    let spec_c = c.spec.clone().unwrap();
    assert_eq!(spec_c.replicas, Some(2));
    let labels = spec_c.template.metadata.unwrap().labels.unwrap();
    assert_eq!(labels[TRACK_LABEL], CANARY_TRACK);
    assert_eq!(labels[crate::model::MODEL_VERSION_LABEL], "v2");
    let st = c.status.unwrap();
    assert_eq!((st.replicas, st.ready_replicas), (Some(2), Some(1)));
    // its pods carry the deployment's labels plus the track, owned through its ReplicaSet
    let canary_pods: Vec<_> = o
        .pods
        .iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .unwrap()
                .get(TRACK_LABEL)
                .is_some()
        })
        .collect();
    assert_eq!(canary_pods.len(), 3);
    let rs = o
        .replica_sets
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some("cls-canary-canary"))
        .expect("the canary's ReplicaSet");
    assert_eq!(
        rs.metadata.owner_references.as_ref().unwrap()[0].name,
        "cls-canary"
    );
    for p in canary_pods {
        assert_eq!(p.metadata.labels.as_ref().unwrap()["app"], "cls");
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.name, "cls-canary-canary");
    }
    // both Deployments are listed, and a change of the canary alone is seen
    assert_eq!(o.of_kind(Kind::Deployment).len(), 2);
    let mut s2 = s.clone();
    if let Some(c) = &mut s2.canary {
        c.replicas = 3;
    }
    let o2 = objects(&s2, &replicas, None, t);
    assert!(!o.same(&o2, Kind::Deployment));
    assert!(o.same(&o2, Kind::Pod));
}
