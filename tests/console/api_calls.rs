//! Each action's API calls (method, path, query, content type, body), made by the
//! real runner against a mock API server (tower-test), and the audit lines.
use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use tractor::action::{Action, Target};
use tractor::audit::AuditLog;
use tractor::event::{EffectResult, Object};
use tractor::k8s::runner::Runner;

#[derive(Debug, Clone)]
struct Call {
    method: String,
    uri: String,
    content_type: String,
    body: Value,
}

fn fixture_json(kind: &str, name: &str) -> Value {
    for o in support::fixture("cluster.yaml") {
        let (k, v) = match &o {
            Object::Deployment(d) => ("Deployment", serde_json::to_value(d).unwrap()),
            Object::ReplicaSet(r) => ("ReplicaSet", serde_json::to_value(r).unwrap()),
            Object::Hpa(h) => ("HorizontalPodAutoscaler", serde_json::to_value(h).unwrap()),
            _ => continue,
        };
        if k == kind && v["metadata"]["name"] == name {
            let mut v = v;
            v["kind"] = kind.into();
            v["apiVersion"] = if kind == "HorizontalPodAutoscaler" {
                "autoscaling/v2"
            } else {
                "apps/v1"
            }
            .into();
            return v;
        }
    }
    panic!("{kind}/{name} not in fixture")
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "100"}, "items": items})
}

/// A fake API server: answers by route, records every request.
fn server(patch_status: u16) -> (kube::Client, Arc<Mutex<Vec<Call>>>) {
    let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let rec = calls.clone();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let method = req.method().to_string();
            let uri = req.uri().to_string();
            let ct = req
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let bytes = req.into_body().collect_bytes().await.unwrap();
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            rec.lock().unwrap().push(Call {
                method: method.clone(),
                uri: uri.clone(),
                content_type: ct,
                body: body.clone(),
            });
            let path = uri.split('?').next().unwrap().to_string();
            let mut dep = fixture_json("Deployment", "classifier");
            let (status, reply) = match (method.as_str(), path.as_str()) {
                ("GET", "/apis/apps/v1/namespaces/ml/deployments/classifier") => (200, dep),
                ("GET", "/apis/apps/v1/namespaces/ml/replicasets") => (
                    200,
                    list(
                        "ReplicaSetList",
                        [
                            "classifier-6d5f7c9b8",
                            "classifier-7f8b6d4c5",
                            "classifier-5c4d8e7f6",
                        ]
                        .iter()
                        .map(|n| fixture_json("ReplicaSet", n))
                        .collect(),
                    ),
                ),
                ("GET", "/apis/autoscaling/v2/namespaces/ml/horizontalpodautoscalers") => (
                    200,
                    list(
                        "HorizontalPodAutoscalerList",
                        vec![fixture_json("HorizontalPodAutoscaler", "classifier")],
                    ),
                ),
                ("PATCH", "/apis/apps/v1/namespaces/ml/deployments/classifier")
                    if patch_status != 200 =>
                {
                    (
                        patch_status,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": patch_status,
                        "reason": "Forbidden",
                        "message": "deployments.apps \"classifier\" is forbidden: User \"alice\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"ml\""}),
                    )
                }
                ("PATCH", "/apis/apps/v1/namespaces/ml/deployments/classifier") => {
                    // the server's answer: the template after the patch, a new generation
                    dep["spec"]["template"]["metadata"]["labels"]["tractor.dev/model-version"] =
                        "v1".into();
                    dep["metadata"]["generation"] = 6.into();
                    (200, dep)
                }
                // the watch behind "wait until the controller observed generation 6"
                ("GET", "/apis/apps/v1/namespaces/ml/deployments")
                    if !uri.contains("watch=true") =>
                {
                    dep["status"]["observedGeneration"] = 6.into();
                    dep["metadata"]["generation"] = 6.into();
                    dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                        "4".into();
                    (200, list("DeploymentList", vec![dep]))
                }
                _ => continue, // e.g. the follow-up watch: never answered, dropped with the test
            };
            let resp = Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                .unwrap();
            send.send_response(resp);
        }
    });
    (kube::Client::new(svc, "default"), calls)
}

fn runner(client: kube::Client, audit: &std::path::Path, read_only: bool) -> Runner {
    Runner {
        client,
        context: "kind-tractor".into(),
        user: "alice".into(),
        audit: AuditLog::new(audit),
        read_only,
        container: None,
        observe_timeout: Duration::from_secs(5),
        kubeconfig: None,
    }
}

fn target() -> Target {
    Target {
        namespace: "ml".into(),
        name: "classifier".into(),
    }
}

#[tokio::test]
async fn undo_dry_run_then_write_with_kubectl_json_patch() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let (client, calls) = server(200);
    let r = runner(client, &audit, false);

    let prepared = r
        .prepare(&target(), Action::Undo { to_revision: None })
        .await;
    let EffectResult::Prepared {
        action,
        changes,
        notes,
        ..
    } = prepared
    else {
        panic!("{prepared:?}")
    };
    assert_eq!(
        action,
        Action::Undo {
            to_revision: Some(2)
        },
        "previous revision resolved"
    );
    assert!(
        changes.iter().any(
            |c| c.path == "spec.template.metadata.labels.tractor.dev/model-version"
                && c.before.as_deref() == Some("v2")
                && c.after.as_deref() == Some("v1")
        ),
        "{changes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("mid-rollout: 2 ReplicaSets have pods")),
        "{notes:?}"
    );
    {
        let c = calls.lock().unwrap();
        let seq: Vec<(String, String)> = c
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect();
        assert_eq!(
            seq[0],
            (
                "GET".into(),
                "/apis/apps/v1/namespaces/ml/deployments/classifier".into()
            )
        );
        assert_eq!(
            seq[1],
            (
                "GET".into(),
                "/apis/apps/v1/namespaces/ml/replicasets?&labelSelector=app%3Dclassifier".into()
            )
        );
        let dry = &c[2];
        assert_eq!(dry.method, "PATCH");
        assert_eq!(
            dry.uri,
            "/apis/apps/v1/namespaces/ml/deployments/classifier?&dryRun=All&fieldManager=tractor"
        );
        assert_eq!(dry.content_type, "application/json-patch+json");
        assert_eq!(dry.body[0]["op"], "replace");
        assert_eq!(dry.body[0]["path"], "/spec/template");
        assert_eq!(
            dry.body[0]["value"]["metadata"]["labels"],
            json!({"app": "classifier", "tractor.dev/model-version": "v1"})
        );
        assert_eq!(dry.body[1]["path"], "/metadata/annotations");
        assert_eq!(
            dry.body[1]["value"],
            json!({"deployment.kubernetes.io/revision": "3",
                   "kubernetes.io/change-cause": "tractor set image deploy/classifier -n ml tractor-serve:0.1.0"})
        );
    }
    assert!(!audit.exists(), "a dry run is not a write");

    calls.lock().unwrap().clear();
    let done = r.execute(&target(), action).await;
    let EffectResult::Done {
        revision_before,
        revision_after,
        message,
        ..
    } = done
    else {
        panic!("{done:?}")
    };
    assert_eq!((revision_before, revision_after), (Some(3), Some(4)));
    assert_eq!(
        message,
        "deploy/classifier rolled back to revision 2 (now revision 4)"
    );
    let c = calls.lock().unwrap();
    let write = c.iter().find(|c| c.method == "PATCH").unwrap();
    assert_eq!(
        write.uri,
        "/apis/apps/v1/namespaces/ml/deployments/classifier?&fieldManager=tractor"
    );
    assert_eq!(write.content_type, "application/json-patch+json");
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&audit).unwrap().trim()).unwrap();
    assert_eq!(line["action"], "undo");
    assert_eq!(line["object"], "deployment/classifier");
    assert_eq!(line["namespace"], "ml");
    assert_eq!(line["context"], "kind-tractor");
    assert_eq!(line["user"], "alice");
    assert_eq!(line["revision_before"], 3);
    assert_eq!(line["revision_after"], 4);
    assert_eq!(line["result"], "ok");
    assert_eq!(
        line["command"],
        "tractor rollout undo deploy/classifier -n ml --to-revision 2"
    );
}

#[tokio::test]
async fn set_model_is_a_strategic_merge_patch() {
    let dir = tempfile::tempdir().unwrap();
    let (client, calls) = server(200);
    let r = runner(client, &dir.path().join("a.jsonl"), false);
    let res = r
        .prepare(
            &target(),
            Action::SetModel {
                container: None,
                version: "v3".into(),
                path: None,
            },
        )
        .await;
    assert!(matches!(res, EffectResult::Prepared { .. }), "{res:?}");
    let c = calls.lock().unwrap();
    let p = c.iter().find(|c| c.method == "PATCH").unwrap();
    assert_eq!(p.content_type, "application/strategic-merge-patch+json");
    assert_eq!(
        p.body,
        json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "tractor set model deploy/classifier -n ml v3"}},
               "spec": {"template": {"metadata": {"labels": {"tractor.dev/model-version": "v3"}},
                 "spec": {"containers": [{"name": "server", "env": [{"name": "TRACTOR_SERVE_MODEL_VERSION", "value": "v3"}]}]}}}})
    );
}

#[tokio::test]
async fn scale_warns_about_the_autoscaler() {
    let dir = tempfile::tempdir().unwrap();
    let (client, calls) = server(200);
    let r = runner(client, &dir.path().join("a.jsonl"), false);
    let res = r.prepare(&target(), Action::Scale { replicas: 6 }).await;
    let EffectResult::Prepared { notes, .. } = res else {
        panic!("{res:?}")
    };
    assert_eq!(
        notes,
        ["hpa/classifier manages this deployment's replicas and will override a manual scale"]
    );
    let c = calls.lock().unwrap();
    let p = c.iter().find(|c| c.method == "PATCH").unwrap();
    assert_eq!(p.body["spec"], json!({"replicas": 6}));
    assert_eq!(
        p.body["metadata"]["annotations"]["kubernetes.io/change-cause"],
        "tractor scale deploy/classifier -n ml --replicas 6"
    );
}

#[tokio::test]
async fn forbidden_is_a_clear_message_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let (client, _calls) = server(403);
    let r = runner(client, &audit, false);
    let res = r.prepare(&target(), Action::Restart).await;
    let EffectResult::Failed { failure, .. } = res else {
        panic!("{res:?}")
    };
    let message = failure.to_string();
    assert!(
        message.starts_with(
            "forbidden: user \"alice\" may not patch deployments.apps in namespace \"ml\""
        ),
        "{message}"
    );
    let res = r.execute(&target(), Action::Restart).await;
    let EffectResult::Failed { failure, .. } = res else {
        panic!("{res:?}")
    };
    let message = failure.to_string();
    assert!(message.starts_with("forbidden:"), "{message}");
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&audit).unwrap().trim()).unwrap();
    assert!(
        line["result"]
            .as_str()
            .unwrap()
            .starts_with("error: forbidden"),
        "{line}"
    );
    assert_eq!(line["revision_after"], Value::Null);
}

#[tokio::test]
async fn read_only_runner_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (client, calls) = server(200);
    let r = runner(client, &dir.path().join("a.jsonl"), true);
    for a in [
        Action::Restart,
        Action::Undo { to_revision: None },
        Action::Scale { replicas: 1 },
    ] {
        assert!(matches!(
            r.prepare(&target(), a.clone()).await,
            EffectResult::Failed { .. }
        ));
        assert!(matches!(
            r.execute(&target(), a).await,
            EffectResult::Failed { .. }
        ));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(calls.lock().unwrap().is_empty());
}
