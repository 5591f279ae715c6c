//! Scale benchmark: 10,000 pods and 500 deployments pushed through the real
//! `update` and drawn by the real views at 160×48. Prints frame times and memory.
//! Run: cargo bench -p tractor --bench scale
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: a failed unwrap is a failed test
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tractor::config::Config;
use tractor::event::{AppEvent, ClusterDelta, Kind, Object, Source};
use tractor::state::{State, update};

const NAMESPACES: usize = 20;
const DEPLOYMENTS: usize = 500;
const PODS_PER: usize = 20;
const HPAS: usize = 100;
const EVENTS: usize = 2000;

fn deployment(ns: &str, name: &str, rev: usize) -> Object {
    Object::Deployment(Box::new(serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}"), "generation": rev,
            "creationTimestamp": "2026-11-20T00:00:00Z", "labels": {"app": name, "team": "ml"},
            "annotations": {"deployment.kubernetes.io/revision": rev.to_string(), "kubernetes.io/change-cause": format!("tractor set model deploy/{name} v{rev}")}},
        "spec": {"replicas": PODS_PER, "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": name, "tractor.dev/model-version": format!("v{rev}")}},
              "spec": {"containers": [{"name": "server", "image": "tractor-serve:0.1.0",
                "args": ["--port", "8080"], "env": [{"name": "TRACTOR_SERVE_MODEL_VERSION", "value": format!("v{rev}")}],
                "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8080}}}]}}},
        "status": {"observedGeneration": rev, "replicas": PODS_PER, "updatedReplicas": PODS_PER, "readyReplicas": PODS_PER, "availableReplicas": PODS_PER,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                           {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
    })).unwrap()))
}

fn replicaset(ns: &str, dep: &str, rev: usize, replicas: usize) -> Object {
    Object::ReplicaSet(Box::new(serde_json::from_value(json!({
        "metadata": {"name": format!("{dep}-{rev:09x}"), "namespace": ns, "creationTimestamp": "2026-11-20T00:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": rev.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dep, "uid": format!("uid-{ns}-{dep}"), "controller": true}]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": dep}},
            "template": {"metadata": {"labels": {"app": dep, "tractor.dev/model-version": format!("v{rev}")}},
              "spec": {"containers": [{"name": "server", "image": "tractor-serve:0.1.0"}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas}
    })).unwrap()))
}

fn pod(ns: &str, dep: &str, rev: usize, i: usize, restarts: i32) -> Object {
    let state = if i.is_multiple_of(97) {
        json!({"waiting": {"reason": "CrashLoopBackOff"}})
    } else {
        json!({"running": {"startedAt": "2026-11-20T00:00:10Z"}})
    };
    Object::Pod(Box::new(serde_json::from_value(json!({
        "metadata": {"name": format!("{dep}-{rev:09x}-{i:05}"), "namespace": ns, "creationTimestamp": "2026-11-20T00:00:05Z",
            "labels": {"app": dep, "pod-template-hash": format!("{rev:09x}")},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{dep}-{rev:09x}"), "uid": "x", "controller": true}]},
        "spec": {"nodeName": format!("kwok-node-{}", i % 50), "containers": [{"name": "server", "image": "tractor-serve:0.1.0",
            "resources": {"requests": {"cpu": "500m"}}}]},
        "status": {"phase": "Running", "podIP": format!("127.1.{}.{}", i / 250, i % 250 + 1),
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
            "containerStatuses": [{"name": "server", "ready": !i.is_multiple_of(97), "restartCount": restarts, "image": "tractor-serve:0.1.0", "imageID": "", "state": state}]}
    })).unwrap()))
}

fn hpa(ns: &str, dep: &str) -> Object {
    Object::Hpa(Box::new(serde_json::from_value(json!({
        "metadata": {"name": dep, "namespace": ns, "creationTimestamp": "2026-11-20T00:00:00Z"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": dep}, "minReplicas": 2, "maxReplicas": 40,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                        {"type": "Pods", "pods": {"metric": {"name": "tractor_inflight_requests"}, "target": {"type": "AverageValue", "averageValue": "4"}}}]},
        "status": {"currentReplicas": PODS_PER, "desiredReplicas": PODS_PER,
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 58}}},
                               {"type": "Pods", "pods": {"metric": {"name": "tractor_inflight_requests"}, "current": {"averageValue": "3"}}}]}
    })).unwrap()))
}

fn event(ns: &str, i: usize) -> Object {
    Object::Event(Box::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("ev-{i}"), "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": format!("pod-{i}"), "namespace": ns},
            "reason": "BackOff", "type": if i.is_multiple_of(3) { "Warning" } else { "Normal" },
            "message": "Back-off restarting failed container server", "count": i % 9 + 1,
            "lastTimestamp": Timestamp::from_second(1_795_000_000 + i as i64).unwrap().to_string()
        }))
        .unwrap(),
    ))
}

fn rss_mb() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn key(code: KeyCode) -> AppEvent {
    AppEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    (mean, ms(v[v.len() * 99 / 100]), ms(v[v.len() - 1]))
}

fn main() {
    let (rss0, _) = rss_mb();
    let mut s = State::new(
        Config::defaults(),
        "bench".into(),
        "bench".into(),
        "2026-11-22T00:00:00Z".parse().unwrap(),
    );
    let mut deps = Vec::new();
    let mut rss = Vec::new();
    let mut pods = Vec::new();
    let mut hpas = Vec::new();
    let mut events = Vec::new();
    for d in 0..DEPLOYMENTS {
        let ns = format!("team-{:02}", d % NAMESPACES);
        let name = format!("model-{d:04}");
        deps.push(deployment(&ns, &name, 2));
        rss.push(replicaset(&ns, &name, 1, 0));
        rss.push(replicaset(&ns, &name, 2, PODS_PER));
        for i in 0..PODS_PER {
            pods.push(pod(&ns, &name, 2, d * PODS_PER + i, (i % 3) as i32));
        }
        if d < HPAS {
            hpas.push(hpa(&ns, &name));
        }
    }
    for i in 0..EVENTS {
        events.push(event(&format!("team-{:02}", i % NAMESPACES), i));
    }
    let counts = (deps.len(), rss.len(), pods.len(), hpas.len(), events.len());
    let t = Instant::now();
    for (kind, objects) in [
        (Kind::Deployment, deps),
        (Kind::ReplicaSet, rss),
        (Kind::Pod, pods),
        (Kind::Hpa, hpas),
        (Kind::Event, events),
    ] {
        update(
            &mut s,
            AppEvent::Kube(ClusterDelta::Resynced {
                source: Source {
                    kind,
                    namespace: None,
                },
                objects,
            }),
        );
    }
    let load = t.elapsed();
    // steady watch traffic: one pod update at a time through update()
    let mut upd = Vec::new();
    for i in 0..2000 {
        let o = pod("team-00", "model-0000", 2, i % PODS_PER, (i % 7) as i32);
        let t = Instant::now();
        update(&mut s, AppEvent::Kube(ClusterDelta::Applied(o)));
        upd.push(t.elapsed());
    }

    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let theme = tractor::ui::Theme::from_config(&s.config.theme);
    let mut frame = |s: &State, n: usize| {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            term.draw(|f| tractor::ui::draw(s, f, &theme)).unwrap();
            v.push(t.elapsed());
        }
        stats(v)
    };
    let mut rows = Vec::new();
    let n = 60;
    rows.push(("deployments (500)", frame(&s, n)));
    update(&mut s, key(KeyCode::End));
    rows.push(("deployments, cursor at the end", frame(&s, n)));
    update(&mut s, key(KeyCode::Enter));
    rows.push(("detail of one deployment", frame(&s, n)));
    for c in ":pods".chars() {
        update(&mut s, key(KeyCode::Char(c)));
    }
    update(&mut s, key(KeyCode::Enter));
    rows.push(("pods (10,000)", frame(&s, n)));
    for c in "/crash".chars() {
        update(&mut s, key(KeyCode::Char(c)));
    }
    update(&mut s, key(KeyCode::Enter));
    rows.push(("pods filtered /crash", frame(&s, n)));
    for c in ":hpa".chars() {
        update(&mut s, key(KeyCode::Char(c)));
    }
    update(&mut s, key(KeyCode::Enter));
    rows.push(("hpas + explainer", frame(&s, n)));
    for c in ":events".chars() {
        update(&mut s, key(KeyCode::Char(c)));
    }
    update(&mut s, key(KeyCode::Enter));
    rows.push(("events (2,000)", frame(&s, n)));

    let (rss_now, hwm) = rss_mb();
    println!(
        "tractor scale benchmark: {} deployments, {} ReplicaSets, {} pods, {} HPAs, {} events",
        counts.0, counts.1, counts.2, counts.3, counts.4
    );
    println!(
        "initial lists through update(): {:.1} ms",
        load.as_secs_f64() * 1e3
    );
    let (um, up99, umax) = stats(upd);
    println!(
        "one pod update through update(): mean {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        um, up99, umax
    );
    println!();
    println!("| view at 160×48 | mean ms/frame | p99 ms | max ms |");
    println!("|---|---|---|---|");
    let mut worst: f64 = 0.0;
    for (name, (mean, p99, max)) in &rows {
        println!("| {name} | {mean:.2} | {p99:.2} | {max:.2} |");
        worst = worst.max(*p99);
    }
    println!();
    println!("memory: {rss_now:.0} MB resident now, {hwm:.0} MB peak (process start {rss0:.0} MB)");
    println!(
        "goals: frame < 10 ms: {} (worst p99 {worst:.2} ms); resident < 200 MB: {} (peak {hwm:.0} MB)",
        if worst < 10.0 { "met" } else { "MISSED" },
        if hwm < 200.0 { "met" } else { "MISSED" }
    );
}
