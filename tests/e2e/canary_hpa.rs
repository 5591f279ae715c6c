//! End-to-end: an HPA on the stable, with a canary beside it, on the real control plane (its
//! metrics pipeline: kwok's usage, metrics-server, the HPA controller). What does the HPA
//! count? The canary's pods carry the stable's labels, so the HPA, which reads the pods its
//! target's selector names, counts them too: a hot canary scales the stable up, and the
//! stable comes back once the canary is gone. The two Deployments keep their own pods
//! throughout.
use super::common::*;
use crate::support;
use std::time::{Duration, Instant};

use support::cli::tractor_cmd;
use support::cluster::{Cluster, Namespace, cluster, record_timing};
use support::pod_runner::PodRunner;

const HPA: &str = r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: classifier}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: classifier}
  minReplicas: 1
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0}
    scaleDown: {stabilizationWindowSeconds: 0}
"#;

fn get(k: &Cluster, n: &str, what: &[&str], path: &str) -> String {
    let mut args = vec!["-n", n, "get"];
    args.extend_from_slice(what);
    let jp = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &jp]);
    k.kubectl(&args).trim().to_string()
}

/// Polls `f` until it holds; on timeout, the HPA's status and the pods.
async fn until(k: &Cluster, n: &str, what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > Duration::from_secs(300) {
            let status = get(k, n, &["hpa", "classifier"], "{.status}");
            let pods = k.kubectl(&["-n", n, "get", "pods", "-o", "wide", "--show-labels"]);
            panic!("timed out: {what}\nHPA status: {status}\npods:\n{pods}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hpa_on_the_stable_counts_the_canary_pods_and_the_deployments_keep_their_own() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-canary-hpa");
    let n = ns.name.clone();
    // 30m of a 100m request: 30 %, under the target of 50 %: the stable stays at 2
    let cool = manifest_with_cpu("30m");
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(&cool));
    // real servers on the pod IPs: the canary is ready once its server answers
    let client = k.client().await;
    let _pods = PodRunner::start(&client, &n);
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(HPA));
    let util = || {
        get(
            k,
            &n,
            &["hpa", "classifier"],
            "{.status.currentMetrics[0].resource.current.averageUtilization}",
        )
    };
    until(k, &n, "the HPA measures 30 %", || util() == "30").await;
    assert_eq!(
        get(k, &n, &["hpa", "classifier"], "{.status.desiredReplicas}"),
        "2"
    );

    // a canary of one pod beside it; without traffic its window is inconclusive and it
    // pauses at its step (exit 7), staying there
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tractor.toml");
    std::fs::write(&cfg, POD_IP_SCRAPE).unwrap();
    let canary = |args: &[&str]| {
        let mut a = vec!["--config", cfg.to_str().unwrap(), "rollout", "canary"];
        a.extend_from_slice(args);
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        let (kc, d) = (k.kubeconfig.clone(), dir.path().to_path_buf());
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            tractor_cmd(&kc, &a, &d)
        })
    };
    let (code, out, err) = canary(&[
        "deploy/classifier",
        "-n",
        &n,
        "--model",
        "v1.1",
        "--steps",
        "1",
        "--interval",
        "2s",
        "--slo",
        "p50<50ms",
        "--inconclusive-limit",
        "0",
        "--progress-deadline",
        "60s",
        "--yes",
    ])
    .await
    .unwrap();
    assert_eq!(code, 7, "{out}\n{err}");
    // the canary's pods run hot: 300m (as a person could make them, to see what the HPA does)
    k.kubectl(&[
        "-n",
        &n,
        "patch",
        "deploy",
        "classifier-canary",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"kwok.x-k8s.io/usage-cpu":"300m"}}}}}"#,
    ]);
    // counted over the stable's 2 pods and the canary's 1: (30 + 30 + 300) / 3 = 120 %, so
    // ceil(2 × 120 / 50) = 5; had it counted the stable's pods alone it would stay at 2
    until(
        k,
        &n,
        "the HPA scales the stable for the canary's CPU",
        || {
            get(k, &n, &["hpa", "classifier"], "{.status.desiredReplicas}")
                .parse::<i32>()
                .is_ok_and(|d| d > 2)
        },
    )
    .await;
    let seen = util();
    println!(
        "HPA on the stable with a hot canary beside it: utilization {seen} %, desired {}",
        get(k, &n, &["hpa", "classifier"], "{.status.desiredReplicas}")
    );
    // the Deployments keep their own pods: the canary's one, the stable's the rest
    let canary_pods = k.kubectl(&[
        "-n",
        &n,
        "get",
        "pods",
        "-l",
        "tractor.dev/track=canary",
        "-o",
        "name",
    ]);
    assert_eq!(canary_pods.lines().count(), 1, "{canary_pods}");
    assert_eq!(
        get(
            k,
            &n,
            &["deploy", "classifier-canary"],
            "{.status.replicas}"
        ),
        "1"
    );

    // abort: the canary goes, and the HPA brings the stable back to what its own pods need
    let (code, out, err) = canary(&["abort", "deploy/classifier", "-n", &n, "--yes"])
        .await
        .unwrap();
    assert_eq!(code, 6, "aborted by hand exits 6\n{out}\n{err}");
    until(
        k,
        &n,
        "the stable back at 2 once the canary is gone",
        || get(k, &n, &["hpa", "classifier"], "{.status.desiredReplicas}") == "2" && util() == "30",
    )
    .await;
    record_timing(
        "an_hpa_on_the_stable_counts_the_canary_pods_and_the_deployments_keep_their_own",
        started,
    );
}
