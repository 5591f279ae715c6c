use std::path::Path;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use serde_json::{Value, json};

use super::*;
use crate::action::Target;
use crate::event::EffectResult;
use crate::k8s::plan::{self, Plan};
use crate::local::actions;
use crate::local::spec::{self, Spec};

/// One deployment situation, described once and built for both backends.
struct Situation {
    paused: bool,
    replicas: i32,
    /// Model versions by revision number, oldest first; the last one is current.
    versions: Vec<&'static str>,
}

const NAME: &str = "classifier";

fn target() -> Target {
    Target {
        namespace: crate::local::objects::NAMESPACE.into(),
        name: NAME.into(),
    }
}

fn model(dir: &Path, version: &str) -> String {
    dir.join(format!("{version}.onnx")).display().to_string()
}

fn template(dir: &Path, version: &str, hash: Option<&str>) -> Value {
    let mut labels = json!({"app": NAME, "tractor.dev/model-version": version});
    if let Some(h) = hash {
        labels["pod-template-hash"] = json!(h);
    }
    json!({"metadata": {"labels": labels},
           "spec": {"containers": [{"name": "server", "image": "tractor-serve:1", "env": [
               {"name": "TRACTOR_SERVE_MODEL_VERSION", "value": version},
               {"name": "TRACTOR_SERVE_MODEL", "value": model(dir, version)}]}]}})
}

impl Situation {
    fn current(&self) -> i64 {
        self.versions.len() as i64
    }

    fn kube(&self, dir: &Path) -> (Deployment, Vec<ReplicaSet>) {
        let cur = self.versions[self.versions.len() - 1];
        let d = serde_json::from_value(json!({
            "metadata": {"name": NAME, "namespace": "local", "uid": "d-uid",
                "annotations": {"deployment.kubernetes.io/revision": self.current().to_string()}},
            "spec": {"replicas": self.replicas, "paused": self.paused,
                "selector": {"matchLabels": {"app": NAME}}, "template": template(dir, cur, None)}
        }))
        .unwrap();
        let rss = (1..)
            .zip(&self.versions)
            .map(|(n, v)| {
                serde_json::from_value(json!({
                    "metadata": {"name": format!("{NAME}-{n}"), "namespace": "local",
                        "annotations": {"deployment.kubernetes.io/revision": n.to_string()},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                            "name": NAME, "uid": "d-uid", "controller": true}]},
                    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": NAME}},
                        "template": template(dir, v, Some(&format!("h{n}")))}
                }))
                .unwrap()
            })
            .collect();
        (d, rss)
    }

    fn local(&self, dir: &Path) -> Spec {
        Spec {
            name: NAME.into(),
            model_name: "demo".into(),
            replicas: self.replicas,
            revisions: (1..)
                .zip(&self.versions)
                .map(|(n, v)| spec::Revision {
                    number: n,
                    model: model(dir, v).into(),
                    version: v.to_string(),
                    args: vec![],
                    change_cause: format!("set model {v}"),
                    created: String::new(),
                    restarted_at: None,
                })
                .collect(),
            current: self.current(),
            paused: self.paused,
            max_surge: 1,
            max_unavailable: 0,
            autoscale: None,
            model_pattern: Some(dir.join("{version}.onnx").display().to_string()),
            canary: None,
        }
    }
}

/// What a backend answers a preview with, as comparable text.
#[derive(Debug, PartialEq)]
enum Answer {
    Write(Action),
    Skip(String),
    Refused(String),
}

fn kube_answer(d: &Deployment, rss: &[ReplicaSet], a: &Action) -> Answer {
    let now: Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
    match plan::plan(&target(), d, rss, a, now) {
        Ok(Plan::Patch { resolved, .. }) => Answer::Write(resolved),
        Ok(Plan::Skip(m)) => Answer::Skip(m),
        Err(e) => Answer::Refused(e.to_string()),
    }
}

fn local_answer(spec: &Spec, a: &Action) -> Answer {
    match actions::prepare(spec, a.clone()) {
        EffectResult::Prepared { action, .. } => Answer::Write(action),
        EffectResult::Skipped { message, .. } => Answer::Skip(message),
        EffectResult::Failed { failure, .. } => Answer::Refused(failure.to_string()),
        other => panic!("{other:?}"),
    }
}

fn set_model(container: Option<&str>, version: &str, path: Option<String>) -> Action {
    Action::SetModel {
        container: container.map(String::from),
        version: version.into(),
        path,
    }
}

fn undo(to: Option<i64>) -> Action {
    Action::Undo { to_revision: to }
}

fn paused(verb: &'static str) -> Result<Decision, Refusal> {
    Err(Refusal::Paused {
        verb,
        name: NAME.into(),
    })
}

fn skip(s: Skip) -> Result<Decision, Refusal> {
    Ok(Decision::Skip(s))
}

#[test]
fn both_backends_decide_alike_with_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for v in ["v1", "v2", "v3"] {
        std::fs::write(model(d, v), b"x").unwrap();
    }
    let situation = |paused: bool, versions: Vec<&'static str>| Situation {
        paused,
        replicas: 2,
        versions,
    };
    let normal = situation(false, vec!["v1", "v2"]);
    let stopped = situation(true, vec!["v1", "v2"]);
    let single = situation(false, vec!["v1"]);
    let name = || NAME.to_string();
    let same_path = Some(model(d, "v2"));
    let rows: Vec<(&Situation, Action, Result<Decision, Refusal>)> = vec![
        (&normal, undo(None), Ok(Decision::Undo { to: 1 })),
        (&normal, undo(Some(0)), Ok(Decision::Undo { to: 1 })),
        (&normal, undo(Some(1)), Ok(Decision::Undo { to: 1 })),
        (&normal, undo(Some(2)), skip(Skip::Rollback { revision: 2 })),
        (&normal, undo(Some(9)), Err(Refusal::NoRevision(9))),
        (&stopped, undo(None), paused("roll back")),
        (&stopped, undo(Some(1)), paused("roll back")),
        (&single, undo(None), Err(Refusal::NoHistory(name()))),
        (&normal, Action::Restart, Ok(Decision::Restart)),
        (&stopped, Action::Restart, paused("restart")),
        (
            &normal,
            Action::Scale { replicas: 3 },
            Ok(Decision::Scale(3)),
        ),
        (
            &normal,
            Action::Scale { replicas: 0 },
            Ok(Decision::Scale(0)),
        ),
        (
            &normal,
            Action::Scale { replicas: 2 },
            skip(Skip::Replicas {
                name: name(),
                replicas: 2,
            }),
        ),
        (
            &normal,
            Action::Scale { replicas: -1 },
            Err(Refusal::BadReplicas(-1)),
        ),
        (
            &stopped,
            Action::Scale { replicas: -3 },
            Err(Refusal::BadReplicas(-3)),
        ),
        (&normal, Action::Pause, Ok(Decision::Pause)),
        (
            &stopped,
            Action::Pause,
            skip(Skip::Paused {
                name: name(),
                paused: true,
            }),
        ),
        (&stopped, Action::Resume, Ok(Decision::Resume)),
        (
            &normal,
            Action::Resume,
            skip(Skip::Paused {
                name: name(),
                paused: false,
            }),
        ),
        (
            &normal,
            set_model(None, "v3", None),
            Ok(Decision::SetModel {
                container: "server".into(),
                version: "v3".into(),
                path: None,
            }),
        ),
        (
            &normal,
            set_model(None, "v2", None),
            skip(Skip::Model {
                name: name(),
                version: "v2".into(),
            }),
        ),
        (
            &normal,
            set_model(Some("server"), "v2", same_path),
            skip(Skip::Model {
                name: name(),
                version: "v2".into(),
            }),
        ),
        (
            &normal,
            set_model(None, " ", None),
            Err(Refusal::Empty("model version")),
        ),
        (
            &normal,
            set_model(Some("nope"), "v3", None),
            Err(Refusal::NoContainer {
                name: name(),
                container: "nope".into(),
                names: "server".into(),
            }),
        ),
    ];
    for (situation, action, want) in rows {
        let (dep, rss) = situation.kube(d);
        let spec = situation.local(d);
        let kube = decide(&plan::facts(&target(), &dep, &rss), &action);
        let local = decide(&actions::facts(&spec).unwrap(), &action);
        assert_eq!(kube, want, "kubernetes: {action:?}");
        assert_eq!(local, want, "local: {action:?}");
        // and through each backend's own preview: the same answer, word for word
        let answer = kube_answer(&dep, &rss, &action);
        assert_eq!(answer, local_answer(&spec, &action), "{action:?}");
        let expected = match &want {
            Ok(Decision::Skip(s)) => Answer::Skip(s.to_string()),
            Ok(decision) => Answer::Write(decision.resolved(&action)),
            Err(r) => Answer::Refused(r.to_string()),
        };
        assert_eq!(answer, expected, "{action:?}");
    }
}

#[test]
fn images_only_where_there_are_images() {
    let dir = tempfile::tempdir().unwrap();
    let normal = Situation {
        paused: false,
        replicas: 2,
        versions: vec!["v1", "v2"],
    };
    let (dep, rss) = normal.kube(dir.path());
    let kube = plan::facts(&target(), &dep, &rss);
    let local = actions::facts(&normal.local(dir.path())).unwrap();
    let image = |c: Option<&str>, i: &str| Action::SetImage {
        container: c.map(String::from),
        image: i.into(),
    };
    assert_eq!(
        decide(&kube, &image(None, "tractor-serve:2")),
        Ok(Decision::SetImage {
            container: "server".into(),
            image: "tractor-serve:2".into()
        })
    );
    assert_eq!(
        decide(&kube, &image(None, "tractor-serve:1")).map(|d| match d {
            Decision::Skip(s) => s.to_string(),
            other => format!("{other:?}"),
        }),
        Ok("deploy/classifier container server already runs tractor-serve:1".into())
    );
    assert_eq!(
        decide(&kube, &image(None, "")),
        Err(Refusal::Empty("image"))
    );
    // the local backend runs a binary: refused, whatever the image
    for a in [
        image(None, "x:1"),
        image(None, ""),
        image(Some("server"), "x"),
    ] {
        assert_eq!(decide(&local, &a), Err(Refusal::NoImage));
    }
}

#[test]
fn containers_by_name() {
    let c = |n: &str| Container {
        name: n.into(),
        image: Some("i:1".into()),
        ..Default::default()
    };
    let facts = Facts {
        name: "web".into(),
        images: true,
        containers: vec![c("server"), c("proxy")],
        ..Default::default()
    };
    let a = |c: Option<&str>| Action::SetImage {
        container: c.map(String::from),
        image: "i:2".into(),
    };
    let e = decide(&facts, &a(None)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "deploy/web has containers server, proxy: name one (CONTAINER=IMAGE or --container)"
    );
    assert!(matches!(
        decide(&facts, &a(Some("proxy"))),
        Ok(Decision::SetImage { container, .. }) if container == "proxy"
    ));
    let none = Facts {
        containers: vec![],
        ..facts
    };
    assert_eq!(
        decide(&none, &a(Some("x"))).unwrap_err().to_string(),
        "deploy/web has no container named \"x\" (it has none)"
    );
}
