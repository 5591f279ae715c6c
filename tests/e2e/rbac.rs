//! End-to-end: the shipped viewer Role sees everything and can write nothing.
use super::common::*;
use crate::support;
use std::time::Instant;

use support::cli::tractor_cmd;
use support::cluster::{Namespace, client_for, cluster, eventually, record_timing};
use support::console::Console;
use tractor::action::Action;
use tractor::event::{EffectResult, SourceStatus};
use tractor::k8s::runner::Runner;

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
    eventually(T, "every watch (one per kind) live for the viewer", || {
        console.with(|s| {
            (s.sources.len() == tractor::event::Kind::ALL.len()
                && s.sources.values().all(|v| *v == SourceStatus::Live))
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
