//! End-to-end: the console against a real control plane (etcd, kube-apiserver,
//! controller-manager, scheduler, kwok) on 127.0.0.1, started by scripts/dev-cluster.
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::tractor_cmd;
use support::cluster::{Namespace, client_for, cluster, eventually, record_timing};
use support::console::Console;
use support::pod_runner::PodRunner;
use support::traffic::Traffic;
use tractor::action::{Action, Target};
use tractor::audit::AuditLog;
use tractor::event::{EffectResult, SourceStatus};
use tractor::k8s::runner::Runner;
use tractor::model::deployment::{RolloutState, model_version, rollout_status};
use tractor::model::{CHANGE_CAUSE_ANNOTATION, annotation, revision};
use tractor::state::rows;

const MANIFEST: &str = include_str!("e2e/classifier.yaml");
const T: Duration = Duration::from_secs(60);

fn target(ns: &str) -> Target {
    Target {
        namespace: ns.into(),
        name: "classifier".into(),
    }
}

fn runner(client: kube::Client, audit: &Path) -> Runner {
    Runner {
        client,
        context: "e2e".into(),
        user: "e2e".into(),
        audit: AuditLog::new(audit),
        read_only: false,
        container: None,
        observe_timeout: Duration::from_secs(10),
    }
}

/// Preview then write, as the TUI does after `y`.
async fn act(r: &Runner, t: &Target, a: Action) -> EffectResult {
    let resolved = match r.prepare(t, a).await {
        EffectResult::Prepared { action, .. } => action,
        other => return other,
    };
    r.execute(t, resolved).await
}

/// (revision, model version, change-cause) of each ReplicaSet, oldest first, as the console shows them.
fn history(c: &Console, ns: &str) -> Vec<(i64, String, String)> {
    c.with(|s| {
        let Some(d) = rows::detail(s, &(ns.to_string(), "classifier".to_string())) else {
            return vec![];
        };
        let mut v: Vec<_> = d
            .revisions
            .iter()
            .map(|rs| {
                (
                    revision(&rs.metadata).unwrap_or(0),
                    model_version(rs.spec.as_ref().and_then(|s| s.template.as_ref()))
                        .unwrap_or("-")
                        .to_string(),
                    annotation(&rs.metadata, CHANGE_CAUSE_ANNOTATION)
                        .unwrap_or("-")
                        .to_string(),
                )
            })
            .collect();
        v.reverse();
        v
    })
}

/// The deployment's (state, revision, model version) in the console.
fn rollout(c: &Console, ns: &str) -> Option<(RolloutState, i64, String)> {
    c.with(|s| {
        let d = s
            .cluster
            .deployments
            .get(&(ns.to_string(), "classifier".to_string()))?;
        Some((
            rollout_status(d).state,
            revision(&d.metadata).unwrap_or(0),
            model_version(d.spec.as_ref().map(|s| &s.template))
                .unwrap_or("-")
                .to_string(),
        ))
    })
}

async fn wait_complete(c: &Console, ns: &str, rev: i64, version: &str) {
    eventually(
        T,
        &format!("rollout of revision {rev} ({version}) complete in the console"),
        || {
            (rollout(c, ns) == Some((RolloutState::Complete, rev, version.to_string())))
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn manifests_show_deployment_replicaset_and_ready_pods() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-watch");
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![ns.name.clone()]), None);
    k.kubectl_stdin(&["apply", "-n", &ns.name, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &ns.name, 1, "v1").await;
    eventually(T, "one ReplicaSet and two Ready pods", || {
        console.with(|s| {
            let d = rows::detail(s, &(ns.name.clone(), "classifier".into()))?;
            let ready = d
                .pods
                .iter()
                .filter(|(p, rev)| *rev == Some(1) && tractor::model::pod::health(p).ready == 1)
                .count();
            (d.revisions.len() == 1 && ready == 2).then_some(())
        })
    })
    .await;
    let screen = console.screen();
    assert!(
        screen.contains("classifier") && screen.contains("complete") && screen.contains("2/2"),
        "{screen}"
    );
    // every watch is live
    console.with(|s| {
        assert!(
            s.sources.values().all(|v| *v == SourceStatus::Live),
            "{:?}",
            s.sources
        )
    });
    record_timing(
        "manifests_show_deployment_replicaset_and_ready_pods",
        started,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn set_model_rolls_out_revision_two_served_by_real_servers() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-model");
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![ns.name.clone()]), None);
    let runner_pods = PodRunner::start(&client, &ns.name);
    k.kubectl_stdin(&["apply", "-n", &ns.name, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &ns.name, 1, "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    let res = act(
        &r,
        &target(&ns.name),
        Action::SetModel {
            container: None,
            version: "v2".into(),
            path: None,
        },
    )
    .await;
    let EffectResult::Done {
        revision_before,
        revision_after,
        ..
    } = res
    else {
        panic!("{res:?}")
    };
    assert_eq!((revision_before, revision_after), (Some(1), Some(2)));
    wait_complete(&console, &ns.name, 2, "v2").await;
    eventually(T, "history with both revisions", || {
        let h = history(&console, &ns.name);
        (h == [
            (1, "v1".into(), "initial deploy of model v1".into()),
            (
                2,
                "v2".into(),
                format!("tractor set model deploy/classifier -n {} v2", ns.name),
            ),
        ])
        .then_some(())
    })
    .await;
    // the pods of revision 2 are real servers answering as model version v2
    let served = eventually(T, "two v2 servers", || {
        let s = runner_pods.served();
        let v2: Vec<_> = s.values().filter(|x| x.version == "v2").cloned().collect();
        (v2.len() == 2).then_some(v2)
    })
    .await;
    for s in served {
        let body = support::http::eventually_get(&s.ip, s.port, "/metrics", T).await;
        assert!(
            body.contains("tractor_model_info{model=\"demo-classifier\",version=\"v2\""),
            "{body}"
        );
    }
    record_timing(
        "set_model_rolls_out_revision_two_served_by_real_servers",
        started,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_previous_chosen_and_mid_rollout() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-undo");
    let n = ns.name.clone();
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &n, 1, "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    let t = target(&n);
    let set = |v: &str| Action::SetModel {
        container: None,
        version: v.into(),
        path: None,
    };

    assert!(matches!(
        act(&r, &t, set("v2")).await,
        EffectResult::Done { .. }
    ));
    wait_complete(&console, &n, 2, "v2").await;
    // undo → revision 3 carries revision 1's template and change-cause
    let res = act(&r, &t, Action::Undo { to_revision: None }).await;
    let EffectResult::Done {
        action,
        revision_after,
        ..
    } = res
    else {
        panic!("{res:?}")
    };
    assert_eq!(
        action,
        Action::Undo {
            to_revision: Some(1)
        }
    );
    assert_eq!(revision_after, Some(3));
    wait_complete(&console, &n, 3, "v1").await;
    eventually(T, "revision 1 became 3", || {
        let h = history(&console, &n);
        (h.len() == 2 && h[1] == (3, "v1".into(), "initial deploy of model v1".into()))
            .then_some(())
    })
    .await;
    // undoing to the current template is skipped
    let res = act(
        &r,
        &t,
        Action::Undo {
            to_revision: Some(3),
        },
    )
    .await;
    assert!(matches!(res, EffectResult::Skipped { .. }), "{res:?}");

    // --to-revision
    assert!(matches!(
        act(&r, &t, set("v3")).await,
        EffectResult::Done { .. }
    ));
    wait_complete(&console, &n, 4, "v3").await;
    let res = act(
        &r,
        &t,
        Action::Undo {
            to_revision: Some(2),
        },
    )
    .await;
    assert!(
        matches!(
            res,
            EffectResult::Done {
                revision_after: Some(5),
                ..
            }
        ),
        "{res:?}"
    );
    wait_complete(&console, &n, 5, "v2").await;

    // mid-rollout: a bad release (v4, whose pods can be scheduled nowhere) holds revision 6
    // with two live ReplicaSets, the case where the on-call engineer needs undo most.
    k.kubectl(&[
        "-n",
        &n,
        "patch",
        "deployment",
        "classifier",
        "-p",
        r#"{"metadata":{"annotations":{"kubernetes.io/change-cause":"bad release v4"}},"spec":{"template":{"metadata":{"labels":{"tractor.dev/model-version":"v4"}},"spec":{"nodeSelector":{"tractor.dev/nowhere":"true"}}}}}"#,
    ]);
    eventually(
        T,
        "revision 6 in progress with two live ReplicaSets",
        || {
            console.with(|s| {
                let d = rows::detail(s, &(n.clone(), "classifier".into()))?;
                let live = d
                    .revisions
                    .iter()
                    .filter(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) > 0)
                    .count();
                let st = rollout_status(d.deployment).state;
                (live == 2
                    && st == RolloutState::Progressing
                    && revision(&d.deployment.metadata) == Some(6))
                .then_some(())
            })
        },
    )
    .await;
    let prepared = r.prepare(&t, Action::Undo { to_revision: None }).await;
    let EffectResult::Prepared {
        action,
        notes,
        changes,
        ..
    } = prepared
    else {
        panic!("{prepared:?}")
    };
    assert_eq!(
        action,
        Action::Undo {
            to_revision: Some(5)
        }
    );
    assert!(
        notes
            .iter()
            .any(|x| x.starts_with("mid-rollout: 2 ReplicaSets have pods")),
        "{notes:?}"
    );
    assert!(
        changes.iter().any(|c| c.after.as_deref() == Some("v2")),
        "{changes:?}"
    );
    let res = r.execute(&t, action).await;
    assert!(
        matches!(
            res,
            EffectResult::Done {
                revision_after: Some(7),
                ..
            }
        ),
        "{res:?}"
    );
    wait_complete(&console, &n, 7, "v2").await;
    // the template was replaced whole: the bad release's nodeSelector is gone
    let sel = k.kubectl(&[
        "-n",
        &n,
        "get",
        "deployment",
        "classifier",
        "-o",
        "jsonpath={.spec.template.spec.nodeSelector}",
    ]);
    assert_eq!(sel.trim(), "", "nodeSelector survived the undo");
    eventually(T, "the v4 ReplicaSet scaled to zero", || {
        console.with(|s| {
            let d = rows::detail(s, &(n.clone(), "classifier".into()))?;
            let live: Vec<_> = d
                .revisions
                .iter()
                .filter(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) > 0)
                .map(|rs| revision(&rs.metadata))
                .collect();
            (live == [Some(7)]).then_some(())
        })
    })
    .await;
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let undos: Vec<_> = lines
        .iter()
        .filter(|l| l["action"] == "undo")
        .map(|l| (l["revision_before"].clone(), l["revision_after"].clone()))
        .collect();
    assert_eq!(
        undos,
        [
            (2.into(), 3.into()),
            (4.into(), 5.into()),
            (6.into(), 7.into())
        ]
    );
    record_timing("undo_previous_chosen_and_mid_rollout", started);
}

/// The console's viewer Role as shipped (serving/deploy/k8s/rbac), bound to a user.
fn apply_viewer_role(k: &support::cluster::Cluster, ns: &str) {
    let rbac = concat!(env!("CARGO_MANIFEST_DIR"), "/serving/deploy/k8s/rbac");
    k.kubectl(&["apply", "-n", ns, "-k", rbac]);
    k.kubectl(&[
        "create",
        "rolebinding",
        "tractor-viewer",
        "-n",
        ns,
        "--role",
        "tractor-viewer",
        "--user",
        "tractor-viewer",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn viewer_sees_everything_and_cannot_write() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-rbac");
    let n = ns.name.clone();
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    apply_viewer_role(k, &n);
    let viewer_kc = k.user_kubeconfig("tractor-viewer");
    let viewer = client_for(&viewer_kc).await;

    // every view's source is live for the viewer in its namespace
    let console = Console::start(&viewer, Some(vec![n.clone()]), None);
    wait_complete(&console, &n, 1, "v1").await;
    eventually(T, "all five watches live for the viewer", || {
        console.with(|s| {
            (s.sources.len() == 5 && s.sources.values().all(|v| *v == SourceStatus::Live))
                .then_some(())
        })
    })
    .await;
    eventually(T, "pods and events visible", || {
        console.with(|s| (s.cluster.pods.len() == 2 && !s.cluster.events.is_empty()).then_some(()))
    })
    .await;
    // pods/proxy is granted: the API server gets past authorization and refuses only the
    // loopback address (Forbidden would come first)
    let pod = console.with(|s| s.cluster.pods.keys().next().map(|k| k.1.clone()).unwrap());
    let raw = format!("/api/v1/namespaces/{n}/pods/{pod}:8080/proxy/metrics");
    let (_, _, err) = k.kubectl_as(&viewer_kc, &["get", "--raw", &raw]);
    assert!(
        err.contains("address not allowed") && !err.contains("orbidden"),
        "{err}"
    );
    drop(console);

    // all namespaces are refused: the console says so and falls back to the viewer's namespace
    let console = Console::start(&viewer, None, Some(&n));
    eventually(T, "fallback to the namespace", || {
        console.with(|s| {
            let forbidden = s.sources.iter().any(|(src, st)| {
                src.namespace.is_none() && matches!(st, SourceStatus::Forbidden(_))
            });
            (forbidden && s.cluster.deployments.len() == 1).then_some(())
        })
    })
    .await;
    assert!(
        console
            .screen()
            .lines()
            .next()
            .unwrap()
            .contains("no access: list"),
        "{}",
        console.screen()
    );
    drop(console);

    // every write is refused by RBAC with a clear message, and audited
    let dir = tempfile::tempdir().unwrap();
    let r = Runner {
        user: "tractor-viewer".into(),
        ..runner(viewer.clone(), &dir.path().join("audit.jsonl"))
    };
    for a in [
        Action::Restart,
        Action::Scale { replicas: 3 },
        Action::Pause,
        Action::SetModel {
            container: None,
            version: "v2".into(),
            path: None,
        },
        Action::SetImage {
            container: None,
            image: "x:2".into(),
        },
        Action::Undo { to_revision: None },
    ] {
        let res = r.prepare(&target(&n), a.clone()).await;
        let msg = match &res {
            EffectResult::Failed { failure, .. } => failure.to_string(),
            // undo with a single revision has no history to go back to: not a write
            EffectResult::Skipped { message, .. } => message.clone(),
            other => panic!("{a:?}: {other:?}"),
        };
        if !matches!(a, Action::Undo { .. }) {
            assert!(
                msg.starts_with(&format!("forbidden: user \"tractor-viewer\" may not patch deployments.apps in namespace \"{n}\"")),
                "{a:?}: {msg}"
            );
        }
        let res = r.execute(&target(&n), a.clone()).await;
        assert!(matches!(res, EffectResult::Failed { .. }), "{a:?}: {res:?}");
    }
    // the subcommand: exit 5 and the message; read-only refuses before any request: exit 4
    let out = tractor_cmd(
        &viewer_kc,
        &["rollout", "restart", "deploy/classifier", "-n", &n, "--yes"],
        dir.path(),
    );
    assert_eq!(out.0, 5, "{out:?}");
    assert!(out.2.contains("forbidden: user"), "{out:?}");
    let out = tractor_cmd(
        &k.kubeconfig,
        &[
            "--read-only",
            "rollout",
            "restart",
            "deploy/classifier",
            "-n",
            &n,
            "--yes",
        ],
        dir.path(),
    );
    assert_eq!(out.0, 4, "{out:?}");
    assert!(out.2.contains("read-only: restart refused"), "{out:?}");
    record_timing("viewer_sees_everything_and_cannot_write", started);
}

/// Runs the tractor binary: (exit code, stdout, stderr).

#[tokio::test(flavor = "multi_thread")]
async fn subcommands_exit_codes_and_json() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-cli");
    let n = ns.name.clone();
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    let dir = tempfile::tempdir().unwrap();
    let kc = &k.kubeconfig;
    let d = dir.path();

    let (code, out, err) = tractor_cmd(
        kc,
        &[
            "rollout",
            "status",
            "deploy/classifier",
            "-n",
            &n,
            "--timeout",
            "60s",
        ],
        d,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("successfully rolled out"), "{out}");

    let (code, out, err) = tractor_cmd(
        kc,
        &[
            "set",
            "model",
            "deploy/classifier",
            "v2",
            "-n",
            &n,
            "--yes",
            "-o",
            "json",
        ],
        d,
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["result"], "done");
    assert_eq!(
        (v["revision_before"].as_i64(), v["revision_after"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(v["rollout"]["state"], "complete");
    assert!(
        err.contains("+ metadata.labels.tractor.dev/model-version: v2"),
        "preview on stderr: {err}"
    );

    let (code, out, _) = tractor_cmd(
        kc,
        &[
            "rollout",
            "history",
            "deploy/classifier",
            "-n",
            &n,
            "-o",
            "json",
        ],
        d,
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let revs: Vec<(i64, String)> = v["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap(),
                r["model_version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(revs, [(1, "v1".to_string()), (2, "v2".to_string())]);

    let (code, out, _) = tractor_cmd(
        kc,
        &[
            "rollout",
            "status",
            "deploy/classifier",
            "-n",
            &n,
            "--no-watch",
            "-o",
            "json",
        ],
        d,
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            v["state"].as_str(),
            v["revision"].as_i64(),
            v["model_version"].as_str()
        ),
        (Some("complete"), Some(2), Some("v2"))
    );

    // skipped is success
    let (code, out, _) = tractor_cmd(
        kc,
        &[
            "set",
            "model",
            "deploy/classifier",
            "v2",
            "-n",
            &n,
            "--yes",
            "-o",
            "json",
        ],
        d,
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["result"],
        "skipped"
    );
    // failures
    let (code, _, err) = tractor_cmd(
        kc,
        &[
            "rollout",
            "undo",
            "deploy/classifier",
            "-n",
            &n,
            "--to-revision",
            "99",
            "--yes",
        ],
        d,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("unable to find specified revision 99"),
        "{err}"
    );
    let (code, _, err) = tractor_cmd(
        kc,
        &[
            "rollout",
            "status",
            "deploy/missing",
            "-n",
            &n,
            "--timeout",
            "20s",
        ],
        d,
    );
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = tractor_cmd(kc, &["rollout", "restart", "statefulset/x", "-n", &n], d);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = tractor_cmd(
        kc,
        &["scale", "deploy/classifier", "-n", &n, "--replicas", "3"],
        d,
    );
    assert_eq!(code, 4, "no terminal and no --yes: {err}");
    // a rollout that cannot finish in time: exit 3
    k.kubectl(&[
        "-n",
        &n,
        "patch",
        "deployment",
        "classifier",
        "-p",
        r#"{"spec":{"minReadySeconds":300}}"#,
    ]);
    let (code, _, err) = tractor_cmd(
        kc,
        &[
            "set",
            "model",
            "deploy/classifier",
            "v3",
            "-n",
            &n,
            "--yes",
            "--timeout",
            "3s",
        ],
        d,
    );
    assert_eq!(code, 3, "{err}");
    // paused: undo refused, status says paused (exit 1)
    let (code, _, err) = tractor_cmd(
        kc,
        &["rollout", "pause", "deploy/classifier", "-n", &n, "--yes"],
        d,
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tractor_cmd(
        kc,
        &["rollout", "undo", "deploy/classifier", "-n", &n, "--yes"],
        d,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("you cannot roll back a paused deployment"),
        "{err}"
    );
    let (code, out, _) = tractor_cmd(kc, &["rollout", "status", "deploy/classifier", "-n", &n], d);
    assert_eq!(code, 1);
    assert!(out.contains("is paused"), "{out}");
    record_timing("subcommands_exit_codes_and_json", started);
}

const HPA: &str = r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: classifier}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: classifier}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0}
    scaleDown: {stabilizationWindowSeconds: 0}
"#;

/// (current, desired, cpu current text) of the autoscaler as the console has it.
fn hpa_now(c: &Console, ns: &str) -> Option<(i32, i32, String)> {
    c.with(|s| {
        let h = s
            .cluster
            .hpas
            .get(&(ns.to_string(), "classifier".to_string()))?;
        let (_, _, cur, desired) = tractor::model::hpa::replicas(h);
        let rows = tractor::model::hpa::metric_rows(h);
        Some((cur, desired, rows.first()?.current.clone()))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn hpa_scales_up_and_down_and_the_console_agrees() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-hpa");
    let n = ns.name.clone();
    // kwok reports each pod's CPU from this annotation: 150m of a 100m request is 150 %
    let busy = MANIFEST.replace(
        "labels: {app: classifier, tractor.dev/model-version: v1}",
        "labels: {app: classifier, tractor.dev/model-version: v1}\n      annotations: {kwok.x-k8s.io/usage-cpu: 150m}",
    );
    assert_ne!(busy, MANIFEST);
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(&busy));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(HPA));
    // ~50 s each way alone; once, under the other e2e tests in CI, scaling up took over 180 s
    let long = Duration::from_secs(300);

    // up: ceil(2 × 150/50) = 6, capped at maxReplicas 4
    eventually(long, "the HPA controller scales to 4", || {
        hpa_now(&console, &n)
            .filter(|(cur, des, _)| (*cur, *des) == (4, 4))
            .map(|_| ())
    })
    .await;
    // the console's numbers are the API's
    let api: Value =
        serde_json::from_str(&k.kubectl(&["-n", &n, "get", "hpa", "classifier", "-o", "json"]))
            .unwrap();
    let api_util = api["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
        .as_i64()
        .unwrap();
    eventually(T, "the console shows the API's utilization", || {
        let (_, _, text) = hpa_now(&console, &n)?;
        (text == format!("{api_util}%")).then_some(())
    })
    .await;
    // the explainer reaches the controller's answer with the same numbers
    console.with(|s| {
        let key = (n.clone(), "classifier".to_string());
        let h = &s.cluster.hpas[&key];
        let (input, e) = tractor::ui::hpas::explain(s, h, &key, s.hpa_history.get(&key));
        assert_eq!(input.current_replicas, 4);
        assert_eq!(input.metrics[0].current, api_util as f64);
        assert_eq!(e.desired, 4, "{e:?}");
        assert!(e.bounds.contains("maxReplicas 4"), "{e:?}");
    });

    // down: 10m of 100m is 10 %: ceil(4 × 0.1) = 1 (new pods roll out with the new usage)
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(&busy.replace("usage-cpu: 150m", "usage-cpu: 10m")),
    );
    eventually(long, "the HPA controller scales down to 1", || {
        hpa_now(&console, &n)
            .filter(|(cur, des, _)| (*cur, *des) == (1, 1))
            .map(|_| ())
    })
    .await;
    // the session's replica history went up to 4 and back to 1, and ends at the API's count
    console.with(|s| {
        let hist = &s.hpa_history[&(n.clone(), "classifier".to_string())];
        let currents: Vec<i32> = hist.iter().map(|p| p.current).collect();
        let up = currents
            .iter()
            .position(|c| *c == 4)
            .expect("4 in the history");
        assert!(currents[up..].contains(&1), "{currents:?}");
        assert_eq!(currents.last(), Some(&1), "{currents:?}");
    });
    let api_cur = k.kubectl(&[
        "-n",
        &n,
        "get",
        "hpa",
        "classifier",
        "-o",
        "jsonpath={.status.currentReplicas}",
    ]);
    assert_eq!(api_cur.trim(), "1");
    record_timing("hpa_scales_up_and_down_and_the_console_agrees", started);
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_per_revision_from_scrapes_and_pod_proxy_refusal() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-latency");
    let n = ns.name.clone();
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    let pods = std::sync::Arc::new(PodRunner::start(&client, &n));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &n, 1, "v1").await;

    // steady traffic to whatever servers run, bounded in time and count, loopback only
    let traffic = Traffic::start(pods.clone());
    let r1 = eventually(T, "revision 1's latency scraped from the pods", || {
        console.served_latency(&n, "classifier", 1, "v1")
    })
    .await;

    // Through the API server's pod proxy the same pods are refused: the API server does not
    // proxy to loopback addresses. The target records that error; nothing crashes.
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
    let proxy = tractor::scrape::source::Settings {
        via: tractor::scrape::source::Via::Proxy,
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(2),
        concurrency: 2,
    };
    let tasks =
        tractor::scrape::source::spawn(&client, Some(std::slice::from_ref(&n)), proxy, &ptx);
    let refused = tokio::time::timeout(T, async {
        loop {
            if let Some(tractor::event::AppEvent::Scrape(r)) = prx.recv().await
                && let Err(e) = r.result
            {
                return e;
            }
        }
    })
    .await
    .expect("a proxied scrape result");
    assert!(refused.contains("address not allowed"), "{refused}");
    for t in tasks {
        t.abort();
    }
    assert!(r1.rps.unwrap_or(0.0) > 0.0, "{r1:?}");
    // revision 1 on the monitor's timeline, before the rollout replaces its pods
    let key = (n.clone(), "classifier".to_string());
    let has_latency = |s: &tractor::state::State, label: &str| {
        s.timelines.get(&Some(key.clone())).is_some_and(|tl| {
            tl.samples.iter().any(|sm| {
                sm.groups
                    .iter()
                    .any(|g| g.label == label && g.p99.is_some())
            })
        })
    };
    eventually(T, "revision 1 sampled on the monitor's timeline", || {
        console.with(|s| has_latency(s, "r1 v1").then_some(()))
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    let res = act(
        &r,
        &target(&n),
        Action::SetModel {
            container: None,
            version: "v2".into(),
            path: None,
        },
    )
    .await;
    assert!(
        matches!(
            res,
            EffectResult::Done {
                revision_after: Some(2),
                ..
            }
        ),
        "{res:?}"
    );
    let r2 = eventually(T, "revision 2's latency, served as v2", || {
        console.served_latency(&n, "classifier", 2, "v2")
    })
    .await;
    // the monitor's timeline: revision 2's latency sampled over time beside revision 1's,
    // and a marker where the rollout happened
    eventually(T, "revision 2 sampled on the monitor's timeline", || {
        console.with(|s| has_latency(s, "r2 v2").then_some(()))
    })
    .await;
    let marks: Vec<String> = console.with(|s| {
        s.timelines[&Some(key.clone())]
            .markers
            .iter()
            .map(|m| m.text.clone())
            .collect()
    });
    assert!(
        marks.iter().any(|m| m == "rollout → rev 2 (v2)"),
        "{marks:?}"
    );
    assert!(traffic.stop().await > 0);
    let monitor = console.with(|s| {
        let mut s2 =
            tractor::state::State::new(s.config.clone(), "e2e".into(), "e2e".into(), s.now);
        s2.cluster = s.cluster.clone();
        s2.scrapes = s.scrapes.clone();
        s2.timelines = s.timelines.clone();
        s2.view = tractor::state::View::Monitor(Some(key.clone()));
        support::render(&s2, 160, 48)
    });
    for want in [
        "monitor deploy/classifier",
        "r2 v2",
        "rollout → rev 2 (v2)",
        "Pods (scraped)",
    ] {
        assert!(monitor.contains(want), "{want:?} missing:\n{monitor}");
    }
    // what the detail view shows
    let screen = console.with(|s| {
        let mut s2 =
            tractor::state::State::new(s.config.clone(), "e2e".into(), "e2e".into(), s.now);
        s2.cluster = s.cluster.clone();
        s2.scrapes = s.scrapes.clone();
        s2.view = tractor::state::View::Detail((n.clone(), "classifier".into()));
        support::render(&s2, 160, 48)
    });
    assert!(screen.contains("Latency per revision"), "{screen}");
    eprintln!("revision 1: {r1:?}\nrevision 2: {r2:?}");
    record_timing(
        "latency_per_revision_from_scrapes_and_pod_proxy_refusal",
        started,
    );
}
