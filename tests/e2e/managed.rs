//! End-to-end: a Deployment installed by the real `helm install` on the control plane is
//! marked as Helm's in the console's list and detail view, and every write's preview (the
//! runner's, which the console and the subcommands show) says that Helm will put its own
//! template back and how to roll the release back instead, with the release's revisions
//! (read from Helm's Secrets; an operator who may not list Secrets is told so).
use super::common::*;
use crate::support;
use std::time::Instant;

use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::console::Console;
use tractor::action::{Action, Target};
use tractor::event::EffectResult;
use tractor::k8s::runner::Runner;

#[tokio::test(flavor = "multi_thread")]
async fn a_helm_release_is_marked_and_every_write_preview_says_helm_will_revert_it() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-managed");
    let n = ns.name.clone();
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/serving/deploy/chart");
    k.helm(&["install", "web", chart, "-n", &n]);
    // a second revision, so the preview has a revision to go back to
    k.helm(&["upgrade", "web", chart, "-n", &n]);
    let name = eventually(T, "the release's Deployment", || {
        console.with(|s| {
            s.cluster
                .deployments
                .keys()
                .find(|d| d.0 == n)
                .map(|d| d.1.clone())
        })
    })
    .await;
    let key = (n.clone(), name.clone());
    let screen = console.screen();
    assert!(
        screen.contains("MANAGED") && screen.contains("helm:web"),
        "{screen}"
    );
    // Enter on the selected (only) deployment opens its detail view
    console.send(support::code(crossterm::event::KeyCode::Enter));
    let screen = console.screen();
    assert!(screen.contains(&format!("deploy/{}", key.1)), "{screen}");
    assert!(
        screen.contains("managed by Helm release web (namespace"),
        "{screen}"
    );

    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    let t = Target {
        namespace: n.clone(),
        name: name.clone(),
    };
    for a in [
        Action::SetModel {
            container: None,
            version: "v2".into(),
            path: None,
        },
        Action::Scale { replicas: 3 },
        Action::Restart,
    ] {
        match r.prepare(&t, a.clone()).await {
            EffectResult::Prepared { notes, .. } => {
                let text = notes.join("\n");
                assert!(
                    text.contains("managed by Helm release web")
                        && text.contains(&format!("helm rollback web REVISION -n {n}")),
                    "{a:?}: {text}"
                );
                // the release's revisions, read from Helm's Secrets' labels
                assert!(
                    text.contains(&format!(
                        "release web's revisions, newest first: 2 deployed · 1 superseded; back one: helm rollback web 1 -n {n}"
                    )),
                    "{a:?}: {text}"
                );
            }
            other => panic!("{a:?}: {other:?}"),
        }
    }
    // the shipped operator Role may not list Secrets: the preview says so, and how to look
    let rbac = concat!(env!("CARGO_MANIFEST_DIR"), "/serving/deploy/k8s/rbac");
    k.kubectl(&["apply", "-n", &n, "-k", rbac]);
    k.kubectl(&[
        "create",
        "rolebinding",
        "managed-op",
        "-n",
        &n,
        "--role",
        "tractor-operator",
        "--user",
        "managed-op",
    ]);
    let op = support::cluster::client_for(&k.user_kubeconfig("managed-op")).await;
    let as_op = Runner {
        user: "managed-op".into(),
        ..runner(op, &dir.path().join("audit-op.jsonl"))
    };
    match as_op.prepare(&t, Action::Scale { replicas: 3 }).await {
        EffectResult::Prepared { notes, .. } => {
            let text = notes.join("\n");
            assert!(
                text.contains(&format!(
                    "release web's revisions are not shown: this user may not list Secrets in {n}, where Helm keeps the release (helm history web -n {n})"
                )),
                "{text}"
            );
        }
        other => panic!("as the operator: {other:?}"),
    }
    // a canary's preview: its promotion would not last either
    let (code, _, err) = support::cli::tractor_cmd(
        &k.kubeconfig,
        &[
            "rollout",
            "canary",
            &format!("deploy/{name}"),
            "-n",
            &n,
            "--model",
            "v2",
            "--steps",
            "1",
            "--interval",
            "10s",
            "--compare",
            "--dry-run",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("promotion: managed by Helm release web"),
        "{err}"
    );
    record_timing(
        "a_helm_release_is_marked_and_every_write_preview_says_helm_will_revert_it",
        started,
    );
}
