//! End-to-end: `tractor rollout canary` on the real control plane, with the pod runner's real
//! servers and load on the pod IPs. A version as fast as the stable is promoted, a slower
//! one is rolled back by itself, a window without traffic is inconclusive and the canary
//! pauses, a console killed mid-canary is resumed by another, and the viewer and read-only
//! are refused. The traffic counts every request that got no 200.
use super::common::*;
use crate::support;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::tractor_cmd;
use support::cluster::{Cluster, Namespace, cluster, eventually, record_timing};
use support::pod_runner::PodRunner;
use support::traffic::Traffic;

/// The namespace's Roles, bound to `op` (tractor-operator) and `viewer` (tractor-viewer).
pub(super) fn setup(
    k: &Cluster,
    n: &str,
    dir: &Path,
    op: &str,
    viewer: &str,
) -> std::path::PathBuf {
    let rbac = concat!(env!("CARGO_MANIFEST_DIR"), "/serving/deploy/k8s/rbac");
    k.kubectl(&["apply", "-n", n, "-k", rbac]);
    for (user, role) in [(op, "tractor-operator"), (viewer, "tractor-viewer")] {
        k.kubectl(&[
            "create",
            "rolebinding",
            user,
            "-n",
            n,
            "--role",
            role,
            "--user",
            user,
        ]);
    }
    k.kubectl_stdin(&["apply", "-n", n, "-f", "-"], Some(MANIFEST));
    let cfg = dir.join("tractor.toml");
    std::fs::write(&cfg, POD_IP_SCRAPE).unwrap();
    cfg
}

/// The canary flags of these tests: steps 1 then 100% of the stable's 2, windows of 4 s
/// judged on p50 (20 requests a window suffice) and errors and against the stable.
fn canary_args<'a>(n: &'a str, cfg: &'a Path, model: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut v = strings(&[
        "--config",
        cfg.to_str().unwrap(),
        "rollout",
        "canary",
        "deploy/classifier",
        "-n",
        n,
        "--model",
        model,
        "--steps",
        "1,100%",
        "--interval",
        "4s",
        "--slo",
        "p50<50ms",
        "--slo",
        "errors<1%",
        "--compare",
        "--progress-deadline",
        "60s",
        "--yes",
        "-o",
        "json",
    ]);
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// The tractor binary as `kc`'s user, off the runtime's threads (the traffic runs there).
pub(super) fn tractor(
    kc: &Path,
    args: Vec<String>,
    dir: &Path,
) -> impl std::future::Future<Output = (i32, String, String)> + use<> {
    let (kc, dir) = (kc.to_path_buf(), dir.to_path_buf());
    async move {
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            tractor_cmd(&kc, &a, &dir)
        })
        .await
        .unwrap()
    }
}

pub(super) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub(super) fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub(super) fn windows(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|v| v["event"] == "window").collect()
}

pub(super) fn stable_model(k: &Cluster, n: &str) -> String {
    k.kubectl(&[
        "get",
        "deploy",
        "classifier",
        "-n",
        n,
        "-o",
        "jsonpath={.spec.template.metadata.labels.tractor\\.dev/model-version}",
    ])
}

pub(super) fn canary_exists(k: &Cluster, n: &str) -> bool {
    let (ok, out, _) = k.kubectl_as(&k.kubeconfig, &["get", "deploy", "-n", n, "-o", "name"]);
    ok && out.contains("classifier-canary")
}

pub(super) async fn two_stable_servers(pods: &PodRunner, version: &str) {
    eventually(T, "two stable servers", || {
        let s = pods.served();
        (s.values().filter(|p| p.version == version).count() >= 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_promotes_a_good_version_and_rolls_back_a_slow_one_without_failed_requests() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-canary");
    let n = ns.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = setup(k, &n, d, "canary-op", "canary-viewer");
    let op = k.user_kubeconfig("canary-op");
    let client = k.client().await;
    let pods = Arc::new(PodRunner::start(&client, &n));
    two_stable_servers(&pods, "v1").await;
    let traffic = Traffic::bounded(pods.clone(), Duration::from_secs(240), 1_000_000);

    // v1.1: the pod runner serves it with v1's file, as fast as the stable
    let (code, out, err) = tractor(&op, canary_args(&n, &cfg, "v1.1", &[]), d).await;
    let lines = json_lines(&out);
    assert_eq!(code, 0, "promoted exits 0\n{out}\n{err}");
    assert_eq!(lines.last().unwrap()["outcome"], "promoted", "{out}");
    let w = windows(&lines);
    assert_eq!(w.len(), 2, "one passing window per step\n{out}");
    for v in &w {
        assert_eq!(v["verdict"], "pass", "{v}");
        let share = v["canary_share"].as_f64().unwrap();
        assert!(share > 0.1 && share < 0.9, "observed share {share}: {v}");
        assert!(
            v["numbers"]["canary"]["requests"].as_f64().unwrap() >= 20.0,
            "{v}"
        );
    }
    println!(
        "promoted v1.1: observed canary shares {:?}",
        w.iter()
            .map(|v| v["canary_share"].clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(stable_model(k, &n), "v1.1");
    let cause = k.kubectl(&[
        "get",
        "deploy",
        "classifier",
        "-n",
        &n,
        "-o",
        "jsonpath={.metadata.annotations.kubernetes\\.io/change-cause}",
    ]);
    assert!(
        cause.starts_with("tractor rollout canary deploy/classifier")
            && cause.contains("--model v1.1"),
        "{cause}"
    );
    assert!(
        !canary_exists(k, &n),
        "the canary is removed after promotion"
    );
    two_stable_servers(&pods, "v1.1").await;

    // v3: the demo's clearly worse model (some 10 ms more per request); its first window
    // fails and it is rolled back
    let (code, out, err) = tractor(&op, canary_args(&n, &cfg, "v3", &[]), d).await;
    let lines = json_lines(&out);
    assert_eq!(code, 6, "rolled back exits 6\n{out}\n{err}");
    let last = lines.last().unwrap();
    assert_eq!(last["outcome"], "rolled_back", "{out}");
    assert_eq!(last["reason"], "failures", "{out}");
    let w = windows(&lines);
    assert_eq!(w.len(), 1, "{out}");
    assert_eq!(w[0]["verdict"], "fail", "{}", w[0]);
    let reasons: Vec<&str> = w[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"slower"), "{reasons:?}");
    println!(
        "rolled back v3: canary p90 {} vs stable p90 {}",
        w[0]["numbers"]["canary"]["p90"], w[0]["numbers"]["stable"]["p90"]
    );
    assert_eq!(stable_model(k, &n), "v1.1", "the stable was not changed");
    assert!(
        !canary_exists(k, &n),
        "the canary is removed after the rollback"
    );

    // every verdict is in the audit log with its numbers
    let audit = std::fs::read_to_string(d.join("cli-audit.jsonl")).unwrap();
    let audit: Vec<Value> = json_lines(&audit);
    let verdicts: Vec<&str> = audit
        .iter()
        .filter(|l| l["action"] == "canary-window")
        .filter_map(|l| l["result"].as_str())
        .collect();
    assert_eq!(verdicts, ["pass", "pass", "fail"]);
    assert!(audit.iter().all(|l| l["user"] == "canary-op"));

    let (answered, failed) = traffic.finish().await;
    println!(
        "requests across the promotion and the rollback: {answered} answered, {} failed",
        failed.len()
    );
    assert!(answered > 500, "{answered}");
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    record_timing(
        "canary_promotes_a_good_version_and_rolls_back_a_slow_one_without_failed_requests",
        started,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_pauses_without_traffic_survives_its_console_and_refuses_viewer_and_read_only() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-canary-pause");
    let n = ns.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = setup(k, &n, d, "pause-op", "pause-viewer");
    let op = k.user_kubeconfig("pause-op");
    let viewer = k.user_kubeconfig("pause-viewer");
    let client = k.client().await;
    let pods = Arc::new(PodRunner::start(&client, &n));
    two_stable_servers(&pods, "v1").await;

    // the viewer may not create the canary (exit 5), read-only sends nothing (exit 4)
    let (code, _, err) = tractor(&viewer, canary_args(&n, &cfg, "v1.1", &[]), d).await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("orbidden"), "{err}");
    let mut ro = canary_args(&n, &cfg, "v1.1", &[]);
    ro.insert(0, "--read-only".into());
    let (code, _, err) = tractor(&op, ro, d).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert!(!canary_exists(k, &n));

    // no traffic: the window is inconclusive, never a pass, and the canary pauses at its step
    let (code, out, err) = tractor(
        &op,
        canary_args(
            &n,
            &cfg,
            "v1.1",
            &["--inconclusive-limit", "0", "--lease-ttl", "8s"],
        ),
        d,
    )
    .await;
    assert_eq!(code, 7, "paused exits 7\n{out}\n{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.last().unwrap()["outcome"], "paused", "{out}");
    let w = windows(&lines);
    assert_eq!(w.len(), 1, "{out}");
    assert_eq!(w[0]["verdict"], "inconclusive", "{}", w[0]);
    assert!(canary_exists(k, &n), "a paused canary stays");
    assert_eq!(stable_model(k, &n), "v1");

    let status = |kc: &Path| {
        let args = strings(&[
            "--config",
            cfg.to_str().unwrap(),
            "rollout",
            "canary",
            "status",
            "deploy/classifier",
            "-n",
            &n,
        ]);
        tractor(kc, args, d)
    };
    let (code, out, err) = status(&viewer).await;
    assert_eq!(code, 0, "the viewer may read the status\n{err}");
    assert!(out.contains("phase: paused"), "{out}");
    assert!(out.contains("INCONCLUSIVE"), "{out}");

    // the viewer and read-only cannot abort it
    let hand = |verb: &str, ro: bool| {
        let mut a = strings(&[
            "--config",
            cfg.to_str().unwrap(),
            "rollout",
            "canary",
            verb,
            "deploy/classifier",
            "-n",
            &n,
            "--yes",
        ]);
        if ro {
            a.insert(0, "--read-only".into());
        }
        a
    };
    let (code, _, err) = tractor(&viewer, hand("abort", false), d).await;
    assert_eq!(code, 5, "{err}");
    let (code, _, err) = tractor(&op, hand("abort", true), d).await;
    assert_eq!(code, 4, "{err}");
    assert!(canary_exists(k, &n));

    // traffic; a console resumes the paused canary and is killed after its first window
    let traffic = Traffic::bounded(pods.clone(), Duration::from_secs(240), 1_000_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("--kubeconfig")
        .arg(&op)
        .arg("--audit-log")
        .arg(d.join("cli-audit.jsonl"))
        .arg("--log-file")
        .arg(d.join("cli.log"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "rollout",
            "canary",
            "resume",
            "deploy/classifier",
            "-n",
            &n,
            "--lease-ttl",
            "8s",
            "-o",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(d.join("killed.stderr")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first_window = tokio::task::spawn_blocking(move || {
        let mut seen = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.contains("\"event\":\"window\"") {
                return Ok(line);
            }
            seen += &line;
            seen.push('\n');
        }
        Err(seen)
    });
    let first = tokio::time::timeout(T, first_window)
        .await
        .unwrap()
        .unwrap()
        .unwrap_or_else(|out| {
            let err = std::fs::read_to_string(d.join("killed.stderr")).unwrap_or_default();
            panic!("the resumed console ended without a window:\n{out}\n{err}")
        });
    child.kill().unwrap();
    let _ = child.wait();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["verdict"], "pass", "{first}");

    // its lease is still live: another console is refused, naming the holder
    let resume = strings(&[
        "--config",
        cfg.to_str().unwrap(),
        "rollout",
        "canary",
        "resume",
        "deploy/classifier",
        "-n",
        &n,
        "-o",
        "json",
    ]);
    let (code, _, err) = tractor(&op, resume.clone(), d).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("driven by pause-op@"), "{err}");
    // the canary stayed at its step meanwhile, its progress saved
    let (_, out, _) = status(&op).await;
    assert!(
        out.contains("step 2/2") || out.contains("1/1 passing"),
        "{out}"
    );

    // once the lease runs out, a new console takes it up and finishes the run
    tokio::time::sleep(Duration::from_secs(9)).await;
    let (code, out, err) = tractor(&op, resume, d).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let lines = json_lines(&out);
    assert_eq!(lines[0]["event"], "resumed", "{out}");
    assert_eq!(lines.last().unwrap()["outcome"], "promoted", "{out}");
    assert_eq!(stable_model(k, &n), "v1.1");
    assert!(!canary_exists(k, &n));

    let (answered, failed) = traffic.finish().await;
    println!(
        "requests across the resumed canary and its promotion: {answered} answered, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    record_timing(
        "canary_pauses_without_traffic_survives_its_console_and_refuses_viewer_and_read_only",
        started,
    );
}
