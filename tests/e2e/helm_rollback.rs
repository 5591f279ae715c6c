//! End-to-end: `u` on a Deployment a Helm release manages, the real binary in tmux with the
//! real `helm` on PATH against the real control plane: the preview is the release's history
//! with the revision it goes back to, `y` runs `helm rollback`, the release has a new
//! revision "Rollback to 1", the Deployment's model is v1 again, and the audit log has it.
use super::common::*;
use crate::support;
use std::time::{Duration, Instant};

use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::tmux::Tmux;

const W: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn u_on_a_helm_release_runs_helm_rollback() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-helm-rollback");
    let n = ns.name.clone();
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/serving/deploy/chart");
    k.helm(&["install", "web", chart, "-n", &n]);
    k.helm(&[
        "upgrade",
        "web",
        chart,
        "-n",
        &n,
        "--set",
        "model.version=v2",
    ]);
    let model = || {
        k.kubectl(&[
            "get",
            "deploy",
            "-n",
            &n,
            "-o",
            "jsonpath={.items[0].spec.template.metadata.labels.tractor\\.dev/model-version}",
        ])
    };
    assert_eq!(model(), "v2");

    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let t = Tmux::start("helm-rollback");
    t.line(&format!(
        "PATH={}:$PATH {} --kubeconfig {} --audit-log {} --log-file {} -n {n}",
        k.bin.display(),
        env!("CARGO_BIN_EXE_tractor"),
        k.kubeconfig.display(),
        audit.display(),
        dir.path().join("tractor.log").display(),
    ));
    t.wait_for("helm:web", W);
    t.keys(&["u"]);
    let preview = t.wait_for("runs: helm rollback web 1", W);
    for want in ["superseded", "deployed", "→  1"] {
        assert!(preview.contains(want), "{want:?}:\n{preview}");
    }
    t.keys(&["y"]);
    t.wait_for("helm rollback web 1: Rollback was a success", W);
    let history = k.helm(&["history", "web", "-n", &n]);
    assert!(history.contains("Rollback to 1"), "{history}");
    eventually(T, "the Deployment back on v1", || {
        (model() == "v1").then_some(())
    })
    .await;
    let line = std::fs::read_to_string(&audit).unwrap();
    assert!(
        line.contains("\"action\":\"helm-rollback\"")
            && line.contains(&format!("helm rollback web 1 -n {n}"))
            && line.contains("\"result\":\"ok\""),
        "{line}"
    );
    t.keys(&["q"]);
    record_timing("u_on_a_helm_release_runs_helm_rollback", started);
}
