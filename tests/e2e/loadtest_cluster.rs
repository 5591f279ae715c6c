//! End-to-end: `tractor loadtest --workers N --in-cluster` on the real control plane. The
//! Job is made by the real Job controller; the pod runner starts a real `tractor
//! loadtest-worker` for each of its pods and a real `tractor-serve` for each classifier
//! pod; the console starts and reads the workers through the API server's pod proxy.
//!
//! The API server does not proxy to loopback pod IPs, so, like `pod_proxy`, this runs its
//! own control plane inside a private network namespace (scripts/netns-run) whose pod IPs
//! (198.18.0.0/16) are local to that namespace: no packet leaves it.
use crate::support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cluster::{Namespace, cluster, eventually};
use support::pod_runner::{PodRunner, Served};

const TEST: &str = "loadtest_cluster::load_from_a_job_of_workers";
const CLUSTER: &str = "tractor-netns-load";
const POD_NET: &str = "198.18";
const MANIFEST: &str = include_str!("classifier.yaml");
const T: Duration = Duration::from_secs(60);

#[test]
fn load_from_a_job_of_workers() {
    if support::netns::inside() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(inside());
    }
    support::netns::run(TEST, CLUSTER, POD_NET, &[]);
}

/// A GET on the private network: the servers' own counters.
fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Inference requests the servers counted (every status).
fn counted(servers: &[Served]) -> u64 {
    servers
        .iter()
        .map(|s| {
            support::http::assert_allowed(&s.ip);
            get(&format!("{}:{}", s.ip, s.port), "/metrics")
                .lines()
                .filter(|l| l.starts_with("tractor_http_requests_total{route=\"/v2/models/"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        })
        .sum()
}

fn jobs(k: &support::cluster::Cluster, ns: &str) -> String {
    k.kubectl(&["get", "jobs", "-n", ns, "-o", "name"])
}

/// `tractor --kubeconfig KC -n NS loadtest ARGS --no-tui --json FILE`, spawned.
fn spawn_loadtest(kc: &Path, ns: &str, args: &[&str], json: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("--kubeconfig")
        .arg(kc)
        .args(["-n", ns, "--log-file"])
        .arg(json.with_extension("log"))
        .arg("loadtest")
        .args(args)
        .args(["--no-tui", "--json"])
        .arg(json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child, json: &Path) -> (i32, Value, String) {
    let out = child.wait_with_output().unwrap();
    let v = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn inside() {
    let k = cluster();
    assert!(
        k.kubeconfig.to_string_lossy().contains(CLUSTER),
        "{:?}",
        k.kubeconfig
    );
    let ns = Namespace::new(k, "e2e-load");
    let n = ns.name.clone();
    let client = k.client().await;
    let pods = Arc::new(PodRunner::start(&client, &n));
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    let served: Vec<Served> = eventually(T, "two classifier pods served", || {
        let s = pods.served();
        (s.len() == 2).then(|| s.into_values().collect())
    })
    .await;
    for s in &served {
        assert!(s.ip.starts_with(&format!("{POD_NET}.")), "{s:?}");
        // (the server loads its model before it listens)
        eventually(T, "the server answers", || {
            std::net::TcpStream::connect(format!("{}:{}", s.ip, s.port))
                .ok()
                .map(|_| ())
        })
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("infer.json");
    std::fs::write(&body, support::traffic::infer_body()).unwrap();
    let body = body.to_string_lossy().into_owned();
    let urls: Vec<String> = served
        .iter()
        .map(|s| format!("http://{}:{}/v2/models/demo-classifier/infer", s.ip, s.port))
        .collect();
    let mut common: Vec<&str> = Vec::new();
    for u in &urls {
        common.extend(["--url", u.as_str()]);
    }
    common.extend(["--body", body.as_str(), "--in-cluster", "--workers", "2"]);

    // the console's Roles as shipped: the viewer may not start a run, the operator may
    let rbac = concat!(env!("CARGO_MANIFEST_DIR"), "/serving/deploy/k8s/rbac");
    k.kubectl(&["apply", "-n", &n, "-k", rbac]);
    for role in ["tractor-viewer", "tractor-operator"] {
        k.kubectl(&[
            "create",
            "rolebinding",
            role,
            "-n",
            &n,
            "--role",
            role,
            "--user",
            role,
        ]);
    }
    let viewer = k.user_kubeconfig("tractor-viewer");
    let operator = k.user_kubeconfig("tractor-operator");
    let json = dir.path().join("viewer.json");
    let mut args = common.clone();
    args.extend(["--rate", "10", "--duration", "2s"]);
    let (code, _, err) = finish(spawn_loadtest(&viewer, &n, &args, &json), &json);
    assert_eq!(code, 5, "forbidden: {err}");
    assert!(
        err.contains("creating a Job in namespace") && err.contains("tractor-operator"),
        "{err}"
    );
    // a read-only console refuses before it asks
    let mut ro = vec!["--read-only", "loadtest"];
    ro.extend(args.iter().copied());
    let out = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("--kubeconfig")
        .arg(&operator)
        .args(["-n", &n])
        .args(&ro)
        .arg("--no-tui")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(jobs(k, &n).trim(), "", "no Job from a refused run");

    // 1. a clean run, as the operator: every request the workers sent is one the servers
    // counted
    let before = counted(&served);
    let json = dir.path().join("clean.json");
    let mut args = common.clone();
    args.extend(["--rate", "100", "--duration", "5s"]);
    let child = spawn_loadtest(&operator, &n, &args, &json);
    let (code, v, err) = finish(child, &json);
    eprintln!("--- a clean in-cluster run ---\n{err}");
    assert_eq!(code, 0, "{err}");
    let after = counted(&served);
    let requests = v["requests"].as_u64().unwrap();
    assert_eq!(
        requests,
        after - before,
        "merged totals vs the servers' counters: {v}"
    );
    assert!((400..=600).contains(&requests), "{v}");
    assert_eq!(v["statuses"]["200"].as_u64(), Some(requests), "{v}");
    let workers = v["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{v}");
    for w in workers {
        assert_eq!(w["state"], "done", "{w}");
        assert!(w["sent"].as_u64().unwrap() > 150, "{w}");
    }
    assert_eq!(
        workers
            .iter()
            .map(|w| w["sent"].as_u64().unwrap())
            .sum::<u64>(),
        v["sent"].as_u64().unwrap()
    );
    assert!(err.contains("worker") && err.contains("done"), "{err}");
    assert_eq!(jobs(k, &n).trim(), "", "the Job is deleted after the run");

    // 2. a worker killed mid-run is reported as lost, and the run says its totals are partial
    let json = dir.path().join("killed.json");
    let mut args = common.clone();
    args.extend(["--rate", "100", "--duration", "20s"]);
    let child = spawn_loadtest(&k.kubeconfig, &n, &args, &json);
    let before = counted(&served);
    eventually(T, "both workers sending", || {
        (pods.workers().len() == 2 && counted(&served) > before + 200).then_some(())
    })
    .await;
    let victim = pods.workers()[1].clone();
    assert!(pods.kill_worker(&victim));
    let (code, v, err) = finish(child, &json);
    eprintln!("--- a worker killed mid-run ---\n{err}");
    assert_eq!(code, 1, "a partial run fails: {err}");
    let lost: Vec<&Value> = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"].as_str().unwrap().starts_with("lost"))
        .collect();
    assert_eq!(lost.len(), 1, "{v}");
    assert_eq!(lost[0]["pod"], victim.as_str(), "{v}");
    assert!(
        lost[0]["sent"].as_u64().unwrap() > 50,
        "its counts stay: {v}"
    );
    assert!(
        v["partial"].as_str().unwrap().contains("1 of 2 workers"),
        "{v}"
    );
    assert!(err.contains("1 of 2 workers failed or were lost"), "{err}");
    assert_eq!(
        jobs(k, &n).trim(),
        "",
        "the Job is deleted after a partial run"
    );

    // 3. Ctrl-C stops the workers and deletes the Job
    let json = dir.path().join("stopped.json");
    let mut args = common.clone();
    args.extend(["--rate", "50", "--duration", "60s"]);
    let child = spawn_loadtest(&k.kubeconfig, &n, &args, &json);
    let before = counted(&served);
    eventually(T, "the workers sending", || {
        (counted(&served) > before + 100).then_some(())
    })
    .await;
    let stopped_at = Instant::now();
    // SAFETY: kill(2) on our own child's pid
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (code, v, err) = finish(child, &json);
    assert!(stopped_at.elapsed() < Duration::from_secs(20), "{err}");
    assert_eq!(code, 0, "{err}");
    assert!(v["duration_s"].as_f64().unwrap() < 30.0, "{v}");
    for w in v["workers"].as_array().unwrap() {
        assert_eq!(w["state"], "done", "{w}");
    }
    assert_eq!(jobs(k, &n).trim(), "", "the Job is deleted on Ctrl-C");

    // 4. on the console's monitor screen beside the deployment: the merged run and the
    // worker table live; `q` stops the workers and deletes the Job before the shell is back
    let t = support::tmux::Tmux::start("fleet");
    t.line(&format!(
        "{} --kubeconfig {} -n {n} --log-file {} loadtest {} --rate 50 --duration 120s --deploy deploy/classifier; echo console-\"\"exited",
        env!("CARGO_BIN_EXE_tractor"),
        operator.display(),
        dir.path().join("console.log").display(),
        common
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
    ));
    let screen = t.wait_for("Load workers (2 pods", T);
    eventually(T, "both workers running on the monitor", || {
        let s = t.screen();
        (s.matches("running").count() >= 2 && s.matches("tractor-load-").count() >= 2).then_some(())
    })
    .await;
    eprintln!(
        "--- the monitor during an in-cluster run ---\n{}",
        t.screen()
    );
    assert!(screen.contains("deploy/classifier"), "{screen}");
    assert!(
        !jobs(k, &n).trim().is_empty(),
        "the Job runs while the console shows it"
    );
    t.keys(&["q"]);
    let after = t.wait_for("console-exited", T);
    eprintln!("--- after q ---\n{after}");
    assert!(
        after.contains("stopping the load workers and deleting their Job"),
        "{after}"
    );
    assert!(!after.contains("was not deleted"), "{after}");
    // deleted (background propagation: the Job goes at once, its pods after it)
    eventually(
        Duration::from_secs(10),
        "quitting the console deletes the Job",
        || jobs(k, &n).trim().is_empty().then_some(()),
    )
    .await;

    // 5. quitting while the workers wait on answers that never come: the run is slower to
    // stop (it drains for --timeout) than quitting waits, so the console deletes the Job
    // itself instead of leaving it to its deadline
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/v2/health/live", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        // accepted and held open, never answered
        let held: Vec<_> = silent
            .incoming()
            .map_while(Result::ok)
            .take(10_000)
            .collect();
        drop(held);
    });
    let t = support::tmux::Tmux::start("fleet-quit");
    t.line(&format!(
        "{} --kubeconfig {} -n {n} loadtest --url {silent_url} --in-cluster --workers 2 --rate 20 --duration 120s --timeout 60s; echo console-\"\"exited",
        env!("CARGO_BIN_EXE_tractor"),
        operator.display(),
    ));
    t.wait_for("Load workers (2 pods", T);
    eventually(T, "both workers running on the monitor", || {
        let s = t.screen();
        (s.matches("running").count() >= 2 && s.matches("tractor-load-").count() >= 2).then_some(())
    })
    .await;
    let quit_at = Instant::now();
    t.keys(&["q"]);
    let after = t.wait_for("console-exited", T);
    eprintln!("--- q while requests hang ---\n{after}");
    assert!(
        after.contains("the workers did not stop within 15s")
            && after.contains("deleted Job tractor-load-"),
        "{after}"
    );
    assert!(
        quit_at.elapsed() < Duration::from_secs(40),
        "quitting is bounded: {:?}",
        quit_at.elapsed()
    );
    eventually(
        Duration::from_secs(10),
        "the console deleted the Job itself",
        || jobs(k, &n).trim().is_empty().then_some(()),
    )
    .await;
    drop(pods);
}
