//! End-to-end: the API server goes away and comes back while the console watches.
//! Its own test binary, so no other test sees the outage.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test crate: a failed unwrap is a failed test
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::console::Console;
use support::tmux::Tmux;
use tractor::event::SourceStatus;

const MANIFEST: &str = include_str!("e2e/classifier.yaml");

fn dev_cluster(arg: &str) {
    let st = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/dev-cluster"))
        .arg(arg)
        .status()
        .unwrap();
    assert!(st.success(), "scripts/dev-cluster {arg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_server_restart_reconnects_within_ten_seconds() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-restart");
    let n = ns.name.clone();
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    k.kubectl_stdin(
        &["apply", "-n", &n, "-f", "-"],
        Some(&MANIFEST.replace("name: classifier", "name: doomed")),
    );
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    eventually(Duration::from_secs(60), "both deployments complete", || {
        console
            .with(|s| (s.cluster.deployments.len() == 2 && s.cluster.pods.len() == 4).then_some(()))
    })
    .await;

    // the real binary in a terminal, watching the same namespace
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("restart");
    t.line(&format!(
        "{} --kubeconfig {} -n {n} --log-file {}",
        env!("CARGO_BIN_EXE_tractor"),
        k.kubeconfig.display(),
        dir.path().join("tractor.log").display()
    ));
    t.wait_for("● live", Duration::from_secs(30));
    t.wait_for("doomed", Duration::from_secs(30));

    dev_cluster("stop-apiserver");
    let screen = t.wait_for("reconnecting", Duration::from_secs(30));
    assert!(
        screen.contains("classifier"),
        "what was seen stays on screen while reconnecting:\n{screen}"
    );
    eventually(
        Duration::from_secs(30),
        "the console's sources say reconnecting",
        || {
            console.with(|s| {
                s.sources
                    .values()
                    .any(|v| matches!(v, SourceStatus::Reconnecting(_)))
                    .then_some(())
            })
        },
    )
    .await;

    dev_cluster("start-apiserver");
    let back = Instant::now();
    // changes right after the restart must show; nothing stale may remain
    k.kubectl(&["-n", &n, "delete", "deployment", "doomed", "--wait=false"]);
    k.kubectl(&[
        "-n",
        &n,
        "scale",
        "deployment",
        "classifier",
        "--replicas=3",
    ]);
    // within 10 s: every watch live again, and the API's current objects (the deletion
    // and the new replica count) in the console
    eventually(
        Duration::from_secs(10),
        "current state within 10 s of the API server's return",
        || {
            console.with(|s| {
                let d = s
                    .cluster
                    .deployments
                    .get(&(n.clone(), "classifier".into()))?;
                let desired = d.spec.as_ref()?.replicas.unwrap_or(0);
                let live = s.sources.values().all(|v| *v == SourceStatus::Live);
                let doomed = s
                    .cluster
                    .deployments
                    .contains_key(&(n.clone(), "doomed".into()));
                (live && desired == 3 && !doomed).then_some(())
            })
        },
    )
    .await;
    let caught_up = back.elapsed();
    // the controllers (with their own reconnects) then make the third pod; the console follows
    eventually(Duration::from_secs(90), "3 ready replicas", || {
        console.with(|s| {
            let d = s
                .cluster
                .deployments
                .get(&(n.clone(), "classifier".into()))?;
            (d.status.as_ref()?.ready_replicas == Some(3)).then_some(())
        })
    })
    .await;
    // the state equals the API's lists: no stale pods
    eventually(
        Duration::from_secs(30),
        "pods in the console equal the API's",
        || {
            let api = k.kubectl(&[
                "-n",
                &n,
                "get",
                "pods",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ]);
            let mut api: Vec<&str> = api.split_whitespace().collect();
            api.sort();
            console.with(|s| {
                let mine: Vec<&str> = s.cluster.pods.keys().map(|k| k.1.as_str()).collect();
                (mine == api).then_some(())
            })
        },
    )
    .await;
    let screen = t.wait_for("● live", Duration::from_secs(10));
    let screen = if screen.contains("3/3") {
        screen
    } else {
        t.wait_for("3/3", Duration::from_secs(10))
    };
    assert!(
        !screen.contains("doomed"),
        "stale deployment on screen:\n{screen}"
    );
    assert!(t.child_pid().is_some(), "the TUI is still running");
    t.keys(&["q"]);
    eprintln!(
        "caught up {:.1} s after the API server returned",
        caught_up.as_secs_f64()
    );
    record_timing("api_server_restart_reconnects_within_ten_seconds", started);
}
