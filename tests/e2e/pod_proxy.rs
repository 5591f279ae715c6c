//! End-to-end: latency scraped through the API server's pod proxy
//! (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/metrics`), as a laptop with RBAC on
//! `pods/proxy` scrapes a real cluster.
//!
//! The API server refuses to proxy to loopback pod IPs, so this test runs its own
//! control plane inside a private network namespace (scripts/netns-run) whose pod IPs
//! are in 198.18.0.0/16, routed as local on that namespace's loopback: the API server
//! proxies to real tractor-serve processes and no packet ever leaves the namespace.
//! The test re-runs itself inside the namespace; outside, it starts that run and
//! always tears the cluster down afterwards. The same way, a real Prometheus in that
//! network is reached through the API server's service proxy (the Prometheus source's
//! `via = "service-proxy"`).
use crate::support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use support::cluster::{Namespace, cluster, eventually};
use support::console::Console;
use support::pod_runner::PodRunner;
use support::prometheus::PromServer;
use support::traffic::Traffic;
use tractor::scrape::source::Via;

const TEST: &str = "pod_proxy::latency_per_revision_through_the_pod_proxy";
const CLUSTER: &str = "tractor-netns";
const POD_NET: &str = "198.18";
const MANIFEST: &str = include_str!("classifier.yaml");
const T: Duration = Duration::from_secs(60);

#[test]
fn latency_per_revision_through_the_pod_proxy() {
    if support::netns::inside() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(inside());
    }
    support::netns::run(
        TEST,
        CLUSTER,
        POD_NET,
        &[("TRACTOR_E2E_SCRAPE_VIA", "proxy")],
    );
}

fn kubeconfig() -> &'static Path {
    &cluster().kubeconfig
}

async fn inside() {
    let k = cluster();
    assert!(
        k.kubeconfig.to_string_lossy().contains(CLUSTER),
        "{:?} is not the namespace's own cluster",
        k.kubeconfig
    );
    let ns = Namespace::new(k, "e2e-proxy");
    let n = ns.name.clone();
    let client = k.client().await;
    // the console as a user runs it against a real cluster: scraping through the proxy
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    assert_eq!(console.scrape_via(), Via::Proxy);
    let pods = Arc::new(PodRunner::start(&client, &n));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    let traffic = Traffic::start(pods.clone());

    // every served pod's IP is outside 127.0.0.0/8, in the namespace's own range,
    // so the API server's refusal of loopback no longer applies
    let served = eventually(T, "two pods served by tractor-serve", || {
        let s = pods.served();
        (s.len() == 2).then_some(s)
    })
    .await;
    for s in served.values() {
        assert!(s.ip.starts_with(&format!("{POD_NET}.")), "{s:?}");
    }
    // the API server really proxies to them
    let pod = served.keys().next().unwrap();
    let port = served[pod].port.to_string();
    let path = format!("/api/v1/namespaces/{n}/pods/{pod}:{port}/proxy/metrics");
    // (the server loads its model before it listens: retried until it answers)
    let metrics = eventually(T, "the API server proxies to the pod's /metrics", || {
        let (ok, out, _) = k.kubectl_as(&k.kubeconfig, &["get", "--raw", &path]);
        ok.then_some(out)
    })
    .await;
    assert!(metrics.contains("tractor_model_info"), "{metrics}");

    let r1 = eventually(T, "revision 1's latency through the proxy", || {
        console.served_latency(&n, "classifier", 1, "v1")
    })
    .await;
    assert!(r1.rps.unwrap_or(0.0) > 0.0, "{r1:?}");

    // A Prometheus in the cluster's network, reached as a laptop reaches one: through the
    // API server's service proxy with the kubeconfig's credentials (metrics.via =
    // "service-proxy"). The API server proxies a service only to endpoints that are pods,
    // so Prometheus runs as a pod does here: kwok runs a pod "prometheus" and gives it an IP
    // of the namespace's range, and the real Prometheus listens on that IP, behind a Service.
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: prometheus, labels: {app: prometheus}}\nspec:\n  containers: [{name: prometheus, image: prometheus, ports: [{name: web, containerPort: 9090}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: prometheus}\nspec:\n  selector: {app: prometheus}\n  ports: [{name: web, port: 9090, targetPort: web}]\n",
        ),
    );
    let prom_ip = eventually(T, "the prometheus pod's IP", || {
        let ip = k.kubectl(&[
            "get",
            "pod",
            "prometheus",
            "-n",
            &n,
            "-o",
            "jsonpath={.status.podIP}",
        ]);
        (!ip.trim().is_empty()).then(|| ip.trim().to_string())
    })
    .await;
    let prom_server = PromServer::start_at(k, &n, &prom_ip, 9090);
    // the API server really proxies to it
    let raw =
        format!("/api/v1/namespaces/{n}/services/prometheus:web/proxy/api/v1/status/buildinfo");
    let last = std::sync::Mutex::new(String::new());
    let info = support::cluster::eventually_shown(
        T,
        "the API server proxies to the Prometheus service",
        || {
            let (ok, out, err) = k.kubectl_as(&k.kubeconfig, &["get", "--raw", &raw]);
            *last.lock().unwrap() = err;
            ok.then_some(out)
        },
        || last.lock().unwrap().clone(),
    )
    .await;
    assert!(info.contains("\"version\""), "{info}");
    let via_proxy = tractor::prom::Prom {
        endpoint: tractor::prom::client::Endpoint::ServiceProxy {
            client: client.clone(),
            namespace: n.clone(),
            service: "prometheus".into(),
            port: "web".into(),
        },
        timeout: Duration::from_secs(5),
    };
    let prom_console = Console::start_prom(
        &client,
        Some(vec![n.clone()]),
        via_proxy,
        tractor::prom::source::Settings {
            labels: tractor::prom::queries::Labels {
                namespace: "namespace".into(),
                pod: "pod".into(),
            },
            interval: Duration::from_secs(1),
            window: None,
            backfill: Duration::ZERO,
        },
    );
    let p1 = support::cluster::eventually_shown(
        T,
        "revision 1's latency from Prometheus through the service proxy",
        || prom_console.served_latency(&n, "classifier", 1, "v1"),
        || {
            prom_console.with(|s| {
                format!(
                    "{:?}\n{:?}\nprometheus log: {}",
                    s.prom,
                    tractor::state::latency::by_revision(s, &(n.clone(), "classifier".to_string())),
                    prom_server.log()
                )
            })
        },
    )
    .await;
    let status = prom_console.with(|s| s.prom.clone()).unwrap();
    assert_eq!(
        status.at,
        format!("svc/prometheus:web -n {n} (service proxy)"),
        "{status:?}"
    );
    assert_eq!(status.scrape_interval, Some(Duration::from_secs(1)));
    eprintln!("through the service proxy, from Prometheus: {p1:?}");

    // a new revision through the real CLI; its latency is attributed to revision 2
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .arg("--audit-log")
        .arg(dir.path().join("audit.jsonl"))
        .arg("--log-file")
        .arg(dir.path().join("cli.log"))
        .args(["set", "model", "deploy/classifier", "v2", "-n", &n, "--yes"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "tractor set model: {out:?}");
    let r2 = eventually(
        T,
        "revision 2's latency, served as v2, through the proxy",
        || console.served_latency(&n, "classifier", 2, "v2"),
    )
    .await;
    assert!(traffic.stop().await > 0);
    // no pod of revision 2 is counted under revision 1
    let rows = console
        .with(|s| tractor::state::latency::by_revision(s, &(n.clone(), "classifier".to_string())));
    for r in &rows {
        if r.revision == Some(1) {
            assert!(!r.versions.contains("v2"), "{r:?}");
        }
    }
    eprintln!("through the pod proxy:\nrevision 1: {r1:?}\nrevision 2: {r2:?}");
}
