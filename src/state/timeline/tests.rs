use super::*;
use crate::config::Config;
use crate::event::Object;
use crate::metrics::histogram::Bucket;
use crate::scrape::PodMetrics;
use crate::state::PodScrape;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn state(now: i64) -> State {
    let mut c = Config::defaults();
    c.scrape.interval_ms = 1000;
    State::new(c, "ctx".into(), "me".into(), at(now))
}

fn deployment(revision: i64, replicas: i32, version: &str) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "clf", "namespace": "ml",
            "annotations": {"deployment.kubernetes.io/revision": revision.to_string()}},
        "spec": {"replicas": replicas, "selector": {},
            "template": {"metadata": {"labels": {"tractor.dev/model-version": version}}}},
        "status": {"readyReplicas": replicas}
    }))
    .unwrap()
}

fn rs(name: &str, revision: i64) -> ReplicaSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "ml",
            "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "clf", "uid": "u"}]},
        "spec": {"selector": {}}
    }))
    .unwrap()
}

fn pod(name: &str, owner: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "ml",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": "u"}]}
    }))
    .unwrap()
}

/// Two scrapes `secs` apart: `n` requests, all under 10 ms, version `v`.
fn scraped(t1: i64, secs: i64, n: f64, v: &str) -> PodScrape {
    let m = |count: f64| PodMetrics {
        version: Some(v.into()),
        latency: vec![
            Bucket { le: 0.01, count },
            Bucket {
                le: f64::INFINITY,
                count,
            },
        ],
        requests: count,
        ..PodMetrics::default()
    };
    PodScrape {
        prev: Some((at(t1 - secs), m(0.0))),
        last: Some((at(t1), m(n))),
        error: None,
    }
}

#[test]
fn markers_for_new_revisions_and_replica_counts() {
    let t = at(100);
    assert!(changes(&deployment(1, 2, "v1"), &deployment(1, 2, "v1"), t).is_empty());
    let m = changes(&deployment(1, 2, "v1"), &deployment(2, 2, "v2"), t);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].kind, MarkerKind::Rollout);
    assert_eq!(m[0].text, "rollout → rev 2 (v2)");
    let m = changes(&deployment(2, 2, "v2"), &deployment(3, 4, "v1"), t);
    let texts: Vec<&str> = m.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["rollout → rev 3 (v1)", "scale 2 → 4"]);
}

#[test]
fn a_deployment_update_marks_its_timeline_only_when_something_changed() {
    let mut s = state(50);
    s.cluster
        .apply(Object::Deployment(Box::new(deployment(1, 2, "v1"))));
    on_deployment(&mut s, &deployment(1, 2, "v1"));
    assert!(s.timelines.is_empty());
    on_deployment(&mut s, &deployment(2, 2, "v2"));
    let tl = &s.timelines[&Some(("ml".to_string(), "clf".to_string()))];
    assert_eq!(tl.markers.len(), 1);
    assert_eq!(tl.markers[0].at, at(50));
}

#[test]
fn samples_group_pods_by_revision_and_urls_by_version() {
    let mut s = state(100);
    s.cluster
        .apply(Object::Deployment(Box::new(deployment(2, 3, "v2"))));
    s.cluster
        .apply(Object::ReplicaSet(Box::new(rs("clf-a", 1))));
    s.cluster
        .apply(Object::ReplicaSet(Box::new(rs("clf-b", 2))));
    for (p, owner) in [("p1", "clf-a"), ("p2", "clf-b"), ("p3", "clf-b")] {
        s.cluster.apply(Object::Pod(Box::new(pod(p, owner))));
    }
    s.scrapes
        .insert(("ml".into(), "p1".into()), scraped(99, 10, 100.0, "v1"));
    s.scrapes
        .insert(("ml".into(), "p2".into()), scraped(99, 10, 200.0, "v2"));
    s.scrapes
        .insert(("ml".into(), "p3".into()), scraped(98, 10, 300.0, "v2"));
    // a pod the cluster no longer has is left out
    s.scrapes
        .insert(("ml".into(), "gone".into()), scraped(99, 10, 999.0, "v2"));
    let url = |u: &str| (String::new(), u.to_string());
    s.scrapes.insert(
        url("http://127.0.0.1:1/metrics"),
        scraped(99, 5, 50.0, "v1"),
    );
    s.scrapes.insert(
        url("http://127.0.0.1:2/metrics"),
        scraped(99, 5, 25.0, "v1"),
    );
    // silent for far longer than 3 intervals: not part of the present
    s.scrapes.insert(
        url("http://127.0.0.1:3/metrics"),
        scraped(10, 5, 25.0, "v9"),
    );
    assert!(due(&s));
    sample(&mut s);
    assert!(!due(&s), "sampled just now");

    let d = &s.timelines[&Some(("ml".to_string(), "clf".to_string()))];
    let sm = d.samples.back().unwrap();
    let labels: Vec<&str> = sm.groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(labels, ["r2 v2", "r1 v1"], "newest revision first");
    assert_eq!(
        sm.groups[0].rps,
        Some(50.0),
        "(200 + 300) requests over 10 s"
    );
    assert_eq!(sm.groups[1].rps, Some(10.0));
    assert!(sm.groups[0].p99.is_some_and(|v| v > 0.0 && v <= 10.0));
    assert_eq!(sm.rps, Some(60.0));
    assert_eq!(
        (sm.ready, sm.wanted, sm.hpa_desired),
        (Some(3), Some(3), None)
    );

    let u = &s.timelines[&None];
    let sm = u.samples.back().unwrap();
    assert_eq!(sm.groups.len(), 1, "v9's target is stale");
    assert_eq!(sm.groups[0].label, "v1");
    assert_eq!(sm.groups[0].rps, Some(15.0));
    assert_eq!(sm.ready, None);
}

#[test]
fn a_canarys_pods_are_drawn_on_its_stables_screen_too() {
    let mut s = state(100);
    s.cluster
        .apply(Object::Deployment(Box::new(deployment(1, 2, "v1"))));
    s.cluster
        .apply(Object::ReplicaSet(Box::new(rs("clf-a", 1))));
    let mut canary = deployment(1, 1, "v3");
    canary.metadata.name = Some("clf-canary".into());
    canary.metadata.annotations.as_mut().unwrap().insert(
        crate::canary::object::CANARY_OF_ANNOTATION.into(),
        "clf".into(),
    );
    s.cluster.apply(Object::Deployment(Box::new(canary)));
    let mut crs = rs("clf-canary-c", 1);
    crs.metadata.owner_references.as_mut().unwrap()[0].name = "clf-canary".into();
    s.cluster.apply(Object::ReplicaSet(Box::new(crs)));
    for (p, owner) in [("p1", "clf-a"), ("p2", "clf-a"), ("c1", "clf-canary-c")] {
        s.cluster.apply(Object::Pod(Box::new(pod(p, owner))));
    }
    for (p, n, v) in [("p1", 100.0, "v1"), ("p2", 100.0, "v1"), ("c1", 50.0, "v3")] {
        s.scrapes
            .insert(("ml".into(), p.into()), scraped(99, 10, n, v));
    }
    sample(&mut s);
    let stable = &s.timelines[&Some(("ml".to_string(), "clf".to_string()))];
    let sm = stable.samples.back().unwrap();
    let groups: Vec<(&str, Option<f64>)> = sm
        .groups
        .iter()
        .map(|g| (g.label.as_str(), g.rps))
        .collect();
    assert_eq!(groups, [("r1 v1", Some(20.0)), ("canary v3", Some(5.0))]);
    assert_eq!(sm.rps, Some(25.0), "the traffic both answer");
    // the canary keeps its own screen as well
    let own = &s.timelines[&Some(("ml".to_string(), "clf-canary".to_string()))];
    let labels: Vec<&str> = own
        .samples
        .back()
        .unwrap()
        .groups
        .iter()
        .map(|g| g.label.as_str())
        .collect();
    assert_eq!(labels, ["r1 v3"]);
    // a deployment merely called NAME-canary, without the annotation, is not a canary
    let mut other = deployment(1, 1, "v3");
    other.metadata.name = Some("clf-canary".into());
    s.cluster.apply(Object::Deployment(Box::new(other)));
    s.now = at(102);
    sample(&mut s);
    let stable = &s.timelines[&Some(("ml".to_string(), "clf".to_string()))];
    let labels: Vec<&str> = stable
        .samples
        .back()
        .unwrap()
        .groups
        .iter()
        .map(|g| g.label.as_str())
        .collect();
    assert_eq!(labels, ["r1 v1"]);
}

#[test]
fn the_history_is_capped() {
    let mut s = state(0);
    s.config.general.history_points = 3;
    s.view = crate::state::View::Monitor(None);
    for t in 0..10 {
        s.now = at(t);
        sample(&mut s);
    }
    let tl = &s.timelines[&None];
    assert_eq!(tl.samples.len(), 3);
    assert_eq!(tl.samples.front().unwrap().at, at(7));
}
