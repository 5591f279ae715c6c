//! End-to-end: the diagnosis on the real control plane, for what it produces itself — a
//! ResourceQuota the ReplicaSet controller runs into (FailedCreate), a request no node can
//! hold (the scheduler's Unschedulable) — and for what a kubelet would report, written into
//! a pod's status as a kubelet writes it (kwok runs no containers): a crash loop with its
//! exit code and last words (and, in the real binary's detail view, the last lines its
//! previous run printed), a missing Secret. The console's own watches feed the rules;
//! the list's HEALTH column and the detail view's panel say it.
use super::common::*;
use crate::support;
use std::time::Instant;

use serde_json::{Value, json};
use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::console::Console;
use support::kwok_logs::{ClusterLogs, append};
use support::tmux::Tmux;

fn deployment(name: &str, cpu: &str, extra_env: Value) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "server", "image": "tractor-serve:test",
                    "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}},
                    "env": extra_env}]}}}
    })
    .to_string()
}

/// The first finding's rule and text, once the console sees one for `name`.
async fn first_finding(console: &Console, n: &str, name: &str, rule: &str) -> String {
    let key = (n.to_string(), name.to_string());
    eventually(T, &format!("{rule} for {name}"), || {
        console.with(|s| {
            let found = tractor::state::diagnosis::of(s, &key);
            let f = found.first().filter(|f| f.rule == rule)?;
            Some(format!(
                "{} | {} | {} | {} | {}",
                f.subject,
                f.symptom,
                f.cause,
                f.action,
                f.evidence.join(" | ")
            ))
        })
    })
    .await
}

/// Writes `container` as the pod's one container status (as a kubelet would).
fn set_status(k: &support::cluster::Cluster, n: &str, app: &str, container: Value) -> String {
    let pod = k.kubectl(&[
        "get",
        "pods",
        "-n",
        n,
        "-l",
        &format!("app={app}"),
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let patch =
        json!({"status": {"phase": "Running", "containerStatuses": [container]}}).to_string();
    k.kubectl(&[
        "patch",
        "pod",
        &pod,
        "-n",
        n,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
    pod
}

#[tokio::test(flavor = "multi_thread")]
async fn the_diagnosis_names_quota_scheduling_crash_loops_and_missing_secrets() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-diagnose");
    let n = ns.name.clone();
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);

    // a quota of 1 CPU: the second pod of a 2 × 600m deployment is refused
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(
            &json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
            "spec": {"hard": {"requests.cpu": "1", "limits.cpu": "1"}}})
            .to_string(),
        ),
    );
    let quota = deployment("quota", "600m", json!([]));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(&quota));
    k.kubectl(&["scale", "deploy/quota", "-n", &n, "--replicas", "2"]);
    let text = first_finding(&console, &n, "quota", "FailedCreate").await;
    assert!(
        text.contains("exceeded quota: compute") && text.contains("raise the quota"),
        "{text}"
    );

    // more CPU than any node has: the real scheduler says so
    k.kubectl(&["delete", "resourcequota", "compute", "-n", &n]);
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(&deployment("huge", "100", json!([]))),
    );
    let text = first_finding(&console, &n, "huge", "Unschedulable").await;
    assert!(
        text.contains("Insufficient cpu") && text.contains("lower the pod's resource requests"),
        "{text}"
    );

    // a crash loop, as the kubelet reports it
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(&deployment("crashy", "100m", json!([]))),
    );
    eventually(T, "crashy's pod", || {
        console.with(|s| {
            s.cluster
                .pods
                .keys()
                .any(|p| p.0 == n && p.1.starts_with("crashy-"))
                .then_some(())
        })
    })
    .await;
    set_status(
        k,
        &n,
        "crashy",
        json!({"name": "server", "ready": false, "restartCount": 5,
        "image": "tractor-serve:test", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
            "message": "Error: cannot load /models/v9.onnx: no such file"}}}),
    );
    let text = first_finding(&console, &n, "crashy", "CrashLoopBackOff").await;
    assert!(
        text.contains("code 1 (Error)")
            && text.contains("no such file")
            && text.contains("--previous"),
        "{text}"
    );
    // the real binary's detail view reads what the crashed container printed before it
    // died (its previous run, which kwok serves from previousLogsFile) and shows the last
    // lines in the diagnosis
    let dir = tempfile::tempdir().unwrap();
    let (current, previous) = (dir.path().join("now.log"), dir.path().join("before.log"));
    append(&current, &["starting"]);
    append(
        &previous,
        &[
            "loading /models/v9.onnx",
            "Error: cannot load /models/v9.onnx: no such file",
            "exiting with code 1",
        ],
    );
    let _logs = ClusterLogs::apply(k, &n, &current, &previous);
    let t = Tmux::start("diagnose");
    t.line(&format!(
        "{} --kubeconfig {} --audit-log {} --log-file {} -n {n}",
        env!("CARGO_BIN_EXE_tractor"),
        k.kubeconfig.display(),
        dir.path().join("audit.jsonl").display(),
        dir.path().join("tractor.log").display(),
    ));
    t.wait_for("crashy", T);
    t.keys(&["/"]);
    t.line("crashy");
    t.keys(&["Enter"]);
    let screen = t.wait_for("log    exiting with code 1", T);
    assert!(
        screen.contains("log    Error: cannot load /models/v9.onnx: no such file"),
        "{screen}"
    );
    t.keys(&["q"]);

    // a Secret that is not there
    let env = json!([{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "model-creds", "key": "token"}}}]);
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(&deployment("secretive", "100m", env)),
    );
    eventually(T, "secretive's pod", || {
        console.with(|s| {
            s.cluster
                .pods
                .keys()
                .any(|p| p.0 == n && p.1.starts_with("secretive-"))
                .then_some(())
        })
    })
    .await;
    set_status(
        k,
        &n,
        "secretive",
        json!({"name": "server", "ready": false, "restartCount": 0,
        "image": "tractor-serve:test", "imageID": "",
        "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "secret \"model-creds\" not found"}}}),
    );
    let text = first_finding(&console, &n, "secretive", "CreateContainerConfigError").await;
    assert!(text.contains("create the Secret model-creds"), "{text}");

    // a Job of the same app that the real Job controller fails: it cannot be scheduled and
    // runs past its activeDeadlineSeconds
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(&deployment("migrated", "100m", json!([]))),
    );
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrated-migrate", "labels": {"app": "migrated"}},
        "spec": {"activeDeadlineSeconds": 2, "backoffLimit": 0,
            "template": {"metadata": {"labels": {"job": "migrate"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "migrate", "image": "tractor-serve:test",
                    "resources": {"requests": {"cpu": "100"}}}]}}}});
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(&job.to_string()));
    let text = first_finding(&console, &n, "migrated", "Job failed").await;
    assert!(
        text.contains("job/migrated-migrate")
            && text.contains("activeDeadlineSeconds (2s)")
            && text.contains("DeadlineExceeded"),
        "{text}"
    );

    // the list's HEALTH column, and the detail view's panel
    let screen = console.screen();
    for word in [
        "HEALTH",
        "FailedCreate",
        "Unschedulable",
        "CrashLoopBackOff",
        "CreateContainer",
        "Job failed",
    ] {
        assert!(screen.contains(word), "{word}:\n{screen}");
    }
    record_timing(
        "the_diagnosis_names_quota_scheduling_crash_loops_and_missing_secrets",
        started,
    );
}
