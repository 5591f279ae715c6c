//! End-to-end: `tractor logs` on the real control plane. kwok serves `pods/log` from the
//! files a `ClusterLogs` object names (CRI lines, followed as they grow): every pod's lines
//! with its prefix, JSON, --grep and --tail, -f with a line appended and pods joining and
//! leaving as the deployment scales, --previous after a crash (a status with a terminated
//! last run), and the errors a person can make.
use crate::support;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::tractor_cmd;
use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::kwok_logs::{ClusterLogs, append};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: server, image: tractor-serve:test}]
"#;

fn running_pods(k: &support::cluster::Cluster, n: &str) -> Vec<String> {
    let out = k.kubectl(&[
        "get",
        "pods",
        "-n",
        n,
        "-l",
        "app=web",
        "--field-selector=status.phase=Running",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    // not those on their way out (a deletion timestamp after the name)
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let (name, deleting) = l.split_once(' ').unwrap_or((l, ""));
            (!name.is_empty() && deleting.trim().is_empty()).then(|| name.to_string())
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_of_every_pod_follow_join_leave_and_previous() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-logs");
    let n = ns.name.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let current = d.join("current.log");
    let previous = d.join("previous.log");
    append(
        &current,
        &["listening on 0.0.0.0:8080", "model classifier v1 loaded"],
    );
    append(&previous, &["panic: out of memory while loading the model"]);
    let _logs = ClusterLogs::apply(k, &n, &current, &previous);
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(DEPLOYMENT));
    let kc = &k.kubeconfig;
    let pods = eventually(Duration::from_secs(60), "two running pods", || {
        let p = running_pods(k, &n);
        (p.len() == 2).then_some(p)
    })
    .await;

    // every pod's lines, as JSON
    let (code, out, err) = tractor_cmd(kc, &["logs", "deploy/web", "-n", &n, "-o", "json"], d);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    for p in &pods {
        let texts: Vec<&str> = lines
            .iter()
            .filter(|l| l["pod"] == p.as_str())
            .map(|l| l["line"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            ["listening on 0.0.0.0:8080", "model classifier v1 loaded"],
            "{p}: {out}"
        );
    }
    assert!(
        lines
            .iter()
            .all(|l| l["revision"] == 1 && l["container"] == "server" && l["time"].is_string()),
        "{out}"
    );

    // plain: the pod in front; --grep and --tail
    let (code, out, _) = tractor_cmd(
        kc,
        &["logs", "deploy/web", "-n", &n, "--grep", "v[0-9] loaded"],
        d,
    );
    assert_eq!(code, 0);
    let want: Vec<String> = pods
        .iter()
        .map(|p| format!("{p} model classifier v1 loaded"))
        .collect();
    let mut got: Vec<String> = out.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, want, "{out}");
    let (_, out, _) = tractor_cmd(
        kc,
        &[
            "logs",
            "deploy/web",
            "-n",
            &n,
            "--tail",
            "1",
            "--pod",
            &pods[0],
        ],
        d,
    );
    assert_eq!(
        out.trim(),
        format!("{} model classifier v1 loaded", pods[0])
    );

    // -f: a new line reaches every pod's stream; a pod that starts joins, pods that go leave
    let mut child = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("--kubeconfig")
        .arg(kc)
        .args(["--log-file"])
        .arg(d.join("follow.log"))
        .args(["logs", "deploy/web", "-n", &n, "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let seen = seen.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                seen.lock().unwrap().push(l);
            }
        });
    }
    let count = |s: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(s))
            .count()
    };
    let wait = Duration::from_secs(60);
    eventually(wait, "both pods' lines", || {
        (count("v1 loaded") == 2).then_some(())
    })
    .await;
    append(&current, &["request served in 3 ms"]);
    eventually(wait, "the appended line from both pods", || {
        (count("request served in 3 ms") == 2).then_some(())
    })
    .await;
    k.kubectl(&["scale", "deploy/web", "-n", &n, "--replicas", "3"]);
    let third = eventually(wait, "a third pod", || {
        running_pods(k, &n).into_iter().find(|p| !pods.contains(p))
    })
    .await;
    eventually(wait, "the third pod joins", || {
        (count(&format!("{third} listening on 0.0.0.0:8080")) == 1
            && count(&format!("{third} request served in 3 ms")) == 1)
            .then_some(())
    })
    .await;
    assert_eq!(count(&format!("+ {third} server")), 1);
    k.kubectl(&["scale", "deploy/web", "-n", &n, "--replicas", "1"]);
    eventually(wait, "two pods leave", || {
        (seen
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("- "))
            .count()
            == 2)
            .then_some(())
    })
    .await;
    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::read_to_string(d.join("follow.log"));

    // --previous: the pod whose container died shows what it printed before
    let pod = running_pods(k, &n).remove(0);
    let status = k.kubectl(&["get", "pod", &pod, "-n", &n, "-o", "json"]);
    let mut v: Value = serde_json::from_str(&status).unwrap();
    let cs = &mut v["status"]["containerStatuses"];
    cs[0]["restartCount"] = 1.into();
    cs[0]["lastState"] = serde_json::json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
        "startedAt": "2026-12-01T00:00:00Z", "finishedAt": "2026-12-01T00:01:00Z"}});
    let patch = serde_json::json!({"status": {"containerStatuses": cs.clone()}}).to_string();
    k.kubectl(&[
        "patch",
        "pod",
        &pod,
        "-n",
        &n,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
    let (code, out, err) = tractor_cmd(kc, &["logs", "deploy/web", "-n", &n, "--previous"], d);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("{pod} (previous) panic: out of memory while loading the model")
    );

    // what a person gets wrong is named, with what exists
    for (args, code_want, frag) in [
        (
            vec!["--revision", "9"],
            2,
            "has no revision 9 (its revisions: 1)",
        ),
        (
            vec!["--pod", "web-nope"],
            2,
            "pod web-nope is not one of deploy/web's pods",
        ),
        (vec!["--grep", "(unclosed"], 2, "--grep"),
    ] {
        let mut a = vec!["logs", "deploy/web", "-n", n.as_str()];
        a.extend(args.iter().copied());
        let (code, _, err) = tractor_cmd(kc, &a, d);
        assert_eq!(code, code_want, "{args:?}: {err}");
        assert!(err.contains(frag), "{args:?}: {err}");
    }
    let (code, _, err) = tractor_cmd(kc, &["logs", "deploy/nope", "-n", &n], d);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("deploy/nope not found in namespace"), "{err}");
    record_timing("logs_of_every_pod_follow_join_leave_and_previous", started);
}
