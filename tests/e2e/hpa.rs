//! End-to-end: the real HPA controller scales on CPU and the console agrees.
use super::common::*;
use crate::support;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cluster::{Cluster, Namespace, cluster, eventually, record_timing};
use support::console::Console;

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

/// Waits until the console has the autoscaler at `want` (current, desired). On timeout,
/// says what the console had and what the API server has (the HPA's status, its events
/// and the pods), so a slow controller and a console that missed an update tell apart.
async fn until_replicas(c: &Console, k: &Cluster, ns: &str, want: (i32, i32), what: &str) {
    // ~50 s each way alone; once, under the other e2e tests in CI, scaling up took over 180 s
    let timeout = Duration::from_secs(300);
    let start = Instant::now();
    loop {
        let now = hpa_now(c, ns);
        if now
            .as_ref()
            .is_some_and(|(cur, des, _)| (*cur, *des) == want)
        {
            return;
        }
        if start.elapsed() > timeout {
            let status = k.kubectl(&[
                "-n",
                ns,
                "get",
                "hpa",
                "classifier",
                "-o",
                "jsonpath={.status}",
            ]);
            let events = k.kubectl(&["-n", ns, "get", "events", "--sort-by=.lastTimestamp"]);
            let pods = k.kubectl(&["-n", ns, "get", "pods", "-o", "wide"]);
            panic!(
                "timed out after {timeout:?}: {what}\nthe console has (current, desired, cpu): {now:?}\nthe API's HPA status: {status}\nevents:\n{events}\npods:\n{pods}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hpa_scales_up_and_down_and_the_console_agrees() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-hpa");
    let n = ns.name.clone();
    // kwok reports each pod's CPU from this annotation: 150m of a 100m request is 150 %
    let busy = manifest_with_cpu("150m");
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(&busy));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(HPA));
    // up: ceil(2 × 150/50) = 6, capped at maxReplicas 4
    until_replicas(&console, k, &n, (4, 4), "the HPA controller scales to 4").await;
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
    until_replicas(
        &console,
        k,
        &n,
        (1, 1),
        "the HPA controller scales down to 1",
    )
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
