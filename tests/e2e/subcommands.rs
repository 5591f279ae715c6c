//! End-to-end: the subcommands for scripts, their exit codes and JSON.
use super::common::*;
use crate::support;
use std::time::Instant;

use serde_json::Value;
use support::cli::tractor_cmd;
use support::cluster::{Namespace, cluster, record_timing};

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

/// Installed as `kubectl-tractor` on PATH, the real kubectl runs it as `kubectl tractor`
/// (kubectl's plugin convention), with the kubeconfig kubectl would use (`KUBECONFIG`).
#[test]
fn kubectl_runs_tractor_as_a_plugin() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-plugin");
    let n = ns.name.clone();
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_tractor"),
        dir.path().join("kubectl-tractor"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubectl = |args: &[&str]| {
        std::process::Command::new(k.bin.join("kubectl"))
            .args(args)
            .env("PATH", &path)
            .env("KUBECONFIG", &k.kubeconfig)
            .output()
            .unwrap()
    };
    let list = kubectl(&["plugin", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("kubectl-tractor"), "{listed}");
    let help = kubectl(&["tractor", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: kubectl tractor"), "{text}");
    let log = dir.path().join("tractor.log");
    let out = kubectl(&[
        "tractor",
        "--log-file",
        log.to_str().unwrap(),
        "rollout",
        "history",
        "deploy/classifier",
        "-n",
        &n,
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("REVISION"), "{stdout}");
    record_timing("kubectl_runs_tractor_as_a_plugin", started);
}
