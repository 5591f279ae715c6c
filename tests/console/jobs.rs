//! The Jobs list (`:jobs`) and a failed Job of a deployment's app in its diagnosis.
use crate::support;

use crossterm::event::KeyCode;
use support::{code, key, state, typed};
use tractor::event::{AppEvent, ClusterDelta, Object};
use tractor::state::{View, update};

fn job(name: &str, status: serde_json::Value) -> AppEvent {
    let j = serde_json::json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "ml", "labels": {"app": "classifier"},
            "creationTimestamp": "2026-11-22T02:50:00Z"},
        "spec": {"backoffLimit": 1, "template": {"spec": {"containers": []}}},
        "status": status});
    AppEvent::Kube(ClusterDelta::Applied(Object::Job(Box::new(
        serde_json::from_value(j).unwrap(),
    ))))
}

#[test]
fn jobs_are_listed_and_a_failed_one_is_in_the_diagnosis() {
    let mut s = state();
    update(
        &mut s,
        job(
            "classifier-migrate",
            serde_json::json!({"failed": 2, "conditions": [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"}]}),
        ),
    );
    update(
        &mut s,
        job(
            "classifier-warmup",
            serde_json::json!({"succeeded": 1, "conditions": [
        {"type": "Complete", "status": "True"}]}),
        ),
    );
    update(&mut s, key(':'));
    typed(&mut s, "jobs");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Jobs);
    let screen = support::render(&s, 160, 20);
    for want in [
        "Jobs [2]",
        "classifier-migrate",
        "Failed",
        "BackoffLimitExceeded: Job has reached the specified backoff limit",
        "classifier-warmup",
        "Complete",
        "1/1",
    ] {
        assert!(screen.contains(want), "{want:?}:\n{screen}");
    }
    // the deployment of the same app: its diagnosis names the Job and what to do
    let found = tractor::state::diagnosis::of(&s, &("ml".into(), "classifier".into()));
    let f = found
        .iter()
        .find(|f| f.rule == "Job failed")
        .expect("a Job finding");
    assert_eq!(f.subject, "job/classifier-migrate");
    assert!(f.cause.contains("more than backoffLimit (1)"), "{f:?}");
    assert!(
        f.action
            .contains("kubectl logs job/classifier-migrate -n ml"),
        "{f:?}"
    );
    // another app's deployment does not get it
    let other = tractor::state::diagnosis::of(&s, &("ml".into(), "embedder".into()));
    assert!(other.iter().all(|f| f.rule != "Job failed"), "{other:?}");
}
