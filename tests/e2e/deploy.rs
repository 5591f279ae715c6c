//! End-to-end: the shipped deployment files (serving/deploy) on the real control plane.
//! The kustomize overlays and the Helm chart render, pass a server-side dry run, apply
//! for real and are rolled out and back with the console's CLI; the console's Roles
//! (tractor-viewer, tractor-operator) are exactly enough: the operator can do every
//! action and nothing more, the viewer can write nothing.
use crate::support;

use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use support::cli::tractor_cmd;
use support::cluster::{Cluster, Namespace, cluster, record_timing};

fn deploy(path: &str) -> String {
    format!("{}/serving/deploy/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// `tractor ... -o json` that must succeed; its JSON.
fn tractor_json(kc: &Path, dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    let (code, out, err) = tractor_cmd(kc, &a, dir);
    assert_eq!(code, 0, "tractor {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// (revision, model version, change-cause) of each revision, oldest first.
fn history(kc: &Path, dir: &Path, target: &str, ns: &str) -> Vec<(i64, String, String)> {
    let v = tractor_json(kc, dir, &["rollout", "history", target, "-n", ns]);
    v["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap(),
                r["model_version"].as_str().unwrap_or("").to_string(),
                r["change_cause"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Rolls `target` out to v2 and back to v1 with the CLI, as the on-call engineer would.
fn roll_out_and_back(k: &Cluster, kc: &Path, ns: &str, target: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = tractor_cmd(
        kc,
        &["rollout", "status", target, "-n", ns, "--timeout", "60s"],
        d,
    );
    assert_eq!(code, 0, "first rollout: {err}");
    let v = tractor_json(kc, d, &["set", "model", target, "v2", "-n", ns, "--yes"]);
    assert_eq!(
        (
            v["revision_before"].as_i64(),
            v["revision_after"].as_i64(),
            v["rollout"]["state"].as_str()
        ),
        (Some(1), Some(2), Some("complete")),
        "{v}"
    );
    let v = tractor_json(kc, d, &["rollout", "undo", target, "-n", ns, "--yes"]);
    assert_eq!(v["revision_after"].as_i64(), Some(3), "{v}");
    assert_eq!(v["rollout"]["state"], "complete", "{v}");
    let h = history(kc, d, target, ns);
    let revs: Vec<_> = h.iter().map(|(r, v, _)| (*r, v.as_str())).collect();
    assert_eq!(revs, [(2, "v2"), (3, "v1")], "{h:?}");
    // the running pods are revision 3's and carry v1
    let name = target.trim_start_matches("deploy/");
    let labels = k.kubectl(&[
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        &format!("app.kubernetes.io/name=tractor-serve,app.kubernetes.io/instance={name}"),
        "-o",
        "jsonpath={range .items[*]}{.metadata.labels.tractor\\.dev/model-version}{\"\\n\"}{end}",
    ]);
    assert!(
        !labels.trim().is_empty() && labels.lines().all(|l| l == "v1"),
        "{labels}"
    );
}

#[test]
fn kustomize_overlays_dry_run_apply_and_roll_out_and_back() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-kustomize");
    let n = ns.name.clone();
    for overlay in ["k8s/overlays/production", "k8s/overlays/dev"] {
        let out = k.kubectl(&[
            "apply",
            "--dry-run=server",
            "-n",
            &n,
            "-k",
            &deploy(overlay),
        ]);
        for kind in [
            "deployment.apps/tractor-serve",
            "service/tractor-serve",
            "horizontalpodautoscaler.autoscaling/tractor-serve",
            "poddisruptionbudget.policy/tractor-serve",
            "serviceaccount/tractor-serve",
            "configmap/tractor-serve-config-",
        ] {
            assert!(out.contains(kind), "{overlay}: {kind} missing in {out}");
        }
    }
    k.kubectl(&["apply", "-n", &n, "-k", &deploy("k8s/overlays/dev")]);
    // the API accepted what the files say (defaults applied, nothing dropped)
    let d: Value = serde_json::from_str(&k.kubectl(&[
        "get",
        "deploy",
        "tractor-serve",
        "-n",
        &n,
        "-o",
        "json",
    ]))
    .unwrap();
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 35);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["lifecycle"]["preStop"]["sleep"]["seconds"], 5);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["startupProbe"]["httpGet"]["path"], "/v2/health/live");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/v2/health/ready");
    assert_eq!(c["image"], "tractor-serve:demo-classifier-v1");
    let hpa: Value =
        serde_json::from_str(&k.kubectl(&["get", "hpa", "tractor-serve", "-n", &n, "-o", "json"]))
            .unwrap();
    let metrics = hpa["spec"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 1, "dev: CPU only: {metrics:?}");
    assert_eq!(
        hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        300
    );

    roll_out_and_back(k, &k.kubeconfig, &n, "deploy/tractor-serve");
    record_timing(
        "kustomize_overlays_dry_run_apply_and_roll_out_and_back",
        started,
    );
}

#[test]
fn helm_chart_lints_renders_applies_and_rolls_out_and_back() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-helm");
    let n = ns.name.clone();
    let chart = deploy("chart");
    let lint = k.helm(&["lint", "--strict", &chart]);
    assert!(lint.contains("0 chart(s) failed"), "{lint}");
    // every optional part renders and passes the API's validation
    let all = k.helm(&[
        "template",
        "tractor-serve",
        &chart,
        "-n",
        &n,
        "--set",
        "autoscaling.targetInflightPerPod=4",
        "--set",
        "ingress.enabled=true",
        "--set",
        "ingress.hosts[0].host=models.example.test",
        "--set",
        "ingress.hosts[0].paths[0].path=/",
        "--set",
        "ingress.hosts[0].paths[0].pathType=Prefix",
        "--set",
        "existingSecret=model-credentials",
    ]);
    let out = k.kubectl_stdin(
        &["apply", "--dry-run=server", "-n", &n, "-f", "-"],
        Some(&all),
    );
    assert!(
        out.contains("ingress.networking.k8s.io/tractor-serve"),
        "{out}"
    );
    // the ServiceMonitor toggle renders one (its CRD is not on this cluster)
    let sm = k.helm(&[
        "template",
        "tractor-serve",
        &chart,
        "--set",
        "metrics.serviceMonitor.enabled=true",
    ]);
    assert!(sm.contains("kind: ServiceMonitor"), "{sm}");
    // a bad value is refused by the schema, naming it
    let bad = std::process::Command::new(k.bin.join("helm"))
        .args([
            "template",
            "x",
            &chart,
            "--set",
            "model.version=bad version",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/model/version"));

    // the defaults, for real; resources small enough for anything
    let rendered = k.helm(&["template", "tractor-serve", &chart, "-n", &n]);
    k.kubectl_stdin(
        &["apply", "--dry-run=server", "-n", &n, "-f", "-"],
        Some(&rendered),
    );
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(&rendered));
    roll_out_and_back(k, &k.kubeconfig, &n, "deploy/tractor-serve");
    record_timing(
        "helm_chart_lints_renders_applies_and_rolls_out_and_back",
        started,
    );
}

#[test]
fn operator_role_does_every_action_and_nothing_more() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-operator");
    let n = ns.name.clone();
    k.kubectl(&["apply", "-n", &n, "-k", &deploy("k8s/rbac")]);
    k.kubectl(&["apply", "-n", &n, "-k", &deploy("k8s/overlays/dev")]);
    // no HPA here: it would undo the scale below
    k.kubectl(&["delete", "hpa", "tractor-serve", "-n", &n]);
    for (user, role) in [("op", "tractor-operator"), ("viewer", "tractor-viewer")] {
        k.kubectl(&[
            "create",
            "rolebinding",
            user,
            "-n",
            &n,
            "--role",
            role,
            "--user",
            user,
        ]);
    }
    let op = k.user_kubeconfig("op");
    let viewer = k.user_kubeconfig("viewer");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // every action of the console, as the operator
    roll_out_and_back(k, &op, &n, "deploy/tractor-serve");
    let t = "deploy/tractor-serve";
    for args in [
        vec!["scale", t, "-n", &n, "--replicas", "3", "--yes"],
        vec!["rollout", "restart", t, "-n", &n, "--yes"],
        vec!["rollout", "pause", t, "-n", &n, "--yes"],
        vec!["rollout", "resume", t, "-n", &n, "--yes"],
        vec![
            "set",
            "image",
            t,
            "server=tractor-serve:demo-classifier-v2",
            "-n",
            &n,
            "--yes",
        ],
        vec![
            "rollout",
            "undo",
            t,
            "-n",
            &n,
            // revision 1 became 3 on the undo above; 2 is v2's
            "--to-revision",
            "2",
            "--yes",
        ],
    ] {
        let v = tractor_json(&op, d, &args);
        assert_eq!(v["result"], "done", "{args:?}: {v}");
    }
    // and nothing more
    // `pods/proxy` to `kubectl auth can-i` is the pod named proxy: a subresource is a flag
    let can = |kc: &Path, verb: &str, what: &str| {
        let mut args = vec!["auth", "can-i", verb];
        match what.split_once('/') {
            Some((resource, sub)) => args.extend([resource, "--subresource", sub]),
            None => args.push(what),
        }
        args.extend(["-n", &n]);
        let (_, out, _) = k.kubectl_as(kc, &args);
        out.trim().to_string()
    };
    for (verb, what, want) in [
        ("patch", "deployments", "yes"),
        ("get", "pods/proxy", "yes"),
        ("get", "pods/log", "yes"),
        ("watch", "horizontalpodautoscalers.autoscaling", "yes"),
        // a canary creates NAME-canary and deletes it at the end
        ("delete", "deployments", "yes"),
        ("create", "deployments", "yes"),
        // an in-cluster load test creates its Job, starts its workers through the proxy
        // and deletes the Job
        ("create", "jobs.batch", "yes"),
        ("delete", "jobs.batch", "yes"),
        ("create", "pods/proxy", "yes"),
        ("patch", "jobs.batch", "no"),
        ("update", "deployments", "no"),
        ("deletecollection", "deployments", "no"),
        ("patch", "replicasets", "no"),
        ("delete", "pods", "no"),
        ("get", "secrets", "no"),
        ("get", "configmaps", "no"),
        ("create", "pods/exec", "no"),
        ("patch", "horizontalpodautoscalers.autoscaling", "no"),
    ] {
        assert_eq!(can(&op, verb, what), want, "operator {verb} {what}");
    }
    for (verb, what, want) in [
        ("list", "deployments", "yes"),
        ("get", "pods/proxy", "yes"),
        ("get", "pods/log", "yes"),
        ("watch", "jobs.batch", "yes"),
        ("create", "jobs.batch", "no"),
        ("create", "pods/proxy", "no"),
        ("patch", "deployments", "no"),
        ("get", "secrets", "no"),
    ] {
        assert_eq!(can(&viewer, verb, what), want, "viewer {verb} {what}");
    }
    // the viewer's write is refused by the API with the Forbidden message (exit 5)
    let (code, _, err) = tractor_cmd(&viewer, &["set", "model", t, "v3", "-n", &n, "--yes"], d);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("forbidden") || err.contains("Forbidden"),
        "{err}"
    );
    record_timing("operator_role_does_every_action_and_nothing_more", started);
}
