//! End-to-end: a real Prometheus (built from its Go module) discovers the classifier's pods
//! through the real API server and scrapes the pod runner's real servers; the console on the
//! Prometheus source shows the same per-revision latency and timeline as on direct scrapes
//! through a rollout to v2, with the minutes before it started backfilled. Prometheus is
//! also the judge of our math: its `histogram_quantile` over the same buckets equals ours,
//! `promtool check metrics` passes on tractor-serve's `/metrics`, and every PromQL
//! expression of the Grafana dashboard parses and, where traffic makes data, returns some.
use super::common::*;
use crate::support;
use std::time::{Duration, Instant};

use support::cluster::{Namespace, cluster, eventually, eventually_shown, record_timing};
use support::console::Console;
use support::pod_runner::PodRunner;
use support::prometheus::PromServer;
use support::traffic::Traffic;
use tractor::metrics::histogram::{Bucket, quantile};
use tractor::prom::queries::Labels;
use tractor::prom::source::Settings;

fn settings(backfill: Duration) -> Settings {
    Settings {
        labels: Labels {
            namespace: "namespace".into(),
            pod: "pod".into(),
        },
        interval: Duration::from_secs(1),
        window: None,
        backfill,
    }
}

/// The dashboard's expressions with its variables set for this namespace.
fn dashboard_exprs(ns: &str) -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/serving/deploy/grafana/tractor-serve.json"
    );
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                let e = e
                    .replace("$namespace", ns)
                    .replace("$job", ".*")
                    .replace("$__rate_interval", "20s");
                out.push((p["title"].as_str().unwrap_or("-").to_string(), e));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_source_judged_by_a_real_prometheus_through_a_rollout() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-prometheus");
    let n = ns.name.clone();
    let client = k.client().await;
    let direct = Console::start(&client, Some(vec![n.clone()]), None);
    let pods = std::sync::Arc::new(PodRunner::start(&client, &n));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    wait_complete(&direct, &n, 1, "v1").await;
    let prom_server = PromServer::start(k, &n);
    let prom = prom_server.client();
    let traffic = Traffic::start(pods.clone());
    // Prometheus sees traffic, then a few seconds of history before the console starts
    let up = async {
        loop {
            if let Ok(v) = prom
                .query(
                    &format!(
                        r#"count(increase(tractor_http_requests_total{{namespace="{n}"}}[5s]) > 0)"#
                    ),
                    None,
                )
                .await
                && v.first().is_some_and(|s| s.value >= 1.0)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    tokio::time::timeout(T, up)
        .await
        .unwrap_or_else(|_| panic!("Prometheus never had traffic:\n{}", prom_server.log()));
    tokio::time::sleep(Duration::from_secs(6)).await;
    let prom_started = jiff::Timestamp::now();
    let console = Console::start_prom(
        &client,
        Some(vec![n.clone()]),
        prom.clone(),
        settings(Duration::from_secs(300)),
    );

    // the same per-revision row as the direct scrapes
    let show = || {
        console.with(|s| {
            format!(
                "{:?}\n{:#?}",
                s.prom,
                tractor::state::latency::by_revision(s, &(n.clone(), "classifier".to_string()))
            )
        })
    };
    let r1 = eventually_shown(
        T,
        "revision 1's latency from Prometheus, served as v1",
        || console.served_latency(&n, "classifier", 1, "v1"),
        show,
    )
    .await;
    assert!(r1.rps.unwrap_or(0.0) > 0.0, "{r1:?}");
    let status = console.with(|s| s.prom.clone()).unwrap();
    // the server's scrape interval read from its configuration, the window four of them
    assert_eq!(
        status.scrape_interval,
        Some(Duration::from_secs(1)),
        "{status:?}"
    );
    assert_eq!(status.window, Some(Duration::from_secs(4)), "{status:?}");
    assert!(status.problem.is_none(), "{status:?}");
    let screen = console.screen();
    assert!(screen.contains("prometheus · increase[4s]"), "{screen}");
    // the time axis holds samples from before the console started (the backfill)
    let key = (n.clone(), "classifier".to_string());
    eventually(T, "backfilled samples before the start", || {
        console.with(|s| {
            let tl = s.timelines.get(&Some(key.clone()))?;
            tl.samples
                .iter()
                .any(|x| {
                    x.at < prom_started
                        && x.groups
                            .iter()
                            .any(|g| g.label == "r1 v1" && g.p99.is_some())
                })
                .then_some(())
        })
    })
    .await;

    // Prometheus as the judge of our math: the same buckets, the same quantiles
    let sel = format!(
        r#"tractor_http_request_duration_seconds_bucket{{namespace="{n}", route=~".*/infer|/predict"}}"#
    );
    let at = jiff::Timestamp::now();
    let buckets = prom
        .query(&format!("sum by (le) (increase({sel}[10s]))"), Some(at))
        .await
        .unwrap();
    let ours: Vec<Bucket> = buckets
        .iter()
        .map(|s| Bucket {
            le: match s.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                x => x.parse().unwrap(),
            },
            count: s.value,
        })
        .collect();
    for q in [0.5, 0.9, 0.99] {
        let theirs = prom
            .query(
                &format!("histogram_quantile({q}, sum by (le) (increase({sel}[10s])))"),
                Some(at),
            )
            .await
            .unwrap();
        let theirs = theirs[0].value;
        let ours = quantile(q, &ours).value().unwrap();
        assert!(
            (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1e-9),
            "q={q}: ours {ours} against Prometheus's {theirs}"
        );
    }
    // under the same traffic the direct scrapes and Prometheus see the same latency: the
    // windows differ (the last two scrapes against increase[4s]) so the interpolated p50
    // may move, but within the bucket it falls in
    let d1 = eventually(T, "revision 1 on direct scrapes", || {
        direct.served_latency(&n, "classifier", 1, "v1")
    })
    .await;
    let (a, b) = (d1.p50.value().unwrap(), r1.p50.value().unwrap());
    assert!(
        (a - b).abs() <= a.max(b) * 0.5,
        "p50 direct {a} against Prometheus {b}"
    );
    // and the same request rate: steady traffic (a request per server every 20 ms) over
    // windows of 0.5 s and 4 s that end at different instants; 25 % covers a window that
    // caught a round more or less
    let (a, b) = (d1.rps.unwrap(), r1.rps.unwrap());
    assert!(
        (a - b).abs() <= a.max(b) * 0.25,
        "requests/s direct {a} against Prometheus {b}"
    );

    // promtool agrees that tractor-serve's /metrics is well-formed exposition
    let served = pods.served();
    let pod = served.keys().next().unwrap();
    let s = pods.serving(pod).unwrap();
    let text = support::http::get(&s.ip, s.port, "/metrics").await.unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
    let mut check = std::process::Command::new(prom_server.bin.join("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // every expression of the Grafana dashboard parses; those traffic feeds return data
    let no_data_expected = ["Rejected (503 backpressure)", "Errors by status"];
    for (title, e) in dashboard_exprs(&n) {
        let v = prom
            .query(&e, None)
            .await
            .unwrap_or_else(|err| panic!("{title}: {e}: {err}"));
        if !no_data_expected.contains(&title.as_str()) {
            assert!(!v.is_empty(), "{title}: no data for {e}");
        }
    }

    // a rollout to v2: revision 2's row and samples, from Prometheus
    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    set_model_v2(&r, &n).await;
    let r2 = eventually_shown(
        T,
        "revision 2's latency from Prometheus, served as v2",
        || console.served_latency(&n, "classifier", 2, "v2"),
        show,
    )
    .await;
    eventually(
        T,
        "revision 2 sampled on the Prometheus console's timeline",
        || {
            console.with(|s| {
                let tl = s.timelines.get(&Some(key.clone()))?;
                tl.samples
                    .iter()
                    .any(|x| {
                        x.groups
                            .iter()
                            .any(|g| g.label == "r2 v2" && g.p99.is_some())
                    })
                    .then_some(())
            })
        },
    )
    .await;
    // the same table and timeline as the direct console shows after the rollout: the
    // revisions with traffic, their versions and pods; the groups the newest timeline sample
    // plots; the rollout markers (from the watch, not the source); revision 2's p50 within
    // the bucket-width tolerance above
    let view = |c: &Console| {
        c.with(|s| {
            let mut rows: Vec<(Option<i64>, String, usize)> =
                tractor::state::latency::by_revision(s, &key)
                    .into_iter()
                    .filter(|r| r.requests > 0.0)
                    .map(|r| (r.revision, r.versions, r.pods))
                    .collect();
            rows.sort();
            let tl = s.timelines.get(&Some(key.clone()));
            let mut groups: Vec<String> = tl
                .and_then(|t| t.samples.back())
                .map(|x| x.groups.iter().map(|g| g.label.clone()).collect())
                .unwrap_or_default();
            groups.sort();
            let markers: Vec<String> = tl
                .map(|t| {
                    t.markers
                        .iter()
                        .filter(|m| m.kind == tractor::state::timeline::MarkerKind::Rollout)
                        .map(|m| m.text.clone())
                        .collect()
                })
                .unwrap_or_default();
            (rows, groups, markers)
        })
    };
    let same = eventually_shown(
        T,
        "the Prometheus console's table and timeline equal the direct console's",
        || {
            let (a, b) = (view(&direct), view(&console));
            (a == b && a.0.iter().any(|r| r.0 == Some(2)) && a.1.contains(&"r2 v2".to_string()))
                .then_some(a)
        },
        || {
            format!(
                "direct {:?}\nprometheus {:?}",
                view(&direct),
                view(&console)
            )
        },
    )
    .await;
    // both show revision 1's rollout: the direct console saw it happen, the Prometheus
    // console found it in the backfilled minutes (its ReplicaSet's creation)
    assert!(
        same.2.iter().any(|m| m == "rollout → rev 1 (v1)"),
        "{same:?}"
    );
    let d2 = eventually(T, "revision 2 on direct scrapes", || {
        direct.served_latency(&n, "classifier", 2, "v2")
    })
    .await;
    let (a, b) = (d2.p50.value().unwrap(), r2.p50.value().unwrap());
    assert!(
        (a - b).abs() <= a.max(b) * 0.5,
        "revision 2's p50 direct {a} against Prometheus {b}"
    );
    // the real binary: --prometheus URL; the header says the window it asks for; a URL it
    // cannot use is refused before the screen opens, naming the key
    let t = support::tmux::Tmux::start("prometheus");
    t.line(&format!(
        "{} --kubeconfig {} --audit-log {} --log-file {} -n {n} --prometheus {}",
        env!("CARGO_BIN_EXE_tractor"),
        k.kubeconfig.display(),
        dir.path().join("tui-audit.jsonl").display(),
        dir.path().join("tractor.log").display(),
        prom_server.url,
    ));
    // four of Prometheus's 1 s scrapes, but at least two of the console's default 5 s
    t.wait_for("prometheus · increase[10s] · 2 pods", T);
    t.keys(&["q"]);
    // a load test beside the deployment takes its servers' figures from Prometheus too
    let body = dir.path().join("infer.json");
    std::fs::write(&body, support::traffic::infer_body()).unwrap();
    let target = pods.serving(pods.served().keys().next().unwrap()).unwrap();
    let t = support::tmux::Tmux::start("prometheus-load");
    t.line(&format!(
        "{} --kubeconfig {} --log-file {} -n {n} loadtest --deploy classifier --prometheus {} \
         --url http://{}:{}/v2/models/demo-classifier/infer --body {} --rate 20 --duration 60s",
        env!("CARGO_BIN_EXE_tractor"),
        k.kubeconfig.display(),
        dir.path().join("load.log").display(),
        prom_server.url,
        target.ip,
        target.port,
        body.display(),
    ));
    t.wait_for("● running", T);
    t.wait_for("prometheus · increase[10s] · 2 pods", T);
    t.keys(&["q"]);
    let (code, _, err) = support::cli::tractor_cmd(
        &k.kubeconfig,
        &["-n", &n, "--prometheus", "prometheus.local:9090"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("metrics.url \"prometheus.local:9090\": not an http:// or https:// URL"),
        "{err}"
    );
    assert!(traffic.stop().await > 0);
    eprintln!("revision 1: {r1:?}\nrevision 2: {r2:?}\ndirect: {d1:?}");
    record_timing(
        "prometheus_source_judged_by_a_real_prometheus_through_a_rollout",
        started,
    );
}
