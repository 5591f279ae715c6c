//! End-to-end: a canary planned by an analysis file kept beside the manifests (`-f`), with a
//! model and an image change, on the real control plane with the pod runner's servers and
//! steady load; while a console drives it, a person promotes it with the subcommand: the
//! stable takes the canary's template (model and image), the driving console stops by
//! itself (exit 4, it lost the run), the canary is gone and no request failed.
use super::canary::{canary_exists, json_lines, setup, stable_model, strings, tractor};
use super::common::*;
use crate::support;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::pod_runner::PodRunner;
use support::traffic::Traffic;

const ANALYSIS: &str = r#"
target = "deploy/classifier"
model = "v1.1"
images = ["server=tractor-serve:0.2.0"]
steps = "1,100%"
interval = "4s"
# more passing windows than this test waits for: only a person ends this run
windows_per_step = 40
slos = ["p50<50ms", "errors<1%"]
progress_deadline = "60s"

[compare]
confidence = 0.95
min_effect = 0.56
"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_analysis_file_plans_the_canary_and_a_person_promotes_it_by_hand() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-canary-file");
    let n = ns.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = setup(k, &n, d, "file-op", "file-viewer");
    let op = k.user_kubeconfig("file-op");
    let client = k.client().await;
    let pods = Arc::new(PodRunner::start(&client, &n));
    eventually(T, "two stable servers", || {
        (pods.served().len() >= 2).then_some(())
    })
    .await;
    let traffic = Traffic::bounded(pods.clone(), Duration::from_secs(240), 1_000_000);
    let file = d.join("canary.toml");
    std::fs::write(&file, ANALYSIS).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("--kubeconfig")
        .arg(&op)
        .arg("--audit-log")
        .arg(d.join("driver-audit.jsonl"))
        .arg("--log-file")
        .arg(d.join("driver.log"))
        .args(["--config", cfg.to_str().unwrap()])
        .args(["rollout", "canary", "-n", &n, "-f"])
        .arg(&file)
        .args(["--yes", "-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(d.join("driver.stderr")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let window = tokio::time::timeout(T, async {
        while let Some(l) = rx.recv().await {
            lines.push(l.clone());
            if l.contains("\"event\":\"window\"") {
                return Some(l);
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("no window within {T:?}: {lines:?}"))
    .unwrap_or_else(|| {
        let err = std::fs::read_to_string(d.join("driver.stderr")).unwrap_or_default();
        panic!("the driver ended without a window: {lines:?}\n{err}")
    });
    let window: serde_json::Value = serde_json::from_str(&window).unwrap();
    assert_eq!(window["verdict"], "pass", "{window}");

    // the file's plan is what runs: its image on the canary, its model, its steps
    let image = |name: &str| {
        k.kubectl(&[
            "get",
            "deploy",
            name,
            "-n",
            &n,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    };
    assert_eq!(image("classifier-canary"), "tractor-serve:0.2.0");
    assert_eq!(image("classifier"), "tractor-serve:0.1.0");
    let status = strings(&[
        "--config",
        cfg.to_str().unwrap(),
        "rollout",
        "canary",
        "status",
        "deploy/classifier",
        "-n",
        &n,
    ]);
    let (code, out, err) = tractor(&op, status, d).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("model v1.1"), "{out}");
    assert!(out.contains("(1,100%)"), "{out}");
    assert!(out.contains("/40 passing windows"), "{out}");

    // a person promotes it now, whoever drives it
    let promote = strings(&[
        "--config",
        cfg.to_str().unwrap(),
        "rollout",
        "canary",
        "promote",
        "deploy/classifier",
        "-n",
        &n,
        "--yes",
        "-o",
        "json",
    ]);
    let (code, out, err) = tractor(&op, promote, d).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        json_lines(&out).last().unwrap()["outcome"],
        "promoted",
        "{out}"
    );
    assert_eq!(stable_model(k, &n), "v1.1");
    assert_eq!(
        image("classifier"),
        "tractor-serve:0.2.0",
        "the file's image"
    );
    assert!(!canary_exists(k, &n));

    // the console that drove it finds the run taken and stops without touching anything
    let code = tokio::task::spawn_blocking(move || {
        let t0 = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st.code();
            }
            if t0.elapsed() > T {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    reader.join().unwrap();
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    assert_eq!(code, Some(4), "{lines:?}");
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "lost", "{lines:?}");
    let driver_audit = std::fs::read_to_string(d.join("driver-audit.jsonl")).unwrap();
    assert!(
        !driver_audit.contains("canary-promote"),
        "the driver did not promote: {driver_audit}"
    );

    let (answered, failed) = traffic.finish().await;
    println!(
        "requests across the file's canary and a promotion by hand: {answered} answered, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    record_timing(
        "an_analysis_file_plans_the_canary_and_a_person_promotes_it_by_hand",
        started,
    );
}
