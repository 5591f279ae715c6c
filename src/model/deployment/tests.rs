use super::*;
use serde_json::json;

fn dep(v: serde_json::Value) -> Deployment {
    serde_json::from_value(v).unwrap()
}

#[test]
fn rollout_states() {
    let cases = vec![
        (
            json!({"metadata":{"name":"a","generation":2},"spec":{"replicas":3,"paused":true,"selector":{},"template":{}},"status":{"observedGeneration":1}}),
            RolloutState::Paused,
            "paused",
        ),
        (
            json!({"metadata":{"name":"a","generation":2},"spec":{"replicas":3,"selector":{},"template":{}},"status":{"observedGeneration":1}}),
            RolloutState::Progressing,
            "spec update to be observed",
        ),
        (
            json!({"metadata":{"name":"a","generation":2},"spec":{"replicas":3,"selector":{},"template":{}},"status":{"observedGeneration":2,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}}),
            RolloutState::Stalled,
            "exceeded its progress deadline",
        ),
        (
            json!({"metadata":{"name":"a","generation":2},"spec":{"replicas":3,"selector":{},"template":{}},"status":{"observedGeneration":2,"updatedReplicas":1,"replicas":4}}),
            RolloutState::Progressing,
            "1 out of 3 new replicas",
        ),
        (
            json!({"metadata":{"name":"a","generation":2},"spec":{"replicas":3,"selector":{},"template":{}},"status":{"observedGeneration":2,"updatedReplicas":3,"replicas":4}}),
            RolloutState::Progressing,
            "1 old replicas are pending termination",
        ),
        (
            json!({"metadata":{"name":"a","generation":2},"spec":{"replicas":3,"selector":{},"template":{}},"status":{"observedGeneration":2,"updatedReplicas":3,"replicas":3,"availableReplicas":2}}),
            RolloutState::Progressing,
            "2 of 3 updated replicas are available",
        ),
        (
            json!({"metadata":{"name":"a","generation":2},"spec":{"replicas":3,"selector":{},"template":{}},"status":{"observedGeneration":2,"updatedReplicas":3,"replicas":3,"availableReplicas":3}}),
            RolloutState::Complete,
            "successfully rolled out",
        ),
        // no status at all: nothing observed yet
        (
            json!({"metadata":{"name":"a","generation":1},"spec":{"selector":{},"template":{}}}),
            RolloutState::Progressing,
            "to be observed",
        ),
    ];
    for (v, state, msg) in cases {
        let s = rollout_status(&dep(v));
        assert_eq!(s.state, state, "{}", s.message);
        assert!(s.message.contains(msg), "{} lacks {msg}", s.message);
    }
}

#[test]
fn history_is_owned_newest_first() {
    let d = dep(
        json!({"metadata":{"name":"web","namespace":"ns","uid":"u1","annotations":{"deployment.kubernetes.io/revision":"3"}},"spec":{"selector":{},"template":{}}}),
    );
    let rs = |name: &str, rev: &str, owner: &str, uid: &str| -> ReplicaSet {
        serde_json::from_value(json!({"metadata":{"name":name,"namespace":"ns",
            "annotations":{"deployment.kubernetes.io/revision":rev},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":owner,"uid":uid,"controller":true}]},
            "spec":{"selector":{}}})).unwrap()
    };
    let all = [
        rs("web-1", "1", "web", "u1"),
        rs("web-3", "3", "web", "u1"),
        rs("old", "2", "web", "other-uid"),
        rs("x", "9", "x", "u9"),
    ];
    let h = history(&d, all.iter());
    let names: Vec<_> = h.iter().map(|r| r.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["web-3", "web-1"]);
    assert!(is_current(&d, h[0]));
    assert!(!is_current(&d, h[1]));
}

#[test]
fn model_version_and_images() {
    let d = dep(
        json!({"metadata":{"name":"a"},"spec":{"selector":{},"template":{
        "metadata":{"labels":{"tractor.dev/model-version":"v2"}},
        "spec":{"containers":[{"name":"s","image":"img:1"},{"name":"side","image":"proxy:2"}]}}}}),
    );
    let t = d.spec.as_ref().map(|s| &s.template);
    assert_eq!(model_version(t), Some("v2"));
    assert_eq!(images(t).as_deref(), Some("img:1,proxy:2"));
    assert_eq!(model_version(None), None);
}
