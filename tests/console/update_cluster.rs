//! The update function fed watch deltas: resyncs, watch trouble, autoscaler history,
//! the event cap, and objects with odd or missing fields.
use crate::support;

use crossterm::event::KeyCode;
use support::{code, now, objects, render, state, state_from, typed};
use tractor::event::{AppEvent, ClusterDelta, Kind, Object, Source, SourceStatus};
use tractor::state::{View, update};

#[test]
fn resync_drops_objects_deleted_while_disconnected() {
    let mut s = state();
    assert_eq!(s.cluster.pods.len(), 7);
    let keep: Vec<Object> = support::fixture("cluster.yaml")
        .into_iter()
        .filter(
            |o| matches!(o, Object::Pod(p) if p.metadata.namespace.as_deref() == Some("staging")),
        )
        .collect();
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Pod,
                namespace: None,
            },
            objects: keep,
        }),
    );
    assert_eq!(s.cluster.pods.len(), 1);
    // a namespaced source only replaces its namespace
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Deployment,
                namespace: Some("ml".into()),
            },
            objects: vec![],
        }),
    );
    let left: Vec<_> = s.cluster.deployments.keys().map(|k| k.1.clone()).collect();
    assert_eq!(left, ["broken", "ranker"]);
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Deleted(
            Kind::Deployment,
            ("staging".into(), "broken".into()),
        )),
    );
    assert_eq!(s.cluster.deployments.len(), 1);
}

#[test]
fn watch_trouble_shows_in_the_header() {
    let mut s = state();
    let src = Source {
        kind: Kind::Pod,
        namespace: None,
    };
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Status {
            source: src.clone(),
            status: SourceStatus::Reconnecting("connection refused".into()),
        }),
    );
    assert!(
        render(&s, 160, 48)
            .lines()
            .next()
            .unwrap()
            .contains("reconnecting (1 watch)")
    );
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Status {
            source: src.clone(),
            status: SourceStatus::Live,
        }),
    );
    assert!(
        render(&s, 160, 48)
            .lines()
            .next()
            .unwrap()
            .contains("● live")
    );
    let secret = Source {
        kind: Kind::Pod,
        namespace: Some("kube-system".into()),
    };
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Status {
            source: secret,
            status: SourceStatus::Forbidden("pods is forbidden".into()),
        }),
    );
    let head = render(&s, 160, 48);
    assert!(
        head.lines()
            .next()
            .unwrap()
            .contains("no access: list pods in namespace kube-system"),
        "{head}"
    );
    // the rest keeps working
    assert!(head.contains("classifier"));
}

#[test]
fn hpa_history_records_changes_only() {
    let mut s = state();
    let k = ("ml".to_string(), "classifier".to_string());
    assert_eq!(s.hpa_history[&k].len(), 1);
    let mut h = s.cluster.hpas[&k].clone();
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Applied(Object::Hpa(Box::new(h.clone())))),
    );
    assert_eq!(s.hpa_history[&k].len(), 1, "same counts: no new point");
    h.status.as_mut().unwrap().current_replicas = Some(6);
    update(
        &mut s,
        AppEvent::Tick(
            now()
                .checked_add(jiff::SignedDuration::from_secs(30))
                .unwrap(),
        ),
    );
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Applied(Object::Hpa(Box::new(h)))),
    );
    let hist = &s.hpa_history[&k];
    assert_eq!(hist.len(), 2);
    assert_eq!((hist[1].current, hist[1].desired), (6, 6));
    assert_eq!(hist[1].at.as_second() - hist[0].at.as_second(), 30);
}

#[test]
fn events_are_capped() {
    let mut cfg = tractor::config::Config::defaults();
    cfg.general.max_events = 2;
    let mut s = tractor::state::State::new(cfg, "c".into(), "u".into(), now());
    let evs: Vec<Object> = support::fixture("cluster.yaml")
        .into_iter()
        .filter(|o| o.kind() == Kind::Event)
        .collect();
    assert_eq!(evs.len(), 4);
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Event,
                namespace: None,
            },
            objects: evs,
        }),
    );
    let reasons: Vec<_> = tractor::state::rows::events(&s)
        .iter()
        .map(|e| e.reason.clone().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["BackOff", "SuccessfulRescale"],
        "the newest two stay"
    );
}

#[test]
fn odd_objects_render_as_dashes_without_panicking() {
    let odd = objects(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare, namespace: x}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: orphan, namespace: x, annotations: {deployment.kubernetes.io/revision: "not-a-number"}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: x}
status: {containerStatuses: [{name: a, ready: false, restartCount: 2147483647, image: "", imageID: "", state: {terminated: {exitCode: 3}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: q, namespace: x}
status: {containerStatuses: [{name: a, ready: false, restartCount: 2147483647, image: "", imageID: ""}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h, namespace: x}
spec: {scaleTargetRef: {kind: Deployment, name: bare}, maxReplicas: 0, metrics: [{type: Weird}, {type: Resource, resource: {name: cpu, target: {type: Utilization}}}]}
status: {desiredReplicas: 0, currentMetrics: [{type: Resource}]}
---
apiVersion: v1
kind: Event
metadata: {name: e, namespace: x}
involvedObject: {}
"#,
    );
    let mut s = state_from(odd);
    for view in [":deploy", ":pods", ":hpa", ":events"] {
        typed(&mut s, view);
        update(&mut s, code(KeyCode::Enter));
        for (w, h) in [(160, 48), (80, 24), (20, 6)] {
            let out = render(&s, w, h);
            assert!(!out.is_empty());
        }
    }
    typed(&mut s, ":deploy");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Detail(("x".into(), "bare".into())));
    let out = render(&s, 160, 48);
    assert!(out.contains("revision: -"), "{out}");
    // the p pod: exit code shown, restarts summed without overflow
    typed(&mut s, ":pods");
    update(&mut s, code(KeyCode::Enter));
    let out = render(&s, 160, 48);
    assert!(out.contains("ExitCode:3"), "{out}");
    // the deployment vanishes while its detail is open
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Deleted(
            Kind::Deployment,
            ("x".into(), "bare".into()),
        )),
    );
    typed(&mut s, ":deploy");
    update(&mut s, code(KeyCode::Enter));
    assert!(render(&s, 80, 24).contains("Deployments [0]"));
}

/// When the scrape source covers only the deployment in view, the header says how many of
/// the serving pods it scrapes; covering all of them again takes the words away.
#[test]
fn a_scrape_limited_to_the_deployment_in_view_is_said_in_the_header() {
    use tractor::scrape::scope::ScrapeScope;
    let mut s = support::state();
    s.dirty = false;
    update(
        &mut s,
        AppEvent::ScrapeScope(ScrapeScope {
            scraped: 20,
            serving: 10_000,
        }),
    );
    assert!(s.dirty, "a new scope is drawn");
    let screen = support::render(&s, 160, 10);
    assert!(
        screen.contains("scraping 20 of 10000 serving pods: the deployment in view"),
        "{screen}"
    );
    s.dirty = false;
    update(
        &mut s,
        AppEvent::ScrapeScope(ScrapeScope {
            scraped: 20,
            serving: 10_000,
        }),
    );
    assert!(!s.dirty, "the same scope again changes nothing on screen");
    update(
        &mut s,
        AppEvent::ScrapeScope(ScrapeScope {
            scraped: 150,
            serving: 150,
        }),
    );
    assert!(!support::render(&s, 160, 10).contains("scraping"));
}
