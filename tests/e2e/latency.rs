//! End-to-end: latency per revision from real servers' scrapes; the pod proxy refused to a
//! viewer without pods/proxy.
use super::common::*;
use crate::support;
use std::time::{Duration, Instant};

use support::cluster::{Namespace, cluster, eventually, eventually_shown, record_timing};
use support::console::Console;
use support::pod_runner::PodRunner;
use support::traffic::Traffic;

#[tokio::test(flavor = "multi_thread")]
async fn latency_per_revision_from_scrapes_and_pod_proxy_refusal() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-latency");
    let n = ns.name.clone();
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    let pods = std::sync::Arc::new(PodRunner::start(&client, &n));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &n, 1, "v1").await;

    // steady traffic to whatever servers run, bounded in time and count, loopback only
    let traffic = Traffic::start(pods.clone());
    let r1 = eventually(T, "revision 1's latency scraped from the pods", || {
        console.served_latency(&n, "classifier", 1, "v1")
    })
    .await;

    // Through the API server's pod proxy the same pods are refused: the API server does not
    // proxy to loopback addresses. The target records that error; nothing crashes.
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
    let proxy = tractor::scrape::source::Settings {
        via: tractor::scrape::source::Via::Proxy,
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(2),
        concurrency: 2,
        max_pods: 200,
    };
    let tasks =
        tractor::scrape::source::spawn(&client, Some(std::slice::from_ref(&n)), proxy, &ptx);
    let refused = tokio::time::timeout(T, async {
        loop {
            if let Some(tractor::event::AppEvent::Scrape(r)) = prx.recv().await
                && let Err(e) = r.result
            {
                return e.to_string();
            }
        }
    })
    .await
    .expect("a proxied scrape result");
    assert!(refused.contains("address not allowed"), "{refused}");
    for t in tasks {
        t.abort();
    }
    assert!(r1.rps.unwrap_or(0.0) > 0.0, "{r1:?}");
    // revision 1 on the monitor's timeline, before the rollout replaces its pods
    let key = (n.clone(), "classifier".to_string());
    let has_latency = |s: &tractor::state::State, label: &str| {
        s.timelines.get(&Some(key.clone())).is_some_and(|tl| {
            tl.samples.iter().any(|sm| {
                sm.groups
                    .iter()
                    .any(|g| g.label == label && g.p99.is_some())
            })
        })
    };
    eventually(T, "revision 1 sampled on the monitor's timeline", || {
        console.with(|s| has_latency(s, "r1 v1").then_some(()))
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    set_model_v2(&r, &n).await;
    let rows = || {
        let traffic = format!(
            "traffic answered {} (stopped by itself: {}; failures: {:?}) {:?} into the test",
            traffic.answered(),
            traffic.finished(),
            traffic.failures(),
            started.elapsed()
        );
        let rows = console.with(|s| {
            tractor::state::latency::by_revision(s, &(n.clone(), "classifier".to_string()))
        });
        format!("{traffic}\n{rows:#?}")
    };
    let r2 = eventually_shown(
        T,
        "revision 2's latency, served as v2",
        || console.served_latency(&n, "classifier", 2, "v2"),
        rows,
    )
    .await;
    // the monitor's timeline: revision 2's latency sampled over time beside revision 1's,
    // and a marker where the rollout happened
    eventually(T, "revision 2 sampled on the monitor's timeline", || {
        console.with(|s| has_latency(s, "r2 v2").then_some(()))
    })
    .await;
    let marks: Vec<String> = console.with(|s| {
        s.timelines[&Some(key.clone())]
            .markers
            .iter()
            .map(|m| m.text.clone())
            .collect()
    });
    assert!(
        marks.iter().any(|m| m == "rollout → rev 2 (v2)"),
        "{marks:?}"
    );
    assert!(traffic.stop().await > 0);
    let monitor = console.with(|s| {
        let mut s2 =
            tractor::state::State::new(s.config.clone(), "e2e".into(), "e2e".into(), s.now);
        s2.cluster = s.cluster.clone();
        s2.scrapes = s.scrapes.clone();
        s2.timelines = s.timelines.clone();
        s2.view = tractor::state::View::Monitor(Some(key.clone()));
        support::render(&s2, 160, 48)
    });
    for want in [
        "monitor deploy/classifier",
        "r2 v2",
        "rollout → rev 2 (v2)",
        "Pods (scraped)",
    ] {
        assert!(monitor.contains(want), "{want:?} missing:\n{monitor}");
    }
    // what the detail view shows
    let screen = console.with(|s| {
        let mut s2 =
            tractor::state::State::new(s.config.clone(), "e2e".into(), "e2e".into(), s.now);
        s2.cluster = s.cluster.clone();
        s2.scrapes = s.scrapes.clone();
        s2.view = tractor::state::View::Detail((n.clone(), "classifier".into()));
        support::render(&s2, 160, 48)
    });
    assert!(screen.contains("Latency per revision"), "{screen}");
    eprintln!("revision 1: {r1:?}\nrevision 2: {r2:?}");
    record_timing(
        "latency_per_revision_from_scrapes_and_pod_proxy_refusal",
        started,
    );
}
