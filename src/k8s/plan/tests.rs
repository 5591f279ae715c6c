use super::*;
use serde_json::json;

fn tmpl(version: &str, hash: &str) -> Value {
    json!({"metadata":{"labels":{"app":"web","pod-template-hash":hash,"tractor.dev/model-version":version}},
           "spec":{"containers":[{"name":"server","image":"tractor-serve:1",
             "env":[{"name":"TRACTOR_SERVE_MODEL_VERSION","value":version}]}]}})
}

fn deployment(version: &str, rev: i64, paused: bool) -> Deployment {
    let mut t = tmpl(version, "");
    t["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    serde_json::from_value(json!({
        "metadata":{"name":"web","namespace":"prod","uid":"d-uid","annotations":{
            "deployment.kubernetes.io/revision": rev.to_string(),
            "kubernetes.io/change-cause": format!("set model {version}"),
            "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec":{"replicas":3,"paused":paused,"selector":{"matchLabels":{"app":"web"}},"template":t}
    }))
    .unwrap()
}

fn rs(version: &str, rev: i64, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata":{"name":format!("web-{version}"),"namespace":"prod","annotations":{
            "deployment.kubernetes.io/revision": rev.to_string(),
            "deployment.kubernetes.io/desired-replicas": "3",
            "kubernetes.io/change-cause": format!("set model {version}")},
          "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"d-uid","controller":true}]},
        "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":"web"}},"template":tmpl(version, &format!("h{rev}"))},
        "status":{"replicas":replicas}
    }))
    .unwrap()
}

fn target() -> Target {
    Target {
        namespace: "prod".into(),
        name: "web".into(),
    }
}

fn now() -> Timestamp {
    "2026-11-22T03:00:00Z".parse().unwrap()
}

fn ops(p: &Plan) -> Value {
    match p {
        Plan::Patch {
            patch: Patch::Json(jp),
            ..
        } => serde_json::to_value(jp).unwrap(),
        other => panic!("expected a JSON patch, got {other:?}"),
    }
}

fn body(p: &Plan) -> Value {
    match p {
        Plan::Patch {
            patch: Patch::Strategic(v),
            ..
        } => v.clone(),
        other => panic!("expected a strategic merge patch, got {other:?}"),
    }
}

#[test]
fn undo_goes_to_the_previous_revision_like_kubectl() {
    let d = deployment("v3", 3, false);
    let rss = [rs("v1", 1, 0), rs("v2", 2, 0), rs("v3", 3, 3)];
    let p = plan(
        &target(),
        &d,
        &rss,
        &Action::Undo { to_revision: None },
        now(),
    )
    .unwrap();
    let Plan::Patch { resolved, .. } = &p else {
        panic!()
    };
    assert_eq!(
        *resolved,
        Action::Undo {
            to_revision: Some(2)
        }
    );
    let ops = ops(&p);
    assert_eq!(ops[0]["op"], "replace");
    assert_eq!(ops[0]["path"], "/spec/template");
    let labels = &ops[0]["value"]["metadata"]["labels"];
    assert_eq!(labels["tractor.dev/model-version"], "v2");
    assert!(
        labels.get("pod-template-hash").is_none(),
        "hash label must be dropped: {labels}"
    );
    assert_eq!(
        ops[0]["value"]["spec"]["containers"][0]["env"][0]["value"],
        "v2"
    );
    assert_eq!(ops[1]["path"], "/metadata/annotations");
    let ann = &ops[1]["value"];
    // kept from the deployment
    assert_eq!(ann["deployment.kubernetes.io/revision"], "3");
    assert_eq!(
        ann["kubectl.kubernetes.io/last-applied-configuration"],
        "{}"
    );
    // carried from the ReplicaSet (its change-cause), skipping the controller's own
    assert_eq!(ann["kubernetes.io/change-cause"], "set model v2");
    // the controller's desired-replicas is skipped from the ReplicaSet, and the deployment has none
    assert!(
        ann.get("deployment.kubernetes.io/desired-replicas")
            .is_none(),
        "{ann}"
    );
}

#[test]
fn undo_to_a_chosen_revision_and_errors() {
    let d = deployment("v3", 3, false);
    let rss = [rs("v1", 1, 0), rs("v2", 2, 0), rs("v3", 3, 3)];
    let p = plan(
        &target(),
        &d,
        &rss,
        &Action::Undo {
            to_revision: Some(1),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        ops(&p)[0]["value"]["metadata"]["labels"]["tractor.dev/model-version"],
        "v1"
    );

    let e = plan(
        &target(),
        &d,
        &rss,
        &Action::Undo {
            to_revision: Some(9),
        },
        now(),
    )
    .unwrap_err();
    assert_eq!(e, PlanError::NoRevision(9));
    assert_eq!(
        e.to_string(),
        "unable to find specified revision 9 in history"
    );

    // the current template: skipped, like kubectl
    match plan(
        &target(),
        &d,
        &rss,
        &Action::Undo {
            to_revision: Some(3),
        },
        now(),
    )
    .unwrap()
    {
        Plan::Skip(m) => assert_eq!(
            m,
            "skipped rollback (current template already matches revision 3)"
        ),
        other => panic!("{other:?}"),
    }

    // paused: refused
    let paused = deployment("v3", 3, true);
    let e = plan(
        &target(),
        &paused,
        &rss,
        &Action::Undo { to_revision: None },
        now(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("you cannot roll back a paused deployment"),
        "{e}"
    );

    // a single revision has no previous one
    let e = plan(
        &target(),
        &d,
        &[rs("v3", 3, 3)],
        &Action::Undo { to_revision: None },
        now(),
    )
    .unwrap_err();
    assert_eq!(e, PlanError::NoHistory("web".into()));
}

#[test]
fn undo_mid_rollout_with_two_live_replicasets() {
    // revision 3 is rolling out: both v2 and v3 have pods. Undo targets revision 2.
    let d = deployment("v3", 3, false);
    let rss = [rs("v1", 1, 0), rs("v2", 2, 2), rs("v3", 3, 2)];
    let p = plan(
        &target(),
        &d,
        &rss,
        &Action::Undo { to_revision: None },
        now(),
    )
    .unwrap();
    assert_eq!(
        ops(&p)[0]["value"]["metadata"]["labels"]["tractor.dev/model-version"],
        "v2"
    );
}

#[test]
fn set_model_patches_label_env_and_change_cause() {
    let d = deployment("v1", 1, false);
    let a = Action::SetModel {
        container: None,
        version: "v2".into(),
        path: Some("/models/v2.onnx".into()),
    };
    let b = body(&plan(&target(), &d, &[], &a, now()).unwrap());
    assert_eq!(
        b,
        json!({
            "metadata": {"annotations": {"kubernetes.io/change-cause": "tractor set model deploy/web -n prod v2 --path /models/v2.onnx"}},
            "spec": {"template": {
                "metadata": {"labels": {"tractor.dev/model-version": "v2"}},
                "spec": {"containers": [{"name": "server", "env": [
                    {"name": "TRACTOR_SERVE_MODEL_VERSION", "value": "v2"},
                    {"name": "TRACTOR_SERVE_MODEL", "value": "/models/v2.onnx"}]}]}
            }}
        })
    );
    // already there: skipped
    let same = Action::SetModel {
        container: None,
        version: "v1".into(),
        path: None,
    };
    assert!(matches!(
        plan(&target(), &d, &[], &same, now()).unwrap(),
        Plan::Skip(_)
    ));
    // unknown container
    let bad = Action::SetModel {
        container: Some("nope".into()),
        version: "v2".into(),
        path: None,
    };
    let e = plan(&target(), &d, &[], &bad, now()).unwrap_err();
    assert!(
        e.to_string()
            .contains("no container named \"nope\" (it has server)"),
        "{e}"
    );
}

#[test]
fn restart_scale_pause_resume_image() {
    let d = deployment("v1", 1, false);
    let b = body(&plan(&target(), &d, &[], &Action::Restart, now()).unwrap());
    assert_eq!(
        b["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2026-11-22T03:00:00Z"
    );
    assert_eq!(
        b["metadata"]["annotations"]["kubernetes.io/change-cause"],
        "tractor rollout restart deploy/web -n prod"
    );
    let e = plan(
        &target(),
        &deployment("v1", 1, true),
        &[],
        &Action::Restart,
        now(),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        PlanError::Paused {
            verb: "restart",
            ..
        }
    ));

    let b = body(&plan(&target(), &d, &[], &Action::Scale { replicas: 5 }, now()).unwrap());
    assert_eq!(b["spec"], json!({"replicas": 5}));
    assert!(matches!(
        plan(&target(), &d, &[], &Action::Scale { replicas: 3 }, now()).unwrap(),
        Plan::Skip(_)
    ));
    assert_eq!(
        plan(&target(), &d, &[], &Action::Scale { replicas: -1 }, now()).unwrap_err(),
        PlanError::BadReplicas(-1)
    );

    let b = body(&plan(&target(), &d, &[], &Action::Pause, now()).unwrap());
    assert_eq!(b["spec"], json!({"paused": true}));
    assert!(matches!(
        plan(&target(), &d, &[], &Action::Resume, now()).unwrap(),
        Plan::Skip(_)
    ));
    let b = body(
        &plan(
            &target(),
            &deployment("v1", 1, true),
            &[],
            &Action::Resume,
            now(),
        )
        .unwrap(),
    );
    assert_eq!(b["spec"], json!({"paused": false}));

    let a = Action::SetImage {
        container: None,
        image: "tractor-serve:2".into(),
    };
    let b = body(&plan(&target(), &d, &[], &a, now()).unwrap());
    assert_eq!(
        b["spec"]["template"]["spec"]["containers"],
        json!([{"name": "server", "image": "tractor-serve:2"}])
    );
    let same = Action::SetImage {
        container: None,
        image: "tractor-serve:1".into(),
    };
    assert!(matches!(
        plan(&target(), &d, &[], &same, now()).unwrap(),
        Plan::Skip(_)
    ));
}

#[test]
fn several_containers_need_a_name() {
    let mut d = deployment("v1", 1, false);
    let spec = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    let mut side = spec.containers[0].clone();
    side.name = "proxy".into();
    spec.containers.push(side);
    let a = Action::SetImage {
        container: None,
        image: "x:1".into(),
    };
    let e = plan(&target(), &d, &[], &a, now()).unwrap_err();
    assert!(
        e.to_string().contains("has containers server, proxy"),
        "{e}"
    );
    let a = Action::SetImage {
        container: Some("proxy".into()),
        image: "x:1".into(),
    };
    assert!(matches!(
        plan(&target(), &d, &[], &a, now()).unwrap(),
        Plan::Patch { .. }
    ));
}
